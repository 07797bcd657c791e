"""`parallel-orchestrator doctor`: is this PC ready to post on real phones? One finding per check,
each problem with its fix. `--run` runs the same checks before it starts or bills anything
(unless simulated) and refuses with exit code 2 when one fails.

Checks: Node (Appium 3 needs 20.19 or newer), the pinned Appium and its UiAutomator2 driver,
ANDROID_HOME and JAVA_HOME (a missing ANDROID_HOME was the original tool's largest failure cause),
one adb for workers and Appium (two versions restart each other's server), the GeeLark credentials
(`/pay/wallet` answers in both auth modes) and the port plan.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config import port_table
from orchestrator.errors import PreflightFailed
from orchestrator.run.preflight import check_ports
from runtime.platform import exe_name
from runtime.settings import Settings, install_path
from runtime.tools import resolve_adb

NODE_MIN = (20, 19)
FIX_ANDROID_HOME = (
    "Set ANDROID_HOME to the Android SDK folder (the one holding platform-tools),"
    " e.g. setx ANDROID_HOME C:\\Android, then reopen the console."
)
FIX_PLATFORM_TOOLS = (
    "Install the SDK platform-tools into it (Android Studio's SDK Manager or the platform-tools zip)."
)
FIX_JAVA_HOME = (
    "Install a Java 17+ JDK and set JAVA_HOME to its folder (Appium's UiAutomator2 driver needs it)."
)
FIX_CREDENTIALS = (
    "Set them in this console (set GEELARK_TOKEN=... or set GEELARK_APP_ID=... and"
    " set GEELARK_API_KEY=...), from GeeLark's API page."
)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.check}: {self.detail}"
        return f"FIX   {self.check}: {self.detail}. {self.fix}".rstrip()


def _version_of(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    return (done.stdout or done.stderr).strip()


@dataclass
class Machine:
    """What the checks look at (injectable for tests)."""

    env: Mapping[str, str]
    which: Callable[[str], str | None] = shutil.which
    version: Callable[[list[str]], str] = _version_of  # raises OSError / TimeoutExpired
    exists: Callable[[Path], bool] = field(default=lambda p: p.exists())
    wallet: Callable[[], str] | None = None  # one GeeLark call; raises on failure
    ports: Callable[[Settings], None] = field(default=lambda s: check_ports(port_table(s)))


def _node(m: Machine) -> Finding:
    node = m.which("node")
    if node is None:
        return Finding(
            "node",
            False,
            "Node is not on PATH",
            "Install Node.js 20.19 or newer (nodejs.org), then reopen the console.",
        )
    try:
        text = m.version([node, "--version"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding("node", False, f"{node} does not run ({exc})", "Reinstall Node.js.")
    found = re.search(r"v?(\d+)\.(\d+)", text)
    if found is None or (int(found[1]), int(found[2])) < NODE_MIN:
        return Finding(
            "node",
            False,
            f"Node {text or '?'} is too old",
            "Install Node.js 20.19 or newer (Appium 3 needs it).",
        )
    return Finding("node", True, f"Node {text}")


def _appium(settings: Settings, m: Machine) -> list[Finding]:
    home = install_path(settings.worker.appium_home)
    fix = f"Run `npm ci` in {home} (installs the pinned Appium and its UiAutomator2 driver)."
    try:
        pinned = json.loads((home / "package.json").read_text(encoding="utf-8"))["dependencies"]
    except (OSError, ValueError, KeyError):
        return [
            Finding(
                "appium",
                False,
                f"{home} has no package.json naming the Appium to use",
                "Set [worker] appium_home to the tools/appium folder of this installation.",
            )
        ]
    out = []
    for package, check in (("appium", "appium"), ("appium-uiautomator2-driver", "uiautomator2 driver")):
        installed = home / "node_modules" / package / "package.json"
        if not m.exists(installed):
            out.append(Finding(check, False, f"{package} is not installed in {home}", fix))
            continue
        try:
            version = json.loads(installed.read_text(encoding="utf-8")).get("version", "?")
        except (OSError, ValueError):
            version = "?"
        want = pinned.get(package, version)
        ok = version == want
        out.append(
            Finding(check, ok, f"{package} {version}" + ("" if ok else f", the pinned one is {want}"), fix)
        )
    return out


def _sdk(m: Machine) -> list[Finding]:
    out = []
    android = m.env.get("ANDROID_HOME") or m.env.get("ANDROID_SDK_ROOT") or ""
    sdk_adb = Path(android) / "platform-tools" / exe_name("adb") if android else None
    if not android:
        out.append(
            Finding(
                "ANDROID_HOME",
                False,
                "not set",
                FIX_ANDROID_HOME,
            )
        )
    elif sdk_adb is None or not m.exists(sdk_adb):
        out.append(
            Finding(
                "ANDROID_HOME",
                False,
                f"{android} has no platform-tools\\{exe_name('adb')}",
                FIX_PLATFORM_TOOLS,
            )
        )
    else:
        out.append(Finding("ANDROID_HOME", True, android))
    java = m.env.get("JAVA_HOME", "")
    if not java:
        out.append(
            Finding(
                "JAVA_HOME",
                False,
                "not set",
                FIX_JAVA_HOME,
            )
        )
    elif not m.exists(Path(java) / "bin" / exe_name("java")):
        out.append(
            Finding(
                "JAVA_HOME",
                False,
                f"{java} has no bin\\{exe_name('java')}",
                "Point JAVA_HOME at a JDK folder.",
            )
        )
    else:
        out.append(Finding("JAVA_HOME", True, java))
    return out


def _adb(settings: Settings, m: Machine) -> Finding:
    configured = resolve_adb(settings.worker.adb_path, m.env, m.exists)
    resolved = (
        m.which(configured)
        if not Path(configured).is_absolute()
        else (configured if m.exists(Path(configured)) else None)
    )
    fix = "Set [worker] adb_path to %ANDROID_HOME%\\platform-tools\\adb.exe (Appium uses that one)."
    if resolved is None:
        return Finding("adb", False, f"{configured!r} is not found", fix)
    try:
        text = m.version([resolved, "version"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding("adb", False, f"{resolved} does not run ({exc})", fix)
    version = text.splitlines()[0] if text else "?"
    android = m.env.get("ANDROID_HOME") or m.env.get("ANDROID_SDK_ROOT") or ""
    if android:
        sdk_adb = Path(android) / "platform-tools" / exe_name("adb")
        if m.exists(sdk_adb) and os.path.normcase(str(Path(resolved).resolve())) != os.path.normcase(
            str(sdk_adb.resolve())
        ):
            return Finding(
                "adb",
                False,
                f"the workers use {resolved} but Appium uses {sdk_adb}: two adb servers restart each other",
                fix,
            )
    return Finding("adb", True, f"{resolved} ({version})")


def _geelark(m: Machine) -> Finding:
    key_mode = bool(m.env.get("GEELARK_APP_ID") and m.env.get("GEELARK_API_KEY"))
    if not (m.env.get("GEELARK_TOKEN") or key_mode):
        return Finding(
            "GeeLark credentials",
            False,
            "neither GEELARK_TOKEN nor GEELARK_APP_ID + GEELARK_API_KEY is set",
            FIX_CREDENTIALS,
        )
    mode = "key" if key_mode else "token"
    if m.wallet is None:
        return Finding("GeeLark credentials", True, f"{mode} mode (not tried)")
    try:
        balance = m.wallet()
    except Exception as exc:
        return Finding(
            "GeeLark credentials",
            False,
            f"/pay/wallet failed in {mode} mode: {exc}",
            "Check the credentials on GeeLark's API page and the [geelark] base_url.",
        )
    return Finding("GeeLark credentials", True, f"{mode} mode, /pay/wallet answers ({balance})")


def _ports(settings: Settings, m: Machine) -> Finding:
    try:
        m.ports(settings)
    except PreflightFailed as exc:
        return Finding(
            "ports",
            False,
            str(exc).split(". Stop that program")[0],
            "Stop that program, or move [worker] appium_port_base / system_port_base.",
        )
    workers = settings.orchestrator.workers
    return Finding(
        "ports", True, f"{workers} worker(s) from Appium port {settings.worker.appium_port_base}, all free"
    )


def real_machine(
    settings: Settings, env: Mapping[str, str], *, offline: bool = False, ports: bool = True
) -> Machine:
    """This PC, with one GeeLark call for the credentials (unless offline)."""

    def wallet() -> str:
        from geelark.client import GeeLarkClient
        from orchestrator.adapters.geelark_api import client_settings

        gl = client_settings(settings, env, simulator_url=None, quick=True)
        return f"balance {GeeLarkClient(gl).wallet().balance:.2f}"

    machine = Machine(env, wallet=None if offline else wallet)
    if not ports:
        machine.ports = lambda s: None
    return machine


def doctor(settings: Settings, machine: Machine) -> list[Finding]:
    """Every check, in the order an operator fixes them."""
    return [
        _geelark(machine),
        _node(machine),
        *_appium(settings, machine),
        *_sdk(machine),
        _adb(settings, machine),
        _ports(settings, machine),
    ]


def require_ready(settings: Settings, machine: Machine) -> list[Finding]:
    """`--run` on real phones: PreflightFailed naming every problem, before anything starts."""
    findings = doctor(settings, machine)
    problems = [f for f in findings if not f.ok]
    if problems:
        raise PreflightFailed(
            "this PC is not ready for real phones (parallel-orchestrator doctor says the same):\n  "
            + "\n  ".join(p.line() for p in problems)
            + "\nTo try everything without phones: parallel-orchestrator --run --simulate"
        )
    return findings
