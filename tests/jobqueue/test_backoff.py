"""Backoff: the ceiling is monotone up to the cap; jitter stays within its bounds."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from jobqueue import BackoffPolicy, backoff_ceiling_s, retry_delay

policies = st.builds(
    BackoffPolicy,
    base_s=st.floats(0, 600),
    factor=st.floats(1, 4),
    cap_s=st.floats(0, 86400),
    jitter=st.sampled_from(["full", "decorrelated", "none"]),
)


@given(policies, st.integers(1, 2000))
def test_ceiling_is_monotone_and_capped(policy: BackoffPolicy, attempt: int) -> None:
    assert backoff_ceiling_s(attempt, policy) <= backoff_ceiling_s(attempt + 1, policy) <= policy.cap_s


@given(policies, st.integers(1, 2000), st.integers(0, 2**32))
def test_jittered_delay_is_within_bounds(policy: BackoffPolicy, attempt: int, seed: int) -> None:
    delay = retry_delay(attempt, policy, random.Random(seed)).total_seconds()
    assert 0 <= delay <= policy.cap_s + 1e-6
    if policy.jitter != "decorrelated":
        assert delay <= backoff_ceiling_s(attempt, policy) + 1e-6


def test_no_jitter_doubles_until_the_cap() -> None:
    policy = BackoffPolicy(base_s=10, factor=2, cap_s=50, jitter="none")
    delays = [retry_delay(n, policy, random.Random(0)) for n in range(1, 6)]
    assert delays == [timedelta(seconds=s) for s in (10, 20, 40, 50, 50)]


def test_decorrelated_jitter_grows_from_the_previous_delay() -> None:
    policy = BackoffPolicy(base_s=10, factor=2, cap_s=1000, jitter="decorrelated")
    delay = retry_delay(3, policy, random.Random(5), previous=timedelta(seconds=30))
    assert 10 <= delay.total_seconds() <= 90


def test_random_source_is_injected() -> None:
    policy = BackoffPolicy()
    assert retry_delay(4, policy, random.Random(9)) == retry_delay(4, policy, random.Random(9))
