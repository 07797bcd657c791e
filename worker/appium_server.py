"""This worker's own automation server process: Appium (real phones) or the simulated phone.

Both are started the same way on the worker's Appium port, in their own process group, and both are
checked with the same real probe: `GET /status` must say ready AND a probe session request must reach
a driver (an Appium whose driver failed to load still says ready; the probe's deliberately invalid
capability makes the driver refuse at validation, before it touches any device). The server is
restarted when it dies, and stopped by its recorded ProcessRef, whole tree, on every exit path. It
never touches a process it did not start and never runs `adb kill-server`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs, python_launch
from runtime.ports import ensure_port_free
from worker.errors import AppiumServerError

log = logging.getLogger(__name__)

APPIUM_ENTRY = Path("node_modules") / "appium" / "index.js"
NO_DRIVER = "could not find a driver"
HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ServerSpec:
    """How to run one server and how to probe it."""

    kind: str  # "appium" or "simdevice"
    command: tuple[str, ...]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    probe_platform: str = "Android"
    probe_automation: str = "UiAutomator2"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def appium_spec(
    appium_home: Path,
    port: int,
    *,
    log_path: Path,
    use_drivers: tuple[str, ...] = (),
    probe: tuple[str, str] | None = None,
) -> ServerSpec:
    """Appium from the project's pinned install (`tools/appium`, `npm ci`). Raises AppiumServerError."""
    home = appium_home.resolve()
    entry = home / APPIUM_ENTRY
    node = shutil.which("node")
    if node is None or not entry.is_file():
        raise AppiumServerError(
            f"Appium is not installed: need node on PATH and {entry} (run `npm ci` in {appium_home})"
        )
    command = [
        node,
        str(entry),
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--log",
        str(log_path.resolve()),
        "--log-no-colors",
        "--log-level",
        "error:debug",
    ]
    if use_drivers:
        command += ["--use-drivers", ",".join(use_drivers)]
    platform, automation = probe or ("Android", "UiAutomator2")
    return ServerSpec(
        "appium", tuple(command), port, log_path, {"APPIUM_HOME": str(home)}, platform, automation
    )


def simdevice_spec(port: int, cloud_url: str, log_path: Path) -> ServerSpec:
    """The simulated phone server (no Node needed)."""
    launch = python_launch()
    command = [
        launch.executable,
        "-m",
        "worker.simdevice",
        "--port",
        str(port),
        "--cloud",
        cloud_url,
        "--log",
        str(log_path.resolve()),
        "--parent-pid",  # it exits by itself if this worker is killed
        str(os.getpid()),
    ]
    return ServerSpec("simdevice", tuple(command), port, log_path, dict(launch.env))


