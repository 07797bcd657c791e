"""What the worker is doing (for its heartbeat) and whether it was asked to stop.

`WorkerStatus` is updated by the main thread and read by the heartbeat thread, under a lock.
`StopControl` gathers every stop source: signals (via runtime.platform.install_stop_handlers), the
run's stop files, and the parent process going away (checked by the heartbeat thread every ~1 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from runtime.platform import ProcessRef
from runtime.state import Heartbeat, RunDir
from worker.errors import ForcedStop, StopRequested

log = logging.getLogger(__name__)

PARENT_CHECK_S = 1.0
MIN_GAP_S = 0.05  # between two heartbeat writes caused by changes
FORCED_AFTER_SIGNALS = 2


class WorkerStatus:
    """The worker's current heartbeat content; thread-safe."""

    def __init__(self, worker_id: int, process: ProcessRef, appium_port: int) -> None:
        self._lock = threading.Lock()
        self.changed = threading.Event()  # set by every update: the heartbeat is written at once
        self._hb = Heartbeat(
            worker_id=worker_id, process=process, heartbeat_at=datetime.now(UTC), appium_port=appium_port
        )

    def update(self, **fields: object) -> None:
        """Change heartbeat fields (step, job_id, account, phone_id, job_started_at, appium)."""
        with self._lock:
            self._hb = replace(self._hb, **fields)  # type: ignore[arg-type]  # replace() checks the field names and types at run time
        self.changed.set()

    def job_done(self) -> None:
        self.update(step="idle", job_id=None, account=None, job_started_at=None)

    def snapshot(self) -> Heartbeat:
        with self._lock:
            return replace(self._hb, heartbeat_at=datetime.now(UTC))


class StopControl:
    """Every reason to stop, in one place; `check()` raises StopRequested at a safe point."""

    def __init__(
        self, run_dir: RunDir, worker_id: int, *, parent: ProcessRef | None, parent_expected: bool
    ) -> None:
        self.run_dir = run_dir
        self.worker_id = worker_id
        self.parent = parent
        self.parent_expected = parent_expected
        self._event = threading.Event()
        self._in_job = False
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            log.info("stop requested: %s", reason)
        self._event.set()

    def on_signal(self, count: int) -> None:
        """Signal handler body: the first signal asks for a graceful stop at the next safe point,
        the second forces one at once (raises ForcedStop in the main thread); later ones are noted."""
        self.request(f"signal (#{count})")
        if count == FORCED_AFTER_SIGNALS:
            log.warning("second stop signal: abandoning the current job now")
            raise ForcedStop(f"signal #{count}")
        if count > FORCED_AFTER_SIGNALS:
            log.warning("stop signal #%s ignored: already stopping", count)

    def poll_parent(self) -> None:
        if self.parent_expected and (self.parent is None or not self.parent.is_alive()):
            self.request("parent process is gone")

    @property
    def requested(self) -> bool:
        if not self._event.is_set() and self.run_dir.stop_requested(self.worker_id):
            self.request("stop file")
        return self._event.is_set()

    def check(self) -> None:
        if self.requested:
            raise StopRequested(self.reason)

    @contextmanager
    def during_job(self) -> Iterator[None]:
        """While a job runs, a stop request also ends GeeLark's waits (`should_cut_waits`); outside
        a job (stopping the phone on the way out) they run their course."""
        self._in_job = True
        try:
            yield
        finally:
            self._in_job = False

    @contextmanager
    def riding_out(self) -> Iterator[None]:
        """Inside a job, after a stop: GeeLark's waits run their course again (a publishing task
        that already runs is left to finish, and the worker keeps asking how it ended)."""
        was, self._in_job = self._in_job, False
        try:
            yield
        finally:
            self._in_job = was

    def should_cut_waits(self) -> bool:
        return self._in_job and self.requested

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`, waking at once on a stop; True if a stop is requested."""
        return self._event.wait(timeout_s) or self.requested


class HeartbeatThread(threading.Thread):
    """Writes the heartbeat every `interval_s`, and at once (at most every `MIN_GAP_S`) when its
    content changed (a new step, job or phone: the fleet table and the stop's messages read it);
    watches the parent process every second."""

    def __init__(
        self, run_dir: RunDir, status: WorkerStatus, stop: StopControl, *, interval_s: float
    ) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.run_dir = run_dir
        self.status = status
        self.stop = stop
        self.interval_s = interval_s
        self._halt = threading.Event()

    def run(self) -> None:
        changed = self.status.changed
        next_beat = next_parent_check = time.monotonic()
        while not self._halt.is_set():
            now = time.monotonic()
            if now >= next_parent_check:
                self.stop.poll_parent()
                next_parent_check = now + PARENT_CHECK_S
            if changed.is_set() or now >= next_beat:
                changed.clear()
                self.beat()
                next_beat = now + self.interval_s
                self._halt.wait(MIN_GAP_S)  # a burst of steps is one write per gap
                continue
            changed.wait(max(0.0, min(next_beat, next_parent_check) - now))

    def beat(self) -> None:
        try:
            self.run_dir.write_heartbeat(self.status.snapshot())
        except OSError as exc:
            log.error("heartbeat could not be written: %s", exc)

    def halt(self) -> None:
        self._halt.set()
        self.status.changed.set()  # wakes the thread at once
        self.join(timeout=5)
