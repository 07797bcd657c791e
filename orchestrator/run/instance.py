"""One orchestrator per working folder: an OS file lock held for the life of the run.

The OS releases the lock when the process dies however it dies, so a crashed run never blocks the
next one (the original tool's process-name scan failed open and raced). Other commands never take
the lock; they ask whether the recorded run process is alive (`RunDir.live_run`).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from orchestrator.errors import AlreadyRunning
from runtime.state import RunDir


class RunLock:
    """Context manager: hold `.orchestrator/orchestrator.lock` or raise `AlreadyRunning` at once."""

    def __init__(self, run_dir: RunDir) -> None:
        self._run_dir = run_dir
        self._lock = FileLock(str(run_dir.lock_file), timeout=0)

    @property
    def lock_file(self) -> Path:
        return self._run_dir.lock_file

    def acquire(self) -> None:
        self._run_dir.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            info = self._run_dir.live_run()
            raise AlreadyRunning(
                self.lock_file, info.process.pid if info else None, info.started_at if info else None
            ) from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
