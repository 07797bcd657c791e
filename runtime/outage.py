"""Run-level records every worker reads before it claims: GeeLark itself is unreachable
(`.orchestrator/geelark-down.json`, `OutageRecord`), or GeeLark refused new work for money
(`.orchestrator/claiming-stopped.json`, `ClaimingStopped`).

A worker whose job fails because GeeLark does not answer (connection refused or dropped, time-outs,
5xx after the client's own retries, the circuit breaker open) gives its claim back without using an
attempt and reports the outage here; from then on no worker claims, and the orchestrator probes
GeeLark with backoff and clears the record once it answers. No job and no account pays for an
outage of the cloud: that is what the record is for.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runtime.state import RunDir, write_json_atomic


@dataclass(frozen=True)
class Outage:
    since: datetime  # when the first process saw it
    reason: str  # what that process saw (no secrets: the client's messages carry none)
    reported_by: str  # "W3", "orchestrator"


class OutageRecord:
    """Read, report and clear the outage of one run (safe from several processes at once)."""

    FILE = "geelark-down.json"

    def __init__(self, run_dir: RunDir) -> None:
        self.path: Path = run_dir.root / self.FILE

    def current(self) -> Outage | None:
        """The outage in force, or None (also for a record that cannot be read)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Outage(
                datetime.fromisoformat(data["since"]), str(data["reason"]), str(data["reported_by"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def report(self, reason: str, reported_by: str, now: datetime) -> Outage:
        """Record the outage; an outage already recorded keeps its first time and reason."""
        known = self.current()
        if known is not None:
            return known
        outage = Outage(now, reason[:300], reported_by)
        write_json_atomic(
            self.path, {"since": now.isoformat(), "reason": outage.reason, "reported_by": reported_by}
        )
        return outage

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ClaimingStopped(OutageRecord):
    """GeeLark refused work for the whole account: balance too low (29997) or no task credits left
    (41000). No worker claims while it is recorded (one message for the run, not one failure per
    job); the orchestrator says so and ends the run, the next `--run` clears it. Same file format
    and methods as the outage record."""

    FILE = "claiming-stopped.json"
