"""ADB adapters: the real `adb` binary (every call with a timeout) and the simulated phone's check.

Both connect to a GeeLark phone at `ip:port`, wait until it is online, log in with `glogin` and
verify the login took (the original tool only warned). Neither ever runs `adb kill-server`: other
workers share the adb server. Passwords never appear in errors or logs.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from runtime.logs import register_secret
from worker.errors import AdbError

log = logging.getLogger(__name__)
GLOGIN_MISSING = "run glogin"
COMMAND_TIMEOUT_S = 20.0


Runner = Callable[[list[str], float, str | None], str]


def _run_subprocess(command: list[str], timeout_s: float, stdin: str | None = None) -> str:
    """Run one adb command with a timeout (and ``stdin`` fed to it); stdout and stderr together."""
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    return (done.stdout or "") + (done.stderr or "")


class Adb(Protocol):
    """What the worker needs from ADB."""

    def connect(self, serial: str, password: str, timeout_s: float) -> None: ...
    def disconnect(self, serial: str) -> None: ...
    def push(self, serial: str, local: Path, remote: str, timeout_s: float) -> None: ...
    def shell(self, serial: str, command: str, timeout_s: float = COMMAND_TIMEOUT_S) -> str: ...


class RealAdb:
    """The `adb` binary (`runner` is injectable for tests); every call has a timeout."""

    def __init__(
        self,
        adb_path: str = "adb",
        runner: Runner | None = None,
        poll_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.adb_path = adb_path
        self.runner = runner or _run_subprocess
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep
        self._passwords: dict[str, str] = {}  # serial -> ADB password, for a lost glogin (memory only)

    def _run(self, args: list[str], timeout_s: float, what: str, stdin: str | None = None) -> str:
        try:
            return self.runner([self.adb_path, *args], timeout_s, stdin)
        except subprocess.TimeoutExpired:
            raise AdbError(f"adb {what} timed out after {timeout_s:.0f} s") from None
        except OSError as exc:
            raise AdbError(f"adb {what} could not run: {exc.strerror or exc}") from None

    def connect(self, serial: str, password: str, timeout_s: float) -> None:
        register_secret(password)
        deadline = self.clock() + timeout_s
        self._run(["disconnect", serial], COMMAND_TIMEOUT_S, "disconnect")
        while True:
            self._run(["connect", serial], COMMAND_TIMEOUT_S, "connect")
            if self._state(serial) == "device":
                break
            if self.clock() >= deadline:
                raise AdbError(f"Device {serial} never appeared in ADB devices list after {timeout_s:.0f}s")
            self.sleep(self.poll_s)
        self._passwords[serial] = password
        self._glogin(serial, password)
        probe = self.shell(serial, "echo glogin-ok", relogin=False)
        if "glogin-ok" not in probe or GLOGIN_MISSING in probe:
            raise AdbError(
                f"glogin on {serial} did not work: shell still says {probe.strip()[:80]!r}",
                error_type="glogin_failed",
            )

    def _glogin(self, serial: str, password: str) -> None:
        # The password goes in through the shell's stdin, never on a command line: any local user
        # can read command lines in the process list while adb runs.
        self._run(["-s", serial, "shell"], COMMAND_TIMEOUT_S, "glogin", stdin=f"glogin {password}\nexit\n")

    def _state(self, serial: str) -> str:
        out = self._run(["devices"], COMMAND_TIMEOUT_S, "devices")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == serial:
                return parts[1]
        return ""

    def disconnect(self, serial: str) -> None:
        self._passwords.pop(serial, None)
        self._run(["disconnect", serial], COMMAND_TIMEOUT_S, "disconnect")

    def push(self, serial: str, local: Path, remote: str, timeout_s: float) -> None:
        out = self._run(["-s", serial, "push", str(local), remote], timeout_s, "push")
        if "error" in out.lower() and "pushed" not in out.lower():
            raise AdbError(f"adb push to {serial} failed: {out.strip()[:200]}", error_type="upload_failed")

    def shell(
        self, serial: str, command: str, timeout_s: float = COMMAND_TIMEOUT_S, *, relogin: bool = True
    ) -> str:
        """Run a shell command. A lost glogin ("you should run glogin to login first") logs in
        again and runs the command once more: no new boot, no new connection."""
        out = self._run(["-s", serial, "shell", command], timeout_s, "shell")
        if GLOGIN_MISSING in out and relogin and serial in self._passwords:
            log.info("%s lost its glogin session: logging in again", serial)
            self._glogin(serial, self._passwords[serial])
            out = self._run(["-s", serial, "shell", command], timeout_s, "shell")
        if GLOGIN_MISSING in out:
            raise AdbError(f"{serial} lost its glogin session", error_type="glogin_failed")
        return out


class SimAdb:
    """The simulated phone: 'connected' once the cloud simulator lists a device at that address."""

    def __init__(
        self,
        cloud_url: str,
        poll_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cloud_url = cloud_url.rstrip("/")
        self.poll_s = poll_s
        self.clock = clock
        self.sleep = sleep

    def online(self, serial: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.cloud_url}/_sim/devices/{serial}", timeout=5.0) as resp:
                return resp.status == 200 and isinstance(json.loads(resp.read() or b"null"), dict)
        except urllib.error.HTTPError:
            return False
        except (OSError, ValueError) as exc:
            raise AdbError(f"simulated adb cannot reach the cloud simulator: {exc}") from exc

    def connect(self, serial: str, password: str, timeout_s: float) -> None:
        register_secret(password)
        deadline = self.clock() + timeout_s
        while not self.online(serial):
            if self.clock() >= deadline:
                raise AdbError(f"Device {serial} never appeared in ADB devices list after {timeout_s:.0f}s")
            self.sleep(self.poll_s)

    def disconnect(self, serial: str) -> None:
        return None

    def push(self, serial: str, local: Path, remote: str, timeout_s: float) -> None:
        raise AdbError(
            "adb push is not simulated: use worker.video_transfer = 'upload' in simulate mode",
            error_type="unsupported",
        )

    def shell(self, serial: str, command: str, timeout_s: float = COMMAND_TIMEOUT_S) -> str:
        """The simulator's shell (empty the download folder, list it, a file's size)."""
        request = urllib.request.Request(
            f"{self.cloud_url}/_sim/devices/{serial}/shell",
            data=json.dumps({"command": command}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5.0) as resp:
                return str(json.loads(resp.read() or b"{}").get("output", ""))
        except urllib.error.HTTPError:
            raise AdbError(f"device {serial} is offline") from None
        except (OSError, ValueError) as exc:
            raise AdbError(f"simulated adb cannot reach the cloud simulator: {exc}") from exc
