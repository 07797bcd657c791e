"""Line-per-event logging for every process of a run.

Each line: `2026-11-23T11:22:33.123+0000 W0 INFO worker.loop job=X account=Y step=post: message`.
Lines are flushed as they are written (operators tail these files while a run is going), and every
registered secret is replaced by `***` before a line reaches any handler.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context", default={})  # noqa: B039
_CONTEXT_KEYS = ("job", "account", "step")


class _Secrets:
    """The set of strings that must never be written; shared by every handler of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        if not value or len(value) < 4:
            return  # masking "1" or "" would mangle every line
        with self._lock:
            if value not in self._values:
                self._values = tuple(sorted({*self._values, value}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text


_SECRETS = _Secrets()


def register_secret(value: str | None) -> None:
    """Never let `value` appear in any log line of this process."""
    if value:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***` (for reports and error files too)."""
    return _SECRETS.redact(text)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `job=`, `account=`, `step=` (or any field) to every record logged inside the block."""
    merged = {**_CONTEXT.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class EventFormatter(logging.Formatter):
    """One line per event, timestamp with offset, process tag, context fields; newlines escaped."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).astimezone()
        ts = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}" + stamp.strftime("%z")
        context = _CONTEXT.get()
        fields = " ".join(f"{k}={context[k]}" for k in (*_CONTEXT_KEYS, *sorted(context)) if k in context)
        fields = " ".join(dict.fromkeys(fields.split()))  # keep order, drop repeats
        message = record.getMessage()
        if record.exc_info:
            message += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        line = f"{ts} {self.tag} {record.levelname} {record.name}"
        if fields:
            line += f" {fields}"
        line = f"{line}: {message}"
        return redact(line.replace("\r", "\\r").replace("\n", "\\n"))


class FlushingFileHandler(logging.FileHandler):
    """A file handler that flushes after every line (StreamHandler does; this makes it explicit)."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        self.flush()


def setup_process_logging(
    log_file: Path | None, tag: str, *, level: int = logging.INFO, console: bool = False
) -> None:
    """Configure the root logger of this process: a flushed file (appended) and/or the console."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = EventFormatter(tag)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = FlushingFileHandler(log_file, encoding="utf-8", delay=False)
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)
    root.setLevel(level)
    # Third-party chatter (urllib3 retries, selenium wire logs) would drown the events and may echo URLs.
    for noisy in ("urllib3", "selenium", "filelock", "appium"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def job_dir(logs_dir: Path, job_id: str) -> Path:
    """The folder of one job's evidence (attempt logs, screenshots, page sources, session records).

    The one place that names it: the worker writes there, `--status` and the batch report point
    there. Job ids are made file-name safe (`clip_10@phone2` -> `clip_10_phone2`).
    """
    return logs_dir / "jobs" / (_UNSAFE_IN_NAMES.sub("_", job_id) or "_")
