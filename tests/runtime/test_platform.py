from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs, python_launch, request_stop

PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)

GRACEFUL = (
    "import signal, sys, time\n"
    "def bye(*_):\n"
    "    print('graceful', flush=True); sys.exit(0)\n"
    "for name in ('SIGTERM', 'SIGBREAK'):\n"
    "    if hasattr(signal, name): signal.signal(getattr(signal, name), bye)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def wait_until(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_kill_tree_stops_the_process_and_its_children() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT_WITH_CHILD],
        stdout=subprocess.PIPE,
        text=True,
        **new_group_popen_kwargs(),
    )
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        ref = ProcessRef.of(proc.pid)
        child = ProcessRef.of(child_pid)
        assert ref is not None and child is not None
        killed = kill_tree(ref, grace_s=2)
        assert set(killed) >= {proc.pid, child_pid}
        proc.wait(timeout=5)
        assert wait_until(lambda: not child.is_alive())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_tree_leaves_a_process_alone_when_the_create_time_does_not_match() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = ProcessRef.of(proc.pid)
        assert real is not None
        reused = ProcessRef(proc.pid, real.create_time - 1000.0)  # a PID the OS gave to someone else
        assert not reused.is_alive()
        assert kill_tree(reused, grace_s=0.5) == []
        assert psutil.pid_exists(proc.pid) and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_request_stop_reaches_the_graceful_handler() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", GRACEFUL], stdout=subprocess.PIPE, text=True, **new_group_popen_kwargs()
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        ref = ProcessRef.of(proc.pid)
        assert ref is not None
        assert request_stop(ref)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.readline().strip() == "graceful"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_finished_process_is_not_alive_and_cannot_be_stopped() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(proc.pid) or ProcessRef(proc.pid, 0.0)
    proc.wait(timeout=10)
    assert not ref.is_alive()
    assert request_stop(ref) is False


def test_in_a_windows_venv_the_base_interpreter_is_started_and_told_its_venv() -> None:
    venv_exe, base_exe = r"C:\op\.venv\Scripts\python.exe", r"C:\Python312\python.exe"
    launch = python_launch(venv_exe, base_exe, windows=True)
    assert (launch.executable, launch.env) == (base_exe, {"__PYVENV_LAUNCHER__": venv_exe})
    assert python_launch(base_exe, base_exe, windows=True).env == {}  # no venv: nothing to bypass
    assert python_launch("/v/bin/python", "/usr/bin/python3", windows=False).executable == "/v/bin/python"


def test_a_python_child_started_this_way_is_the_process_we_track_and_sees_our_packages() -> None:
    launch = python_launch()
    probe = "import os, psutil, filelock; print(os.getpid())"  # psutil/filelock: the venv's packages
    proc = subprocess.Popen(
        [launch.executable, "-c", probe], env={**os.environ, **launch.env}, stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and int(out) == proc.pid
