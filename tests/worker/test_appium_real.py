"""Real Appium 3 (pinned in tools/appium, fake driver): two workers' servers on their own ports, each
running the default flow in a session with its own port capabilities, then stopped by PID.

Skipped with the reason when Node or the install is missing, except under CI (env CI), where that
is a failure: `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.platform import ProcessRef
from tests.worker.conftest import REPO, free_port_base
from worker.appium_server import ServerProcess, appium_spec
from worker.contract import PortBases, WorkerPorts, fleet_plan
from worker.device import AppiumDevice
from worker.errors import AccountProblem
from worker.flow import load_flow
from worker.flow_engine import FlowRun
from worker.session import open_session, quit_session, session_options

pytestmark = pytest.mark.appium

APPIUM_HOME = REPO / "tools" / "appium"
APPS = Path(__file__).resolve().parent / "apps"
VARS = {"caption": "hello from a worker #appium", "video_name": "video.mp4", "account": "acc", "job_id": "j1"}


def missing_install() -> str | None:
    if shutil.which("node") is None:
        return "Node is not on PATH (needed for the Appium integration test)"
    if not (APPIUM_HOME / "node_modules" / "appium" / "index.js").is_file():
        return f"Appium is not installed: run `npm ci` in {APPIUM_HOME} (python dev.py test does it)"
    return None


Servers = list[tuple[WorkerPorts, ServerProcess]]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    reason = missing_install()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Appium test: {reason}")
        pytest.skip(reason)
    plans = fleet_plan([0, 1], bases=PortBases(appium=free_port_base(2)))
    started = [
        ServerProcess(
            appium_spec(
                APPIUM_HOME,
                plan.appium,
                log_path=tmp_path / f"appium_{plan.worker_id}.log",
                use_drivers=("fake",),
                probe=("Fake", "Fake"),
            )
        )
        for plan in plans
    ]
    try:
        yield list(zip(plans, started, strict=True))
    finally:
        for server in started:
            server.stop()


def fake_caps(app: str) -> dict[str, str]:
    return {"platformName": "Fake", "appium:automationName": "Fake", "appium:app": str(APPS / app)}


def test_two_workers_servers_run_the_default_flow_on_their_own_ports_and_stop_by_pid(
    servers: Servers,
) -> None:
    refs: list[ProcessRef] = []
    errors: list[BaseException] = []

    def start(server: ServerProcess) -> None:
        try:
            refs.append(server.start())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(server,)) for _, server in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert errors == []
    flow = load_flow()
    for plan, server in servers:
        driver = open_session(
            server.url,
            session_options(plan, f"fake-{plan.worker_id}", flow, extra_caps=fake_caps("post_video.xml")),
        )
        try:
            assert driver.capabilities["systemPort"] == plan.system_port
            assert driver.capabilities["mjpegServerPort"] == plan.mjpeg
            FlowRun(AppiumDevice(driver), flow, dict(VARS), time.monotonic() + 60).run()
        finally:
            quit_session(driver)
    children = [child for ref in refs if (p := ref.process()) for child in p.children(recursive=True)]
    for _, server in servers:
        server.stop()
    assert not any(ref.is_alive() for ref in refs)
    assert not any(child.is_running() and child.status() != "zombie" for child in children)


def test_an_account_screen_under_real_appium_is_an_account_problem(servers: Servers) -> None:
    plan, server = servers[0]
    server.start()
    flow = load_flow()
    driver = open_session(
        server.url, session_options(plan, "fake-0", flow, extra_caps=fake_caps("suspended.xml"))
    )
    try:
        with pytest.raises(AccountProblem) as info:
            FlowRun(AppiumDevice(driver), flow, dict(VARS), time.monotonic() + 30).run()
        assert info.value.error_type == "suspended"
    finally:
        quit_session(driver)
