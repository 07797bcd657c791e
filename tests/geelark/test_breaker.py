"""The circuit breaker on its own, on a fake clock."""

from __future__ import annotations

import pytest

from geelark import CircuitBreaker, CircuitOpen
from tests.geelark.conftest import FakeClock


def test_opens_after_threshold_consecutive_failures_only(clock: FakeClock) -> None:
    breaker = CircuitBreaker(3, 60.0, clock=clock)
    breaker.record_failure("502")
    breaker.record_failure("502")
    breaker.record_success()
    breaker.record_failure("502")
    breaker.record_failure("502")
    breaker.check()
    breaker.record_failure("timeout")
    with pytest.raises(CircuitOpen) as caught:
        breaker.check()
    assert "3 consecutive transport failures, last: timeout" in caught.value.reason
    assert caught.value.retryable


def test_half_open_after_cooldown_and_one_failure_reopens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(2, 60.0, clock=clock)
    breaker.record_failure("x")
    breaker.record_failure("x")
    assert breaker.is_open
    clock.advance(60)
    breaker.check()  # the trial call may go
    breaker.record_failure("x")
    with pytest.raises(CircuitOpen):
        breaker.check()
    clock.advance(60)
    breaker.check()
    breaker.record_success()
    breaker.record_failure("x")
    breaker.check()


def test_trip_opens_for_the_given_time_and_says_why(clock: FakeClock) -> None:
    breaker = CircuitBreaker(5, 60.0, clock=clock)
    error = breaker.trip(7200, "40014 on /phone/status")
    assert error.until.timestamp() == clock.now + 7200
    clock.advance(7199)
    with pytest.raises(CircuitOpen, match="40014"):
        breaker.check()
    clock.advance(1)
    breaker.check()
