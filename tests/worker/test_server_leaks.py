"""A worker killed while its server starts must not leave that server running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.platform import ProcessRef
from tests.worker.conftest import free_port_base, wait_until
from worker.appium_server import ServerProcess, ServerSpec, simdevice_spec
from worker.errors import AppiumServerError

SIGKILL: int = getattr(signal, "SIGKILL", 9)  # POSIX; the tests that use it skip on Windows


def test_the_server_is_named_before_the_readiness_wait_and_forgotten_once_stopped(tmp_path: Path) -> None:
    never_ready = (sys.executable, "-c", "import time; time.sleep(60)")
    spec = ServerSpec("simdevice", never_ready, free_port_base(), tmp_path / "server.log")
    seen: list[tuple[ProcessRef | None, bool]] = []

    def record(ref: ProcessRef | None) -> None:
        seen.append((ref, ref is not None and ref.is_alive()))

    server = ServerProcess(spec, ready_timeout_s=0.5, on_change=record)
    with pytest.raises(AppiumServerError):
        server.start()
    assert len(seen) == 2
    (started, was_alive), (stopped, _) = seen
    assert started is not None and was_alive  # named while it was still starting
    assert stopped is None and not started.is_alive()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX; Windows has no orphan process groups")
def test_a_simulated_phone_server_exits_by_itself_when_its_worker_is_killed(tmp_path: Path) -> None:
    # The worker is played by a small parent process that starts the server as the worker would.
    port = free_port_base()
    spec = simdevice_spec(port, "http://127.0.0.1:9", tmp_path / "appium_0.log")
    command = [*spec.command[:-1], "{parent}"]
    script = (
        "import os, subprocess, sys, time\n"
        f"cmd = {command!r}\n"
        "cmd[-1] = str(os.getpid())\n"
        "p = subprocess.Popen(cmd, start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server: ProcessRef | None = None
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        server = wait_until(lambda: ProcessRef.of(server_pid), 10, "the server to start")
        os.kill(parent.pid, SIGKILL)
        parent.wait(timeout=5)
        wait_until(lambda: not server.is_alive(), 15, "the orphaned server to exit by itself")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if server is not None and server.is_alive():
            os.kill(server.pid, SIGKILL)
