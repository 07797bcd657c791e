"""Every injected fault, seen through the client: what is retried, what is not, what opens the breaker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from geelark import (
    CircuitOpen,
    ConnectFailed,
    ConnectionDropped,
    GeeLarkClient,
    HttpStatusError,
    ItemFailed,
    OutcomeUnknown,
    PhoneStatus,
    RateLimited,
    RequestTimeout,
    WaitTimeout,
)
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, client_settings, sim_post

MakeClient = Callable[..., GeeLarkClient]
MakeSim = Callable[..., SimulatorServer]


def calls(sim: SimulatorServer, path: str) -> int:
    return int(sim.state()["calls"].get(f"/open/v1{path}", 0))


@pytest.mark.parametrize(
    ("kind", "error"),
    [("http_502", HttpStatusError), ("http_524", HttpStatusError), ("drop", ConnectionDropped)],
)
def test_persistent_transport_faults_on_reads_are_retried_then_raised(
    make_sim: MakeSim, make_client: MakeClient, kind: str, error: type[Exception]
) -> None:
    sim = make_sim(faults={"api": {kind: 1.0}})
    client = make_client(sim, max_attempts=3, breaker_threshold=100)
    with pytest.raises(error) as caught:
        client.list_phones()
    assert caught.value.retryable  # type: ignore[attr-defined]
    assert calls(sim, "/phone/list") == 3
    assert sim.state()["faults"][kind] == 3


@pytest.mark.parametrize("kind", ["http_502", "http_524", "drop", "server_error", "rate_limit"])
def test_intermittent_faults_on_reads_are_absorbed_by_retries(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, kind: str
) -> None:
    sim = make_sim(real_clock=clock, seed=3, faults={"api": {kind: 0.5}})
    client = make_client(sim, clock=clock, max_attempts=12, breaker_threshold=100)
    for _ in range(10):
        assert len(client.list_phones().items) == 5
    assert sim.state()["faults"][kind] > 0


def test_slow_response_times_out(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(faults={"api": {"slow": 1.0, "slow_s": 2.0}})
    client = make_client(sim, read_timeout_s=0.2, max_attempts=2)
    with pytest.raises(RequestTimeout):
        client.wallet()
    assert sim.state()["faults"]["slow"] == 2


def test_ambiguous_start_failure_is_resolved_by_reading_the_status(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    # The 524 arrives after the start took effect: the client must not start the phone twice.
    sim = make_sim(
        real_clock=clock, faults={"api": {"http_524": 1.0, "after_effect": 1.0, "paths": ["/phone/start"]}}
    )
    client = make_client(sim, clock=clock)
    phone_id = sim.phone_id("phone-01")
    started = client.start_phone(phone_id)
    assert started.id == phone_id and started.url == ""
    assert calls(sim, "/phone/start") == 1
    assert sim.state()["phones"][0]["boots"] == 1
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STARTING


def test_ambiguous_start_that_did_nothing_is_retried_only_after_reading_the_status(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, faults={"api": {"server_error": 1.0, "paths": ["/phone/start"]}})
    client = make_client(sim, clock=clock, max_attempts=3)
    with pytest.raises(OutcomeUnknown) as caught:
        client.start_phone(sim.phone_id("phone-01"))
    assert caught.value.cause.code == 50000
    assert calls(sim, "/phone/start") == 3  # each retry only after reading the status
    assert calls(sim, "/phone/status") == 2


def test_ambiguous_upload_to_phone_is_not_repeated(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, faults={"api": {"drop": 1.0, "paths": ["/phone/uploadFile"]}})
    client = make_client(sim, clock=clock)
    phone_id = sim.phone_id("phone-01")
    client.start_phone(phone_id)
    client.wait_until_running(phone_id)
    with pytest.raises(OutcomeUnknown):
        client.upload_file_to_phone(phone_id, client.get_upload_url().resource_url)
    assert calls(sim, "/phone/uploadFile") == 1


def test_rate_limit_waits_for_the_next_minute(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, rate_limit_per_minute=3)
    clock.now = 1_800_000_010.0  # ten seconds into a minute
    client = make_client(sim, clock=clock)  # the client's own budget (200) does not stop it
    for _ in range(4):
        client.list_phones()
    assert sim.state()["rateLimited"] == {"/open/v1/phone/list": 1}
    assert clock.sleeps and 50.0 <= clock.sleeps[-1] <= 52.0


def test_persistent_40007_gives_up_with_rate_limited(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, faults={"api": {"rate_limit": 1.0}})
    client = make_client(sim, clock=clock, max_attempts=3)
    with pytest.raises(RateLimited) as caught:
        client.list_phones()
    assert caught.value.rate_limited and caught.value.code == 40007
    assert len(clock.sleeps) == 2


def test_40014_opens_the_breaker_for_two_hours(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, rate_limit_per_hour=5)
    client = make_client(sim, clock=clock)
    for _ in range(5):
        client.list_phones()
    with pytest.raises(CircuitOpen) as caught:
        client.list_phones()
    assert "40014" in caught.value.reason
    assert caught.value.until == datetime.fromtimestamp(clock.now + 7200, UTC)
    assert str(caught.value).startswith("GeeLark circuit open until")
    before = calls(sim, "/phone/list")
    with pytest.raises(CircuitOpen):
        client.wallet()
    assert calls(sim, "/phone/list") == before and calls(sim, "/pay/wallet") == 0


def test_injected_40014_also_opens_the_breaker(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(faults={"api": {"hour_lock": 1.0}})
    with pytest.raises(CircuitOpen):
        make_client(sim).phone_status([sim.phone_id("phone-01")])
    assert sim.state()["faults"]["hour_lock"] == 1
    assert sim.state()["lockedUntil"] is not None


def test_breaker_opens_after_consecutive_transport_failures_and_recovers(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, faults={"api": {"http_502": 1.0}})
    client = make_client(sim, clock=clock, max_attempts=2, breaker_threshold=3, breaker_cooldown_s=30)
    with pytest.raises(HttpStatusError):
        client.list_phones()
    with pytest.raises(CircuitOpen) as caught:
        client.list_phones()
    assert "3 consecutive transport failures" in caught.value.reason
    assert calls(sim, "/phone/list") == 3
    with pytest.raises(CircuitOpen):
        client.list_phones()
    assert calls(sim, "/phone/list") == 3
    sim.set_faults({})
    clock.advance(31)
    assert len(client.list_phones().items) == 5


def test_start_failures_are_per_item_and_typed(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(faults={"phones": {"phone-02": {"start_fail": 1.0, "start_fail_codes": [47002]}}})
    client = make_client(sim)
    one, two = sim.phone_id("phone-01"), sim.phone_id("phone-02")
    result = client.start_phones([one, two])
    assert set(result.ok) == {one}
    assert result.failed[two].code == 47002
    with pytest.raises(ItemFailed) as caught:
        client.start_phone(two)
    assert caught.value.per_item and caught.value.retryable and caught.value.item.id == two


def test_no_balance_means_no_start(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = make_sim(balance=0.0)
    with pytest.raises(ItemFailed) as caught:
        make_client(sim).start_phone(sim.phone_id("phone-01"))
    assert caught.value.item.code == 41001 and caught.value.account_or_config


def test_stuck_in_starting_times_out(make_sim: MakeSim, make_client: MakeClient, clock: FakeClock) -> None:
    sim = make_sim(real_clock=clock, faults={"phone": {"stuck_starting": 1.0}})
    client = make_client(sim, clock=clock)
    phone_id = sim.phone_id("phone-01")
    client.start_phone(phone_id)
    with pytest.raises(WaitTimeout):
        client.wait_until_running(phone_id, timeout_s=600, poll_s=20)
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STARTING
    client.stop_phone(phone_id)
    clock.advance(5)
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STOPPED


def test_adb_never_ready_times_out(make_sim: MakeSim, make_client: MakeClient, clock: FakeClock) -> None:
    sim = make_sim(real_clock=clock, faults={"phones": {"phone-01": {"adb_never_ready": 1.0}}})
    client = make_client(sim, clock=clock)
    phone_id = sim.phone_id("phone-01")
    client.start_phone(phone_id)
    client.wait_until_running(phone_id)
    client.set_adb([phone_id])
    with pytest.raises(WaitTimeout):
        client.wait_for_adb(phone_id, timeout_s=60)
    assert sim.state()["faults"]["adb_never_ready"] == 1


def test_phone_stopped_underneath_a_session(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, faults={"phone": {"phone_stopped": 1.0, "stopped_after_s": [10, 10]}})
    client = make_client(sim, clock=clock)
    phone_id = sim.phone_id("phone-01")
    client.start_phone(phone_id)
    client.wait_until_running(phone_id)
    assert sim_post(sim, f"/_sim/devices/{phone_id}/session").status_code == 200
    clock.advance(11)
    assert client.phone_status([phone_id]).ok[phone_id].status is PhoneStatus.STOPPED
    assert sim_post(sim, f"/_sim/devices/{phone_id}/publish", {"video": "v"}).status_code == 409
    assert sim.state()["faults"]["phone_stopped"] == 1


def test_refused_connection_is_retried_even_for_a_start() -> None:
    with SimulatorServer() as sim:
        url = sim.url  # a port that is certainly closed once the simulator is gone
    client = GeeLarkClient(client_settings(url, max_attempts=2, breaker_threshold=100))
    with client, pytest.raises(ConnectFailed) as caught:
        client.start_phone("1")  # never sent, so not ambiguous: ConnectFailed, not OutcomeUnknown
    assert not caught.value.sent and caught.value.retryable
