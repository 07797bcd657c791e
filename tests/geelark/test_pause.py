"""Waits a stop can cut short: a Ctrl+C is not kept waiting for GeeLark's next rate window."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from geelark import GeeLarkClient, GeeLarkSettings, Interrupted, RateLimited, stoppable_sleep
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, client_settings

MakeSim = Callable[..., SimulatorServer]


def test_a_stoppable_sleep_runs_its_course_when_nobody_stops() -> None:
    clock = FakeClock(0.0)
    stoppable_sleep(lambda: False, clock=clock, sleep=clock.sleep)(1.0)
    assert clock.now == pytest.approx(1.0)
    assert max(clock.sleeps) <= 0.1 + 1e-9  # it looks at the stop at least every step


def test_a_stop_ends_the_wait_within_one_step() -> None:
    clock = FakeClock(0.0)
    stoppable = stoppable_sleep(lambda: clock.now >= 2.0, clock=clock, sleep=clock.sleep)
    with pytest.raises(Interrupted, match=r"60\.0s wait"):
        stoppable(60.0)
    assert clock.now == pytest.approx(2.0)


def test_long_waits_are_told_before_they_start_short_ones_are_not() -> None:
    told: list[float] = []
    clock = FakeClock(0.0)
    stoppable = stoppable_sleep(lambda: False, on_long_wait=told.append, clock=clock, sleep=clock.sleep)
    stoppable(0.5)
    stoppable(30.0)
    assert told == [30.0]


def test_a_stop_during_the_40007_wait_interrupts_the_call_without_a_second_request(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(faults={"api": {"rate_limit": 1.0}})
    asked: list[float] = []

    def stop_once_told(seconds: float) -> None:
        asked.append(seconds)

    settings = client_settings(sim.url, rate_window_s=60.0)
    pause = stoppable_sleep(lambda: bool(asked), on_long_wait=stop_once_told)
    at_a_window_start = 1_800_000_000.0  # a whole minute: the next window is a long wait away
    with (
        GeeLarkClient(settings, clock=lambda: at_a_window_start, sleep=pause) as client,
        pytest.raises(Interrupted),
    ):
        client.list_phones()
    assert asked == [pytest.approx(61.0)]  # told of the wait for the next rate window, then stopped
    assert sim.state()["calls"]["/open/v1/phone/list"] == 1


def test_without_a_stop_the_same_call_keeps_its_retries(make_sim: MakeSim) -> None:
    sim = make_sim(faults={"api": {"rate_limit": 1.0}})
    settings = client_settings(sim.url, rate_window_s=0.2, rate_margin_s=0.01, max_attempts=3)
    with (
        GeeLarkClient(settings, sleep=stoppable_sleep(lambda: False)) as client,
        pytest.raises(RateLimited),
    ):
        client.list_phones()
    assert sim.state()["calls"]["/open/v1/phone/list"] == 3


def test_time_scaled_settings_follow_a_simulator_run_at_that_scale() -> None:
    scaled = GeeLarkSettings(token="t").time_scaled(0.01)
    assert scaled.rate_window_s == pytest.approx(0.6)
    assert scaled.rate_margin_s == pytest.approx(0.6)
    assert scaled.backoff_initial_s == pytest.approx(0.05)  # never below the floor
    assert scaled.backoff_max_s == pytest.approx(0.2)
    assert GeeLarkSettings(token="t").time_scaled(1.0).rate_window_s == 60.0
