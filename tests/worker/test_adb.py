"""The real adb adapter, driven by a scripted `adb`: connect, wait online, glogin, verify."""

from __future__ import annotations

import subprocess

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
        self.logged_in = False

    def __call__(self, command: list[str], timeout_s: float) -> str:
        args = command[1:]
        self.calls.append(args)
        if self.hang and self.hang in args:
            raise subprocess.TimeoutExpired(command, timeout_s)
        if args == ["devices"]:
            polls = sum(1 for c in self.calls if c == ["devices"])
            state = "device" if polls > self.online_after else "offline"
            return f"List of devices attached\n{SERIAL}\t{state}\n"
        if args[-2:] == ["glogin", PASSWORD]:
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
    assert ["-s", SERIAL, "shell", "glogin", PASSWORD] in script.calls
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
