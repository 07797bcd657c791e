"""The simulated phone speaks WebDriver like Appium does, including its failures."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.common import exceptions as sx

from geelark.auth import bearer_headers
from geelark.simulator import SimulatorConfig, SimulatorServer, parse_faults
from runtime.ports import PortInUse
from tests.worker.conftest import TIME_SCALE, free_port_base, wait_until
from worker.appium_server import ServerProcess, simdevice_spec
from worker.contract import port_plan
from worker.device import AppiumDevice
from worker.errors import AccountProblem, PostFailed, WorkerError
from worker.flow import flow_path_for, load_flow
from worker.flow_engine import FlowRun
from worker.session import open_session, quit_session, session_options
from worker.simdevice.server import SimDeviceServer


class Cloud:
    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim

    def api(self, path: str, body: dict[str, object]) -> dict[str, object]:
        reply = requests.post(
            self.sim.url + "/open/v1" + path,
            json=body,
            headers=bearer_headers(self.sim.config.token),
            timeout=10,
        ).json()
        assert reply["code"] == 0, reply
        return reply["data"] or {}

    def boot(self, name: str) -> str:
        """Start the phone, enable ADB, upload one video; returns the udid ip:port."""
        phone_id = self.sim.phone_id(name)
        self.api("/phone/start", {"ids": [phone_id]})
        wait_until(lambda: self._running(phone_id), 10, "boot")
        self.api("/adb/setStatus", {"ids": [phone_id], "open": True})
        item = wait_until(lambda: self._adb(phone_id), 10, "adb")
        target = self.api("/upload/getUrl", {"fileType": "mp4"})
        requests.put(str(target["uploadUrl"]), data=b"\x00" * 64, timeout=10)
        task = self.api("/phone/uploadFile", {"id": phone_id, "fileUrl": target["resourceUrl"]})["taskId"]
        wait_until(
            lambda: self.api("/phone/uploadFile/result", {"taskId": task})["status"] == 2, 10, "upload"
        )
        return f"{item['ip']}:{item['port']}"

    def _running(self, phone_id: str) -> bool:
        details = self.api("/phone/status", {"ids": [phone_id]})["successDetails"]
        return details[0]["status"] == 0  # type: ignore[index]

    def _adb(self, phone_id: str) -> dict[str, object] | None:
        item = self.api("/adb/getData", {"ids": [phone_id]})["items"][0]  # type: ignore[index]
        return item if item.get("code") == 0 and item.get("ip") else None


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    faults = {
        "phones": {
            "lost": {"scenarios": {"session_lost": 1}},
            "busy": {"scenarios": {"ok": 1}},
            "blocked": {"scenarios": {"actionblocked": 1}},
            "gone": {"scenarios": {"suspended": 1}},
            "failing": {"scenarios": {"post_fails": 1}},
        },
    }
    config = SimulatorConfig(
        phones=("ok", "lost", "busy", "blocked", "gone", "failing"),
        time_scale=TIME_SCALE,
        faults=parse_faults(faults),
    )
    with SimulatorServer(config) as sim:
        yield Cloud(sim)


@pytest.fixture
def device(cloud: Cloud) -> Iterator[str]:
    server = SimDeviceServer(0, cloud.sim.url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def options(udid: str, tag: str = "t1") -> object:
    return session_options(port_plan(0), udid, load_flow(), extra_caps={"sim:jobTag": tag})


def test_a_session_on_an_unknown_device_is_not_created(device: str) -> None:
    with pytest.raises(sx.SessionNotCreatedException, match="not in the list of connected devices"):
        open_session(device, options("127.0.0.1:1"), timeout_s=10)  # type: ignore[arg-type]


def test_the_default_flow_posts_once_and_the_cloud_records_it(cloud: Cloud, device: str) -> None:
    udid = cloud.boot("ok")
    driver = open_session(device, options(udid, "job-9"), timeout_s=10)  # type: ignore[arg-type]
    try:
        files = requests.get(f"{cloud.sim.url}/_sim/devices/{udid}", timeout=5).json()["files"]
        variables = {
            "caption": "hi #sim",
            "video_name": files[0].rsplit("/", 1)[-1],
            "account": "ok",
            "job_id": "j",
        }
        FlowRun(AppiumDevice(driver), load_flow(), variables, time.monotonic() + 30).run()
        assert driver.page_source.startswith("<?xml")
        assert driver.get_screenshot_as_png().startswith(b"\x89PNG")
    finally:
        quit_session(driver)
    publishes = cloud.sim.state()["publishes"]
    assert [(p["jobTag"], p["caption"], p["serialName"]) for p in publishes] == [("job-9", "hi #sim", "ok")]
    with pytest.raises(sx.InvalidSessionIdException):
        driver.page_source  # noqa: B018 - the session is gone after quit


def test_session_lost_scenario_kills_the_session_mid_flow(cloud: Cloud, device: str) -> None:
    udid = cloud.boot("lost")
    driver = open_session(device, options(udid), timeout_s=10)  # type: ignore[arg-type]
    files = requests.get(f"{cloud.sim.url}/_sim/devices/{udid}", timeout=5).json()["files"]
    variables = {"caption": "x", "video_name": files[0].rsplit("/", 1)[-1], "account": "lost", "job_id": "j"}
    with pytest.raises(sx.InvalidSessionIdException):
        FlowRun(AppiumDevice(driver), load_flow(), variables, time.monotonic() + 30).run()


def test_a_phone_stopped_underneath_answers_like_a_crashed_uiautomator2(cloud: Cloud, device: str) -> None:
    udid = cloud.boot("ok")
    driver = open_session(device, options(udid), timeout_s=10)  # type: ignore[arg-type]
    cloud.sim.kill_phone(cloud.sim.phone_id("ok"))
    with pytest.raises(sx.WebDriverException, match="socket hang up"):
        driver.find_elements("id", "com.example.poster:id/create_button")


def test_unknown_locator_strategy_is_an_invalid_selector(cloud: Cloud, device: str) -> None:
    driver = open_session(device, options(cloud.boot("ok")), timeout_s=10)  # type: ignore[arg-type]
    try:
        with pytest.raises(sx.InvalidSelectorException):
            driver.find_element("css selector", "#x")
        with pytest.raises(sx.NoSuchElementException):
            driver.find_element("id", "nope")
        assert driver.find_elements("-android uiautomator", 'new UiSelector().text("Create")')
    finally:
        quit_session(driver)


def test_server_process_restarts_a_dead_server_and_refuses_a_taken_port(tmp_path: Path, cloud: Cloud) -> None:
    port = free_port_base()
    server = ServerProcess(simdevice_spec(port, cloud.sim.url, tmp_path / "sim.log"), ready_timeout_s=20)
    try:
        first = server.start()
        assert server.is_healthy()
        proc = first.process()
        assert proc is not None
        proc.kill()
        proc.wait(5)
        second = server.ensure_running()
        assert second != first and second.is_alive() and not first.is_alive()
        with pytest.raises(PortInUse):
            ServerProcess(simdevice_spec(port, cloud.sim.url, tmp_path / "other.log")).start()
    finally:
        server.stop()
    assert not second.is_alive()


def test_a_launched_server_starts_while_the_worker_goes_on_and_is_awaited_when_needed(
    tmp_path: Path, cloud: Cloud
) -> None:
    port = free_port_base()
    seen: list[object] = []
    server = ServerProcess(
        simdevice_spec(port, cloud.sim.url, tmp_path / "sim.log"), ready_timeout_s=20, on_change=seen.append
    )
    try:
        launched = server.launch()
        assert seen == [launched]  # named for the heartbeat before anything waits on it
        assert server.launch() == launched  # idempotent: one process per worker
        ready = server.ensure_running()
        assert ready == launched and server.is_healthy()
        assert server.ensure_running() == launched
    finally:
        server.stop()
    assert not launched.is_alive()


INSTAGRAM = load_flow(flow_path_for("instagram"))


def instagram_run(
    cloud: Cloud, device: str, name: str, interruptions: float = 0.0
) -> tuple[AppiumDevice, FlowRun]:
    cloud.sim.cloud.faults = dataclasses.replace(cloud.sim.cloud.faults, app_interruptions=interruptions)
    udid = cloud.boot(name)
    caps = session_options(port_plan(0), udid, INSTAGRAM, extra_caps={"sim:jobTag": f"job-{name}"})
    driver = open_session(device, caps, timeout_s=10)
    variables = {"caption": "first line\nsecond 🎉 #reel", "video_name": "", "account": name, "job_id": "j"}
    return AppiumDevice(driver), FlowRun(AppiumDevice(driver), INSTAGRAM, variables, time.monotonic() + 60)


def test_the_instagram_flow_posts_on_the_simulated_instagram_with_every_interruption(
    cloud: Cloud, device: str
) -> None:
    phone, run = instagram_run(cloud, device, "busy", interruptions=1.0)
    try:
        run.run()
    finally:
        quit_session(phone.driver)
    assert run.fired.get("dismiss") and run.fired.get("not_now") and run.fired.get("rate_instagram")
    assert run.fired.get("camera_in_another_mode")
    publishes = cloud.sim.state()["publishes"]
    assert [(p["jobTag"], p["caption"]) for p in publishes] == [("job-busy", "first line\nsecond 🎉 #reel")]
    assert publishes[0]["video"].endswith(".mp4")


@pytest.mark.parametrize(
    ("name", "error", "kind"),
    [
        ("blocked", AccountProblem, "action_blocked"),
        ("gone", AccountProblem, "suspended"),
        ("failing", PostFailed, ""),
    ],
)
def test_the_simulated_instagram_shows_account_problems_and_failed_posts(
    cloud: Cloud, device: str, name: str, error: type[WorkerError], kind: str
) -> None:
    phone, run = instagram_run(cloud, device, name)
    try:
        with pytest.raises(error) as info:
            run.run()
    finally:
        quit_session(phone.driver)
    if kind:
        assert info.value.error_type == kind
