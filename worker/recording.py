"""Every attempt records its session: per step the screen, the action and the screen's class.

    logs/jobs/<job_id>/attempt_<n>.session.jsonl

One JSON object a line, flushed at once (a killed worker leaves every line written so far), in
the shape `flow replay` reads (the original tool's `flow_analysis` shape): `session_start`,
`step` {step, timestamp, flow_step, ui_elements, action, class}, then `success` or `failure`.
No secrets: the screen and the caption typed, never a key, token or ADB password (strings
registered with runtime.logs are redacted all the same).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from runtime.logs import redact
from worker.screen import Screen


def screen_elements(screen: Screen) -> list[dict[str, Any]]:
    return [
        {
            "text": e.text,
            "desc": e.desc,
            "bounds": "[{},{}][{},{}]".format(*e.bounds),
            "center": list(e.center),
            "clickable": e.clickable,
            "id": e.id,
            "class": e.cls,
        }
        for e in screen.elements
    ]


class SessionRecorder:
    """Writes one attempt's session; `record` is the engine's FlowHooks.record."""

    def __init__(self, path: Path, *, account: str, job_id: str, flow: str, video_name: str = "") -> None:
        self.path = path
        self.steps = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._write(
            {
                "event": "session_start",
                "account": account,
                "job_id": job_id,
                "flow": flow,
                "video_name": video_name,
            }
        )

    def _write(self, event: dict[str, Any]) -> None:
        if self._file is None:
            return
        event = {"event": event.pop("event"), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), **event}
        try:
            self._file.write(redact(json.dumps(event, ensure_ascii=False)) + "\n")
            self._file.flush()
        except OSError:
            self.close()  # a full disk costs the recording, never the job

    def note_video(self, name: str) -> None:
        """The name of the job's video on the phone (a flow may pick it by name)."""
        self._write({"event": "video", "video_name": name})

    def record(self, event: dict[str, Any]) -> None:
        screen = event.get("screen")
        if screen is None:
            return
        self.steps += 1
        self._write(
            {
                "event": "step",
                "step": self.steps,
                "flow_step": event.get("flow_step", ""),
                "ui_elements": screen_elements(screen),
                "action": event.get("action", {}),
                "class": event.get("class", "none"),
            }
        )

    def finish(self, outcome: str, detail: str = "") -> None:
        kind = "success" if outcome == "success" else "failure"
        self._write({"event": kind, "total_steps": self.steps, "outcome": outcome, "reason": detail})
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
