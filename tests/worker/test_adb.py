"""The real adb adapter, driven by a scripted `adb`: connect, wait online, glogin, verify."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from worker.adb import RealAdb
from worker.errors import AdbError

SERIAL = "10.0.0.5:25219"
PASSWORD = "8c1da4"


class ScriptedAdb:
    """Answers adb commands; the device shows up as 'device' after `online_after` polls."""

    def __init__(self, online_after: int = 2, glogin_works: bool = True, hang: str = "") -> None:
        self.online_after = online_after
        self.glogin_works = glogin_works
        self.hang = hang
        self.calls: list[list[str]] = []
        self.stdins: list[str | None] = []
        self.logged_in = False

    def __call__(self, command: list[str], timeout_s: float, stdin: str | None = None) -> str:
        args = command[1:]
        self.calls.append(args)
        self.stdins.append(stdin)
        if self.hang and (self.hang in args or self.hang in (stdin or "")):
            raise subprocess.TimeoutExpired(command, timeout_s)
        if args == ["devices"]:
            polls = sum(1 for c in self.calls if c == ["devices"])
            state = "device" if polls > self.online_after else "offline"
            return f"List of devices attached\n{SERIAL}\t{state}\n"
        if args[-1] == "shell" and (stdin or "").startswith(f"glogin {PASSWORD}\n"):
            self.logged_in = self.glogin_works
            return "success\n" if self.glogin_works else "failed\n"
        if args[-1] == "echo glogin-ok":
            return "glogin-ok\n" if self.logged_in else "error: you should run glogin to login first\n"
        return ""


def adb(script: ScriptedAdb) -> RealAdb:
    clock = {"t": 0.0}

    def sleep(s: float) -> None:
        clock["t"] += s

    return RealAdb("adb", runner=script, poll_s=2.0, clock=lambda: clock["t"], sleep=sleep)


def test_connect_waits_for_the_device_then_logs_in_and_verifies() -> None:
    script = ScriptedAdb(online_after=2)
    adb(script).connect(SERIAL, PASSWORD, timeout_s=60)
    assert script.calls[0] == ["disconnect", SERIAL]
    assert f"glogin {PASSWORD}\nexit\n" in script.stdins  # through stdin...
    assert all(PASSWORD not in arg for call in script.calls for arg in call)  # ...never on a command line
    assert "kill-server" not in {a for call in script.calls for a in call}


def test_a_device_that_never_appears_is_an_adb_timeout() -> None:
    with pytest.raises(AdbError, match="never appeared in ADB devices list") as info:
        adb(ScriptedAdb(online_after=10**6)).connect(SERIAL, PASSWORD, timeout_s=10)
    assert info.value.error_type == "adb_timeout"


def test_a_glogin_that_did_not_take_is_an_error_not_a_warning() -> None:
    with pytest.raises(AdbError) as info:
        adb(ScriptedAdb(online_after=0, glogin_works=False)).connect(SERIAL, PASSWORD, timeout_s=10)
    assert info.value.error_type == "glogin_failed"
    assert PASSWORD not in str(info.value)


def test_a_hanging_adb_call_times_out_without_leaking_the_password() -> None:
    with pytest.raises(AdbError, match="timed out") as info:
        adb(ScriptedAdb(online_after=0, hang="glogin")).connect(SERIAL, PASSWORD, timeout_s=10)
    assert PASSWORD not in str(info.value)


FAKE_ADB = r"""
import sys, time
args = sys.argv[1:]
if args == ["devices"]:
    print("List of devices attached\n10.0.0.5:25219\tdevice")
elif args[-1:] == ["shell"]:
    commands = sys.stdin.read()
    time.sleep(0.5)  # a slow glogin: plenty of time for anyone to read the process list
    print("success" if commands.startswith("glogin ") else "?")
elif args[-1:] == ["echo glogin-ok"]:
    print("glogin-ok")
"""


@pytest.mark.skipif(
    sys.platform == "win32", reason="the fake adb is a shell script; the code path is the same"
)
def test_the_adb_password_never_shows_in_the_process_list(tmp_path: Path) -> None:
    script = tmp_path / "fake_adb.py"
    script.write_text(FAKE_ADB)
    launcher = tmp_path / "adb"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    launcher.chmod(0o755)
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:  # any local user can do this while adb runs
        while not done.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                cmdline = " ".join(proc.info.get("cmdline") or [])
                if "fake_adb" in cmdline:
                    seen.append(cmdline)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        RealAdb(str(launcher), poll_s=0.01).connect(SERIAL, PASSWORD, timeout_s=30)
    finally:
        done.set()
        watcher.join(timeout=10)
    assert any(c.endswith(" shell") for c in seen), "the watcher never saw the glogin call"
    assert [c for c in seen if PASSWORD in c] == []


def test_a_lost_glogin_logs_in_again_and_runs_the_command_once_more() -> None:
    script = ScriptedAdb(online_after=0)
    real = adb(script)
    real.connect(SERIAL, PASSWORD, timeout_s=60)
    script.logged_in = False  # the phone forgot the login (GeeLark does this)
    assert "glogin-ok" in real.shell(SERIAL, "echo glogin-ok")
    assert sum(1 for s in script.stdins if s and s.startswith("glogin")) == 2
    script.glogin_works = False
    script.logged_in = False
    with pytest.raises(AdbError, match="lost its glogin"):
        real.shell(SERIAL, "echo glogin-ok")  # tried once more, then gave up
    assert sum(1 for s in script.stdins if s and s.startswith("glogin")) == 3
