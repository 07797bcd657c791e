"""The client's request budget: a pure decision, a per-process limiter, and one shared by processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geelark import GeeLarkClient, GeeLarkError, LocalRateLimiter, SharedRateLimiter
from geelark.ratelimit import reserve
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import TOKEN, FakeClock, client_settings

ROOT = Path(__file__).resolve().parents[2]


@settings(deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=300, allow_nan=False), max_size=80), st.integers(1, 10))
@example([1.5452399493979208, 61.54523994939792], 1)  # b - a rounds to 60.0 although b < a + 60.0
def test_reserve_never_grants_more_than_the_limit_in_any_span(offsets: list[float], limit: int) -> None:
    granted: list[float] = []
    for now in sorted(offsets):
        _, wait = reserve(granted, now, limit, 60.0)
        if wait == 0.0:
            granted.append(now)
        else:
            assert wait > 0
            assert reserve(granted, now + wait, limit, 60.0)[1] == 0.0
    for start in granted:
        assert sum(1 for t in granted if 0.0 <= t - start < 60.0) <= limit  # the span as reserve measures it


def test_local_limiter_sleeps_until_a_slot_frees(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(60.0, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert limiter.acquire("/phone/status", 3) == 0.0
    assert limiter.acquire("/phone/list", 3) == 0.0  # budgets are per endpoint
    assert limiter.acquire("/phone/status", 3) == pytest.approx(61.0)


def test_shared_limiter_counts_across_instances(tmp_path: Path, clock: FakeClock) -> None:
    first = SharedRateLimiter(tmp_path, 10.0, 0.0, clock=clock, sleep=clock.sleep)
    second = SharedRateLimiter(tmp_path, 10.0, 0.0, clock=clock, sleep=clock.sleep)
    first.acquire("/phone/status", 2)
    second.acquire("/phone/status", 2)
    assert first.acquire("/phone/status", 2) == pytest.approx(10.0)


def test_shared_limiter_survives_a_corrupt_state_file(tmp_path: Path, clock: FakeClock) -> None:
    limiter = SharedRateLimiter(tmp_path, 10.0, 0.0, clock=clock, sleep=clock.sleep)
    limiter.path.write_text("{broken", encoding="utf-8")
    assert limiter.acquire("/phone/status", 1) == 0.0


WORKER = """
import sys
from pathlib import Path
from geelark import GeeLarkClient, GeeLarkSettings
url, ids, folder, n = sys.argv[1], sys.argv[2].split(","), sys.argv[3], int(sys.argv[4])
settings = GeeLarkSettings(base_url=url, token=sys.argv[5], rate_limit_per_minute=30, rate_window_s=1.5,
                           rate_margin_s=1.0, rate_limit_dir=Path(folder), max_attempts=1)
with GeeLarkClient(settings) as client:
    for _ in range(n):
        client.phone_status(ids)
"""


def test_concurrent_processes_sharing_a_budget_never_trip_40007(
    make_sim: Callable[..., SimulatorServer], tmp_path: Path
) -> None:
    # One simulated minute = 1.5 real seconds, 30 requests per endpoint per minute. Three processes
    # send 12 status calls each, 36 in all: only the shared limiter keeps them under the quota.
    sim = make_sim(time_scale=1.5 / 60.0, rate_limit_per_minute=30)
    ids = ",".join(sim.phone_id(f"phone-0{i}") for i in range(1, 4))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", WORKER, sim.url, ids, str(tmp_path / "budget"), "12", TOKEN]
    procs = [subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        errors = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    state = sim.state()
    assert state["calls"]["/open/v1/phone/status"] == 36
    assert state["rateLimited"] == {}


def test_without_a_shared_budget_concurrent_clients_do_trip_40007(
    make_sim: Callable[..., SimulatorServer],
) -> None:
    # The control for the test above: three independent budgets of 30 overrun a quota of 30.
    sim = make_sim(real_clock=lambda: 1_800_000_000.0, rate_limit_per_minute=30)  # one minute, no boundary
    ids = [sim.phone_id("phone-01")]
    failures: list[GeeLarkError] = []

    def hammer() -> None:
        cfg = client_settings(sim.url, rate_limit_per_minute=30, max_attempts=1)
        with GeeLarkClient(cfg) as client:
            for _ in range(20):
                try:
                    client.phone_status(ids)
                except GeeLarkError as exc:
                    failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert failures and all(f.code == 40007 for f in failures)
    assert sum(sim.state()["rateLimited"].values()) == len(failures) == 30
