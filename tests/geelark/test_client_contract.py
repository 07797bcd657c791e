"""The client against the running simulator, endpoint by endpoint, in both auth modes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from geelark import (
    AuthError,
    GeeLarkClient,
    ItemFailed,
    PhoneNotFound,
    PhoneNotRunning,
    PhoneStatus,
    UploadFailed,
    UploadStatus,
)
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, sim_get

MakeClient = Callable[..., GeeLarkClient]
MakeSim = Callable[..., SimulatorServer]


@pytest.fixture(params=["token", "key"])
def client(
    request: pytest.FixtureRequest, sim_clocked: SimulatorServer, make_client: MakeClient, clock: FakeClock
) -> GeeLarkClient:
    return make_client(sim_clocked, request.param, clock=clock)


def boot(client: GeeLarkClient, clock: FakeClock, name: str) -> str:
    phone = client.find_phone(name)
    client.start_phone(phone.id)
    client.wait_until_running(phone.id, timeout_s=120, poll_s=2)
    return phone.id


def test_auth_check_and_wallet(client: GeeLarkClient) -> None:
    client.check_auth()
    assert client.wallet().balance == pytest.approx(100.0)


@pytest.mark.parametrize("mode", ["token", "key"])
def test_wrong_credentials_raise_auth_error(
    sim_clocked: SimulatorServer, make_client: MakeClient, mode: str
) -> None:
    creds = {"token": "nope"} if mode == "token" else {"api_key": "nope"}
    with pytest.raises(AuthError) as caught:
        make_client(sim_clocked, mode, **creds).check_auth()
    assert caught.value.code == 40003 and caught.value.account_or_config and not caught.value.retryable


def test_list_pages_and_ids_are_strings(client: GeeLarkClient) -> None:
    page = client.list_phones(page=2, page_size=2)
    assert (page.total, page.page, len(page.items)) == (5, 2, 2)
    assert [p.serial_name for p in page.items] == ["phone-03", "phone-04"]
    assert all(isinstance(p.id, str) for p in page.items)
    assert [p.serial_name for p in client.iter_phones(page_size=2)] == [f"phone-0{i}" for i in range(1, 6)]


def test_find_phone_searches_every_page_for_the_exact_name(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    names = [f"anna-{i}" for i in range(1, 12)] + ["anna"]
    sim = make_sim(phones=tuple(names))
    client = make_client(sim)
    assert client.find_phone("anna", page_size=5).serial_name == "anna"
    assert client.find_phone("anna-1", page_size=5).serial_name == "anna-1"
    assert sim_get(sim, "/_sim/state").json()["calls"]["/open/v1/phone/list"] == 4
    with pytest.raises(PhoneNotFound):
        client.find_phone("bob")


def test_status_is_batched_by_100_and_reports_unknown_ids(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(phones=tuple(f"p{i}" for i in range(150)))
    client = make_client(sim)
    ids = [p.id for p in client.iter_phones()]
    result = client.phone_status([*ids, "999"])
    assert len(result.ok) == 150
    assert all(s.status is PhoneStatus.STOPPED for s in result.ok.values())
    assert result.failed["999"].code == 42001
    assert sim_get(sim, "/_sim/state").json()["calls"]["/open/v1/phone/status"] == 2


def test_boot_lifecycle_adb_and_stop(
    client: GeeLarkClient, sim_clocked: SimulatorServer, clock: FakeClock
) -> None:
    phone_id = client.find_phone("phone-01").id
    started = client.start_phone(phone_id)
    assert started.url and started.charging_method == "Per-minute usage"
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STARTING
    assert client.wait_until_running(phone_id).status is PhoneStatus.RUNNING
    client.set_adb([phone_id])
    adb = client.wait_for_adb(phone_id)
    assert adb.ip == "127.0.0.1" and adb.port > 0 and len(adb.pwd) == 6
    client.stop_phone(phone_id)
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.RUNNING  # still shutting down
    clock.advance(5)
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STOPPED
    with pytest.raises(ItemFailed) as caught:
        client.wait_for_adb(phone_id)
    assert caught.value.item.code == 42002


def test_each_boot_gets_a_fresh_adb_password_and_phones_get_distinct_ports(
    client: GeeLarkClient, clock: FakeClock
) -> None:
    one, two = boot(client, clock, "phone-01"), boot(client, clock, "phone-02")
    client.set_adb([one, two])
    first, other = client.wait_for_adb(one), client.wait_for_adb(two)
    assert first.serial != other.serial
    client.stop_phone(one)
    clock.advance(10)
    client.start_phone(one)
    client.wait_until_running(one)
    client.set_adb([one])
    assert client.wait_for_adb(one).pwd != first.pwd


def test_adb_on_a_stopped_phone_is_phone_not_running(client: GeeLarkClient) -> None:
    phone_id = client.find_phone("phone-03").id
    with pytest.raises(PhoneNotRunning):
        client.set_adb([phone_id])
    assert client.adb_data([phone_id]).failed[phone_id].code == 42002


def test_billing_rounds_up_per_started_minute(
    client: GeeLarkClient, sim_clocked: SimulatorServer, clock: FakeClock
) -> None:
    phone_id = client.find_phone("phone-04").id
    client.start_phone(phone_id)
    clock.advance(61)
    client.stop_phone(phone_id)
    clock.advance(5)  # shutdown delay: 66 s of session, two started minutes
    phone = next(p for p in sim_get(sim_clocked, "/_sim/state").json()["phones"] if p["id"] == phone_id)
    assert phone["billedMinutes"] == 2
    assert client.wallet().balance == pytest.approx(100.0 - 2 * 0.01)


def test_stop_all_stops_every_running_phone(client: GeeLarkClient, clock: FakeClock) -> None:
    for name in ("phone-01", "phone-02", "phone-03"):
        client.start_phone(client.find_phone(name).id)
    clock.advance(30)
    running = [p.id for p in client.iter_phones() if p.status.is_up]
    assert len(running) == 3
    assert client.stop_phones(running).all_ok
    clock.advance(5)
    assert not [p for p in client.iter_phones() if p.status.is_up]
    assert client.stop_phones(running).all_ok  # stopping a stopped phone is fine


def test_upload_chain_puts_the_file_on_the_phone(
    client: GeeLarkClient, sim_clocked: SimulatorServer, clock: FakeClock, tmp_path: Path
) -> None:
    phone_id = boot(client, clock, "phone-01")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 1024)
    task_id = client.upload_video(phone_id, video)
    assert client.upload_result(task_id) is UploadStatus.SUCCESS
    client.set_adb([phone_id])
    adb = client.wait_for_adb(phone_id)
    files = sim_get(sim_clocked, f"/_sim/devices/{adb.serial}").json()["files"]
    assert len(files) == 1 and files[0].startswith("/sdcard/Download/") and files[0].endswith(".mp4")
    clock.advance(3601)
    assert client.upload_result(task_id) is UploadStatus.UNKNOWN


def test_upload_to_a_stopped_phone_is_refused(client: GeeLarkClient, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    with pytest.raises(PhoneNotRunning):
        client.upload_video(client.find_phone("phone-02").id, video)


def test_upload_without_put_fails(client: GeeLarkClient, clock: FakeClock) -> None:
    phone_id = boot(client, clock, "phone-01")
    target = client.get_upload_url()
    task_id = client.upload_file_to_phone(phone_id, target.resource_url)
    clock.advance(10)
    assert client.upload_result(task_id) is UploadStatus.FAILED


def test_injected_upload_failure_raises_upload_failed(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(real_clock=clock, faults={"phone": {"upload_fail": 1.0}})
    client = make_client(sim, clock=clock)
    phone_id = boot(client, clock, "phone-01")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    with pytest.raises(UploadFailed):
        client.upload_video(phone_id, video)
    assert sim.state()["faults"]["upload_fail"] == 1


def test_batch_details_are_read_even_under_a_40009_envelope(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = make_sim(all_failed_code=40009)
    client = make_client(sim)
    result = client.start_phones(["1", "2"])
    assert not result.ok and set(result.failed) == {"1", "2"}
    assert result.failed["1"].code == 42001
    assert client.stop_phones(["3"]).failed["3"].code == 42001


def test_expired_phone_reports_3_and_cannot_start(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(expired=("phone-05",))
    client = make_client(sim)
    phone = client.find_phone("phone-05")
    assert phone.status is PhoneStatus.EXPIRED and not phone.status.is_up
    with pytest.raises(ItemFailed) as caught:
        client.start_phone(phone.id)
    assert caught.value.item.code == 43004 and caught.value.account_or_config


def test_time_scale_makes_a_real_boot_fast(make_sim: MakeSim, make_client: MakeClient) -> None:
    # Real clock: a 30 s boot and 3 s ADB delay at time scale 0.01 take 0.3 s and 0.03 s.
    sim = make_sim(time_scale=0.01)
    client = make_client(sim)
    phone_id = sim.phone_id("phone-01")
    client.start_phone(phone_id)
    client.wait_until_running(phone_id, timeout_s=20, poll_s=0.05)
    client.set_adb([phone_id])
    assert client.wait_for_adb(phone_id, timeout_s=20, poll_s=0.02).ready
    client.stop_phone(phone_id)
    assert sim.state()["phones"][0]["billedMinutes"] >= 1
