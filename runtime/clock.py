"""The run's clock: real time for real runs; for a dry run, a simulated clock shared by every process.

A dry run's clock starts at the real "now" and runs at the simulator's pace (``scale`` simulated
seconds per real second); when nothing is due and nothing is claimed, the orchestrator jumps it to
the next moment a post is allowed (``skip``), so a simulated day of posting windows and spacing
takes minutes. The clock lives in ``.orchestrator/clock.json`` (written atomically by the
orchestrator); workers and ``--status`` read it. Queue times (claims, records, retries, the daily
limit, windows, spacing) all come from it; liveness (heartbeats, time-outs) stays on the real,
monotonic clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.state import write_json_atomic

CLOCK_FILE = "clock.json"
REFRESH_S = 0.2  # how often a reader looks for a jump


@dataclass(frozen=True)
class ClockSpec:
    """A simulated clock: ``origin`` at real epoch time ``origin_real``, then ``scale`` times faster,
    plus ``skipped_s`` simulated seconds jumped over."""

    origin_real: float
    origin: datetime
    scale: float
    skipped_s: float = 0.0

    def at(self, real: float) -> datetime:
        return self.origin + timedelta(seconds=(real - self.origin_real) * self.scale + self.skipped_s)

    def to_json(self) -> dict[str, object]:
        return {
            "origin_real": self.origin_real,
            "origin": self.origin.isoformat(),
            "scale": self.scale,
            "skipped_s": self.skipped_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ClockSpec:
        return cls(
            float(str(data["origin_real"])),
            datetime.fromisoformat(str(data["origin"])),
            float(str(data["scale"])),
            float(str(data.get("skipped_s", 0.0))),
        )


def clock_file(runtime_dir: Path) -> Path:
    return runtime_dir / CLOCK_FILE


def start_simulated_clock(
    runtime_dir: Path, scale: float, real: Callable[[], float] = time.time
) -> ClockSpec:
    """Write a new simulated clock for a dry run, starting at the real now."""
    now = real()
    spec = ClockSpec(now, datetime.fromtimestamp(now, UTC), scale)
    write_json_atomic(clock_file(runtime_dir), spec.to_json())
    return spec


def skip_to(runtime_dir: Path, moment: datetime, real: Callable[[], float] = time.time) -> ClockSpec | None:
    """Jump the dry run's clock forward to ``moment`` (never backwards); None for a real run."""
    spec = read_spec(runtime_dir)
    if spec is None:
        return None
    ahead = (moment - spec.at(real())).total_seconds()
    if ahead <= 0:
        return spec
    spec = ClockSpec(spec.origin_real, spec.origin, spec.scale, spec.skipped_s + ahead)
    write_json_atomic(clock_file(runtime_dir), spec.to_json())
    return spec


def stop_simulated_clock(runtime_dir: Path) -> None:
    clock_file(runtime_dir).unlink(missing_ok=True)


def read_spec(runtime_dir: Path) -> ClockSpec | None:
    try:
        return ClockSpec.from_json(json.loads(clock_file(runtime_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RunClock:
    """``now()`` of a run: the dry run's simulated clock if its file exists, else real UTC time."""

    def __init__(self, runtime_dir: Path | None, real: Callable[[], float] = time.time) -> None:
        self._dir = runtime_dir
        self._real = real
        self._spec: ClockSpec | None = None
        self._read_at = -1e18

    @property
    def simulated(self) -> bool:
        return self._current() is not None

    def now(self) -> datetime:
        spec = self._current()
        return spec.at(self._real()) if spec is not None else datetime.fromtimestamp(self._real(), UTC)

    def _current(self) -> ClockSpec | None:
        if self._dir is None:
            return None
        real = self._real()
        if real - self._read_at >= REFRESH_S:
            self._spec, self._read_at = read_spec(self._dir), real
        return self._spec
