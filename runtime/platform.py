"""Process control that works the same on POSIX and Windows.

This is the only module that knows which platform it runs on: process groups, the graceful stop
signal, signal handlers, process-tree kills and how to start a Python child. Everything else calls
these functions. Processes are named by `ProcessRef` (pid + create time) so that a PID the OS has
reused is never touched.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

log = logging.getLogger(__name__)

# Two processes whose create times differ by less than this are the same process (float rounding).
_CREATE_TIME_SLACK_S = 0.01


@dataclass(frozen=True)
class ProcessRef:
    """A process we started, identified so that PID reuse cannot fool us."""

    pid: int
    create_time: float

    @classmethod
    def current(cls) -> ProcessRef:
        return cls(os.getpid(), psutil.Process().create_time())

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """The process running now with this PID, or None if there is none."""
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def process(self) -> psutil.Process | None:
        """The live psutil process behind this ref, or None if it is gone or the PID was reused."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > _CREATE_TIME_SLACK_S:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def is_alive(self) -> bool:
        return self.process() is not None

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_json(cls, data: Any) -> ProcessRef | None:
        if not isinstance(data, dict) or "pid" not in data or "create_time" not in data:
            return None
        return cls(int(data["pid"]), float(data["create_time"]))


@dataclass(frozen=True)
class PythonLaunch:
    """How to start a Python child whose `Popen.pid` is the Python process itself."""

    executable: str
    env: dict[str, str]  # to add to the child's environment


def python_launch(
    executable: str | None = None, base_executable: str | None = None, windows: bool | None = None
) -> PythonLaunch:
    """The interpreter for `python -m <our module>` children (workers, simulators).

    On Windows inside a venv, `sys.executable` is a redirector that starts the base interpreter as
    *its* child (bpo-35797): `Popen.pid` would then not be the worker, whose claims and heartbeat
    carry its own PID, and every live worker's claims would look orphaned. So, like
    `multiprocessing` does, start the base interpreter directly and name the venv to it in
    `__PYVENV_LAUNCHER__` (it then loads the venv's site-packages). Elsewhere `sys.executable`.
    """
    exe = sys.executable if executable is None else executable
    base = getattr(sys, "_base_executable", exe) if base_executable is None else base_executable
    on_windows = sys.platform == "win32" if windows is None else windows
    if on_windows and base and os.path.normcase(base) != os.path.normcase(exe):
        return PythonLaunch(base, {"__PYVENV_LAUNCHER__": exe})
    return PythonLaunch(exe, {})


def new_group_popen_kwargs() -> dict[str, Any]:
    """Popen keyword arguments that start the child in its own process group.

    POSIX: a new session, so a terminal's Ctrl+C reaches only the orchestrator, which then stops the
    children in order. Windows: CREATE_NEW_PROCESS_GROUP, which is also what lets us send the child
    CTRL_BREAK_EVENT (the only console signal that can be aimed at one group).
    """
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def request_stop(ref: ProcessRef) -> bool:
    """Ask a process we started to stop gracefully. Returns False if it is already gone.

    POSIX: SIGTERM. Windows: CTRL_BREAK_EVENT to its process group (it must have been started with
    `new_group_popen_kwargs`); `terminate()` there would be a hard kill.
    """
    proc = ref.process()
    if proc is None:
        return False
    try:
        if sys.platform == "win32":
            os.kill(ref.pid, signal.CTRL_BREAK_EVENT)
        else:
            os.kill(ref.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, OSError) as exc:
        log.warning("could not signal pid=%s: %s", ref.pid, exc)
        return False
    return True


def kill_tree(ref: ProcessRef, grace_s: float = 5.0) -> list[int]:
    """Terminate a process we started and all its descendants; kill what survives the grace period.

    Does nothing if `ref` is no longer alive (so a reused PID is never touched). Returns the PIDs that
    were signalled.
    """
    root = ref.process()
    if root is None:
        return []
    try:
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    return [p.pid for p in procs]


def install_stop_handlers(on_signal: Callable[[int], None]) -> None:
    """Call `on_signal(n)` on each SIGINT / SIGTERM (and SIGBREAK on Windows), n counting from 1.

    The first signal asks for a graceful stop, the second for a forceful one; what that means is the
    caller's business. Must be called from the main thread.
    """
    count = 0

    def handler(signum: int, frame: object) -> None:
        nonlocal count
        count += 1
        on_signal(count)

    names = ["SIGINT", "SIGTERM", "SIGBREAK"]
    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, handler)


def graceful_stop_signal() -> int:
    """The signal `request_stop` sends, for tests that send it themselves."""
    if sys.platform == "win32":
        return int(signal.CTRL_BREAK_EVENT)
    return int(signal.SIGTERM)


def exe_name(name: str) -> str:
    """A program's file name on this platform (`adb` -> `adb.exe` on Windows)."""
    return f"{name}.exe" if sys.platform == "win32" else name
