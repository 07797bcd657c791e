"""One job attempt's own log file, and the evidence a failed attempt leaves beside it.

    logs/jobs/<job_id>/attempt_<n>.log                 every log line of the worker during the attempt
    logs/jobs/<job_id>/attempt_<n>.screenshot.png      the screen at the moment of failure
    logs/jobs/<job_id>/attempt_<n>.page_source.xml     the UI hierarchy at the moment of failure

Secrets registered with runtime.logs are redacted from the page source too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from runtime.logs import EventFormatter, FlushingFileHandler, job_dir, redact
from worker.classify import describe

log = logging.getLogger(__name__)


class AttemptLog:
    """Context manager: while open, every log record of the process also goes to the attempt log."""

    def __init__(self, logs_dir: Path, job_id: str, *, attempt: int, tag: str) -> None:
        self.folder = job_dir(logs_dir, job_id)
        self.attempt = attempt
        while (self.folder / f"attempt_{self.attempt}.log").exists():
            self.attempt += 1  # a released attempt did not count: do not overwrite its log
        self.path = self.folder / f"attempt_{self.attempt}.log"
        self.tag = tag
        self._handler: logging.Handler | None = None

    def __enter__(self) -> AttemptLog:
        self.folder.mkdir(parents=True, exist_ok=True)
        handler = FlushingFileHandler(self.path, encoding="utf-8")
        handler.setFormatter(EventFormatter(self.tag))
        logging.getLogger().addHandler(handler)
        self._handler = handler
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def capture(self, driver: Any) -> list[Path]:
        """Save the screenshot and page source of `driver`; returns what was written. A session
        that is already dead yields nothing (logged), never an exception."""
        written: list[Path] = []
        shot = self.folder / f"attempt_{self.attempt}.screenshot.png"
        source = self.folder / f"attempt_{self.attempt}.page_source.xml"
        try:
            shot.write_bytes(driver.get_screenshot_as_png())
            written.append(shot)
            source.write_text(redact(driver.page_source), encoding="utf-8")
            written.append(source)
        except Exception as exc:
            log.warning("evidence capture incomplete (%s)", describe(exc))
        return written