class ServerProcess:
    """Start, probe, restart and stop one server process that this worker owns."""

    def __init__(
        self,
        spec: ServerSpec,
        *,
        ready_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_change: Callable[[ProcessRef | None], None] | None = None,
    ) -> None:
        self.spec = spec
        # Told the server's ref the moment it exists (and None once it is stopped), so the heartbeat
        # names it before the readiness wait: a worker killed while its server starts must not leak it.
        self.on_change = on_change
        self.ready_timeout_s = ready_timeout_s
        self.ref: ProcessRef | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._ready = False  # launched and passed the probe
        self._console: IO[bytes] | None = None
        self._clock = clock
        self._sleep = sleep

    @property
    def url(self) -> str:
        return self.spec.url

    def launch(self) -> ProcessRef:
        """Start the server process without waiting for it to be ready (idempotent): the worker
        launches it while the phone boots, and `ensure_running` waits for it. Raises PortInUse."""
        if self.ref is not None:
            return self.ref
        ensure_port_free(self.spec.port)
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._console = open(self.spec.log_path.with_suffix(".console.log"), "ab")  # noqa: SIM115 - lives with the process
        self._popen = subprocess.Popen(
            list(self.spec.command),
            env={**os.environ, **self.spec.env},
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            **new_group_popen_kwargs(),
        )
        self.ref = ProcessRef.of(self._popen.pid) or ProcessRef(self._popen.pid, 0.0)
        self._ready = False
        if self.on_change is not None:
            self.on_change(self.ref)
        log.info("%s started on port %s (pid %s)", self.spec.kind, self.spec.port, self._popen.pid)
        return self.ref

    def start(self) -> ProcessRef:
        """Start the server and wait until the probe passes. Raises PortInUse or AppiumServerError."""
        if self.ref is not None:
            raise AppiumServerError(f"{self.spec.kind} on port {self.spec.port} is already started")
        self.launch()
        return self._await_ready()

    def _await_ready(self) -> ProcessRef:
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self._ready = True
        assert self.ref is not None
        return self.ref

    def ensure_running(self) -> ProcessRef:
        """The running server's ref: waits for a launched one to be ready, restarts one that died
        or stopped answering."""
        if self.ref is not None and not self._ready:
            return self._await_ready()
        if self.ref is not None and self.is_healthy():
            return self.ref
        if self.ref is not None:
            log.warning("%s on port %s is not healthy: restarting it", self.spec.kind, self.spec.port)
            self.stop()
        return self.start()

    def is_healthy(self) -> bool:
        """Alive and `/status` ready (the cheap check between jobs)."""
        return self._alive() and self._status_ready()

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop the server's whole process tree by its recorded ref (idempotent)."""
        ref, popen, self.ref, self._popen = self.ref, self._popen, None, None
        self._ready = False
        if ref is not None:
            killed = kill_tree(ref, grace_s)
            if killed:
                log.info("%s on port %s stopped (pids %s)", self.spec.kind, self.spec.port, killed)
        if popen is not None:
            try:
                popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.error("%s pid %s did not exit after kill", self.spec.kind, popen.pid)
        if ref is not None and self.on_change is not None and not ref.is_alive():
            self.on_change(None)
        if self._console is not None:
            self._console.close()
            self._console = None

    def _alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def _wait_ready(self) -> None:
        deadline = self._clock() + self.ready_timeout_s
        while True:
            if not self._alive():
                code = self._popen.returncode if self._popen else None
                raise AppiumServerError(
                    f"{self.spec.kind} on port {self.spec.port} exited with code {code} "
                    f"while starting; see {self.spec.log_path}"
                )
            if self._status_ready():
                self._probe_driver()
                return
            if self._clock() >= deadline:
                raise AppiumServerError(
                    f"{self.spec.kind} on port {self.spec.port} not ready after "
                    f"{self.ready_timeout_s:.0f} s; see {self.spec.log_path}"
                )
            self._sleep(0.1)

    def _status_ready(self) -> bool:
        try:
            status, body = _http("GET", self.url + "/status")
        except (OSError, ValueError):
            return False
        return status == 200 and bool((body or {}).get("value", {}).get("ready"))

    def _probe_driver(self) -> None:
        caps = {
            "platformName": self.spec.probe_platform,
            "appium:automationName": self.spec.probe_automation,
            "appium:newCommandTimeout": "probe-not-a-number",
        }
        try:
            status, body = _http("POST", self.url + "/session", {"capabilities": {"alwaysMatch": caps}})
        except (OSError, ValueError) as exc:
            raise AppiumServerError(
                f"{self.spec.kind} on port {self.spec.port} failed the probe: {exc}"
            ) from exc
        value = (body or {}).get("value") or {}
        if status == 200 and value.get("sessionId"):
            _http("DELETE", f"{self.url}/session/{value['sessionId']}")
            return
        message = str(value.get("message", ""))
        if NO_DRIVER in message.lower() or not message:
            raise AppiumServerError(
                f"{self.spec.kind} on port {self.spec.port} is up but has no usable "
                f"{self.spec.probe_automation} driver: {message[:200]}"
            )


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
