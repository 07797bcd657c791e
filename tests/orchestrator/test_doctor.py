"""`doctor` and the checks `--run` makes before anything real is started or billed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from orchestrator.errors import PreflightFailed
from orchestrator.run.doctor import Machine, doctor, require_ready
from runtime.platform import exe_name
from runtime.settings import Settings, install_path
from runtime.tools import resolve_adb
from tests.orchestrator.conftest import Workdir

SDK = Path("/sdk")
JDK = Path("/jdk")
GOOD_ENV = {"GEELARK_TOKEN": "t", "ANDROID_HOME": str(SDK), "JAVA_HOME": str(JDK)}


def machine(env: dict[str, str], **changes: object) -> Machine:
    sdk_adb = SDK / "platform-tools" / exe_name("adb")
    files = {sdk_adb, JDK / "bin" / exe_name("java")}
    home = install_path(Settings().worker.appium_home)
    files |= {home / "node_modules" / p / "package.json" for p in ("appium", "appium-uiautomator2-driver")}
    which = {"node": "/usr/bin/node", "adb": str(sdk_adb)}
    versions = {"/usr/bin/node": "v20.19.1", str(sdk_adb): "Android Debug Bridge version 1.0.41"}

    def version(command: list[str]) -> str:
        return versions[command[0]]

    m = Machine(env, which=which.get, version=version, exists=lambda p: p in files, ports=lambda s: None)
    for key, value in changes.items():
        setattr(m, key, value)
    return m


def problems(m: Machine) -> dict[str, str]:
    return {f.check: f.line() for f in doctor(Settings(), m) if not f.ok}


def test_a_ready_pc_has_no_problems() -> None:
    if not (install_path(Settings().worker.appium_home) / "package.json").is_file():
        pytest.skip("tools/appium/package.json is missing")
    assert problems(machine(GOOD_ENV)) == {}


@pytest.mark.parametrize(
    ("env_change", "check", "fix_words"),
    [
        ({"GEELARK_TOKEN": ""}, "GeeLark credentials", "set GEELARK_TOKEN"),
        ({"ANDROID_HOME": ""}, "ANDROID_HOME", "Android SDK folder"),
        ({"JAVA_HOME": ""}, "JAVA_HOME", "JDK"),
    ],
)
def test_each_missing_piece_is_named_with_its_fix(
    env_change: dict[str, str], check: str, fix_words: str
) -> None:
    found = problems(machine({**GOOD_ENV, **env_change}))
    assert check in found and fix_words in found[check]


def test_two_adbs_are_a_problem_and_old_node_too() -> None:
    m = machine(GOOD_ENV)
    on_disk = m.exists
    m.exists = lambda p: p == Path("/usr/bin/adb") or on_disk(p)
    versions = {"/usr/bin/node": "v18.2.0", "/usr/bin/adb": "Android Debug Bridge version 1.0.39"}
    m.version = lambda command: versions[command[0]]
    other_adb = dataclasses.replace(
        Settings(), worker=dataclasses.replace(Settings().worker, adb_path="/usr/bin/adb")
    )
    found = {f.check: f.line() for f in doctor(other_adb, m) if not f.ok}
    assert "restart each other" in found["adb"] and "too old" in found["node"]


def test_the_default_adb_is_the_sdks_one_so_workers_and_appium_share_it() -> None:
    sdk = SDK / "platform-tools" / exe_name("adb")
    assert resolve_adb("adb", GOOD_ENV, lambda p: p == sdk) == str(sdk)
    assert resolve_adb("adb", {}, lambda p: True) == "adb"
    assert resolve_adb("C:/tools/adb.exe", GOOD_ENV, lambda p: True) == "C:/tools/adb.exe"


def test_credentials_that_geelark_refuses_are_a_problem() -> None:
    def wallet() -> str:
        raise RuntimeError("40001 unauthorized")

    found = problems(machine(GOOD_ENV, wallet=wallet))
    assert "40001 unauthorized" in found["GeeLark credentials"]


def test_run_refuses_naming_every_problem_at_once() -> None:
    with pytest.raises(PreflightFailed) as info:
        require_ready(Settings(), machine({"GEELARK_TOKEN": ""}))
    text = str(info.value)
    assert "GeeLark credentials" in text and "ANDROID_HOME" in text and "JAVA_HOME" in text
    assert "--run --simulate" in text


def test_a_real_run_without_credentials_starts_nothing_and_says_why(workdir: Workdir) -> None:
    workdir.seed(jobs=2, accounts=1)
    done = workdir.cli("--run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not ready for real phones" in done.stderr and "GeeLark credentials" in done.stderr
    assert not (workdir.path / "logs" / "worker_0.log").exists()  # no worker was started
    assert workdir.run_dir.read_heartbeats() == {}
    doc = workdir.cli("--json", "doctor", "--offline")
    assert doc.returncode == 2
    report = json.loads(doc.stdout)
    assert report["ready"] is False
    assert {c["check"] for c in report["checks"]} >= {"GeeLark credentials", "node", "adb", "ports"}


def test_relative_tool_paths_are_inside_the_installation() -> None:
    assert install_path(Path("tools/appium")) == Path(__file__).resolve().parents[2] / "tools" / "appium"
    assert install_path(Path("/opt/appium")) == Path("/opt/appium")
