"""The phone manager against the GeeLark simulator: reuse, the ledger, and a hung boot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from geelark.client import GeeLarkClient
from geelark.settings import GeeLarkSettings
from geelark.simulator import SimulatorConfig, SimulatorServer, parse_faults
from runtime.state import RunDir
from tests.worker.conftest import TIME_SCALE
from worker.adb import SimAdb
from worker.errors import PhoneUnavailable
from worker.phone import PhoneManager, PhoneTimeouts

FAULTS = {"phones": {"stuck": {"stuck_starting": 1.0}}}


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(phones=("a", "b", "stuck"), time_scale=TIME_SCALE, faults=parse_faults(FAULTS))
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def phones(sim: SimulatorServer, tmp_path: Path) -> Iterator[PhoneManager]:
    settings = GeeLarkSettings(
        base_url=sim.url,
        token=sim.config.token,
        rate_window_s=60 * TIME_SCALE,
        rate_margin_s=0.1,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    client = GeeLarkClient(settings)
    timeouts = PhoneTimeouts(boot_s=180 * TIME_SCALE, adb_s=60 * TIME_SCALE, poll_s=0.05)
    manager = PhoneManager(
        client, SimAdb(sim.url, 0.05), RunDir(tmp_path / ".orchestrator"), 7, timeouts=timeouts
    )
    try:
        yield manager
    finally:
        manager.release(stop=True)
        client.close()


def boots(sim: SimulatorServer) -> dict[str, int]:
    return {p["serialName"]: p["boots"] for p in sim.state()["phones"]}


def test_the_phone_is_reused_for_the_same_account_and_recorded_in_the_ledger(
    sim: SimulatorServer, phones: PhoneManager
) -> None:
    first = phones.acquire("a")
    assert phones.acquire("a") == first
    assert boots(sim)["a"] == 1
    assert set(phones.run_dir.phones_left_running()) == {first.phone_id}
    phones.release(stop=True)
    assert phones.run_dir.phones_left_running() == {}


def test_another_account_stops_the_phone_held_before(sim: SimulatorServer, phones: PhoneManager) -> None:
    a = phones.acquire("a")
    phones.acquire("b")
    running = phones.run_dir.phones_left_running()
    assert a.phone_id not in running and phones.current is not None
    assert phones.current.phone_id in running


def test_a_boot_that_hangs_is_stopped_and_reported(sim: SimulatorServer, phones: PhoneManager) -> None:
    phones.timeouts = PhoneTimeouts(boot_s=0.4, adb_s=0.4, poll_s=0.05)
    with pytest.raises(PhoneUnavailable) as info:
        phones.acquire("stuck")
    assert info.value.error_type == "phone_boot_timeout"
    assert phones.current is None
    assert phones.run_dir.phones_left_running() == {}
    stuck = next(p for p in sim.state()["phones"] if p["serialName"] == "stuck")
    assert stuck["status"] == 2 or stuck["stopping"]


def test_a_phone_another_worker_now_uses_is_left_running(sim: SimulatorServer, phones: PhoneManager) -> None:
    handle = phones.acquire("a")
    phones.in_use_elsewhere = lambda account: account == "a"
    phones.release(stop=True)
    assert phones.current is None
    state = next(p for p in sim.state()["phones"] if p["serialName"] == "a")
    assert state["status"] == 0 and not state["stopping"]
    assert (
        handle.phone_id in phones.run_dir.phones_left_running()
    )  # still on the ledger until its user stops it
