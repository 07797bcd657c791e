"""A circuit breaker: stop calling GeeLark after repeated transport failures or a 40014 lock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from geelark.errors import CircuitOpen

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Opens after ``threshold`` consecutive transport failures for ``cooldown_s``; ``trip``
    opens it for a given time (40014: two hours). After the cooldown one trial call goes
    through (half-open): success closes the circuit, another failure re-opens it."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.clock = clock  # measures the open time (monotonic: a clock step changes nothing)
        self.wall = wall or (time.time if clock is time.monotonic else clock)  # for "open until"
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._reason = ""

    def check(self) -> None:
        """Raise CircuitOpen while the circuit is open."""
        with self._lock:
            if self._open_until is None:
                return
            if self.clock() < self._open_until:
                until = self._until()
                raise CircuitOpen(until=until, reason=self._reason)
            self._open_until = None
            self._failures = self.threshold - 1  # half-open: one more failure re-opens

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open(
                    self.cooldown_s, f"{self._failures} consecutive transport failures, last: {reason}"
                )

    def trip(self, duration_s: float, reason: str) -> CircuitOpen:
        """Open now for ``duration_s``; returns the error to raise."""
        with self._lock:
            self._open(duration_s, reason)
            assert self._open_until is not None
            return CircuitOpen(until=self._until(), reason=reason)

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until is not None and self.clock() < self._open_until

    def _until(self) -> datetime:
        assert self._open_until is not None
        return datetime.fromtimestamp(self.wall() + (self._open_until - self.clock()), UTC)

    def _open(self, duration_s: float, reason: str) -> None:
        self._open_until = max(self._open_until or 0.0, self.clock() + duration_s)
        self._reason = reason
        log.warning("GeeLark circuit open for %.0fs: %s", duration_s, reason)
