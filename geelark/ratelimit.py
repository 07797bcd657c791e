"""Client-side request budget per endpoint, so N workers cannot trip 40007 together.

A sliding-window log: at most ``limit`` requests per key in any ``window_s + margin_s``
seconds (the margin absorbs send-to-arrival delay, so the server's own minute never sees
more than ``limit``). ``LocalRateLimiter`` shares the budget between threads of one process;
``SharedRateLimiter`` between every process using the same folder, through a small
filelock-guarded JSON file of timestamps (wall clock, which all local processes share).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from filelock import FileLock

log = logging.getLogger(__name__)

STATE_FILE = "geelark-ratelimit.json"
FUTURE_SKEW_S = 1.0


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: int) -> float:
        """Block until one more request on ``key`` fits the budget; returns the seconds waited."""
        ...


def reserve(stamps: Sequence[float], now: float, limit: int, span_s: float) -> tuple[list[float], float]:
    """Pure decision: the pruned log with ``now`` appended and 0.0 if a slot is free, or the
    pruned log unchanged and the seconds until the oldest entry leaves the span."""
    # An entry from the future is stale: the wall clock was set back since it was written.
    live = sorted(t for t in stamps if -FUTURE_SKEW_S <= now - t < span_s)
    if len(live) < limit:
        return [*live, now], 0.0
    return live, max(live[len(live) - limit] + span_s - now + 1e-6, 0.001)


class _SlidingLimiter:
    def __init__(
        self, window_s: float, margin_s: float, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.span_s = window_s + margin_s
        self.clock = clock
        self.sleep = sleep

    def acquire(self, key: str, limit: int) -> float:
        waited = 0.0
        while True:
            wait_s = self._try(key, limit)
            if wait_s == 0.0:
                if waited:
                    log.debug("rate limiter held %s for %.2fs", key, waited)
                return waited
            self.sleep(wait_s)
            waited += wait_s

    def _try(self, key: str, limit: int) -> float:
        raise NotImplementedError


class LocalRateLimiter(_SlidingLimiter):
    """Budget shared by the threads of one process."""

    def __init__(
        self,
        window_s: float = 60.0,
        margin_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(window_s, margin_s, clock, sleep)
        self._lock = threading.Lock()
        self._logs: dict[str, list[float]] = {}

    def _try(self, key: str, limit: int) -> float:
        with self._lock:
            self._logs[key], wait_s = reserve(self._logs.get(key, []), self.clock(), limit, self.span_s)
            return wait_s


class SharedRateLimiter(_SlidingLimiter):
    """Budget shared by every process that uses ``directory`` (created if missing)."""

    def __init__(
        self,
        directory: Path,
        window_s: float = 60.0,
        margin_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(window_s, margin_s, clock, sleep)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / STATE_FILE
        self._lock = FileLock(str(self.path) + ".lock")

    def _try(self, key: str, limit: int) -> float:
        with self._lock:
            logs = self._read()
            logs[key], wait_s = reserve(logs.get(key, []), self.clock(), limit, self.span_s)
            if wait_s == 0.0:
                self._write(logs)
            return wait_s

    def _read(self) -> dict[str, list[float]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("rate limiter state %s unreadable (%s); starting afresh", self.path, exc)
            return {}
        return {str(k): [float(t) for t in v] for k, v in raw.items()} if isinstance(raw, dict) else {}

    def _write(self, logs: dict[str, list[float]]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(logs), encoding="utf-8")
        os.replace(tmp, self.path)


def recent_requests(directory: Path, now: float, window_s: float = 60.0) -> dict[str, int]:
    """Requests per key that every process sharing ``directory`` sent in the last ``window_s``
    (read-only, no lock: a glance for dashboards; {} when there is no budget file yet)."""
    try:
        raw = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(k): sum(1 for t in v if now - float(t) < window_s) for k, v in raw.items() if isinstance(v, list)
    }
