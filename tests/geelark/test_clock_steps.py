"""A step of the wall clock (NTP, a laptop waking, an operator setting the time) neither stretches
nor cuts the client's waits, and never blocks the shared request budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from geelark.client import GeeLarkClient
from geelark.errors import WaitTimeout
from geelark.ratelimit import reserve
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, client_settings

TWO_HOURS = 7200.0


@pytest.mark.parametrize("step_s", [-TWO_HOURS, +TWO_HOURS])
def test_a_wait_ends_after_its_own_time_whatever_the_wall_clock_does(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock, step_s: float
) -> None:
    sim = make_sim(real_clock=clock, phones=("phone1",), faults={"phone": {"stuck_starting": 1.0}})
    calls = {"n": 0}

    def wall() -> float:  # steps once the wait has begun
        calls["n"] += 1
        return clock.now + (step_s if calls["n"] > 3 else 0.0)

    with GeeLarkClient(client_settings(sim.url), clock=wall, timer=clock, sleep=clock.sleep) as client:
        phone_id = sim.phone_id("phone1")
        client.start_phones([phone_id])
        started = clock.now
        with pytest.raises(WaitTimeout):
            client.wait_until_running(phone_id, timeout_s=60, poll_s=5)
    assert 60 <= clock.now - started <= 70


def test_budget_entries_from_the_future_are_stale_after_the_clock_was_set_back() -> None:
    now = 1_000_000.0
    future = [now + TWO_HOURS - i for i in range(200)]  # written before the clock went back 2 h
    stamps, wait_s = reserve(future, now, limit=200, span_s=61.0)
    assert wait_s == 0.0 and stamps == [now]
