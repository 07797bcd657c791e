"""Retry delays: exponential backoff with a cap and jitter; the random source is injected."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from jobqueue.policy import BackoffPolicy


def backoff_ceiling_s(attempt: int, policy: BackoffPolicy) -> float:
    """The un-jittered delay before retry number ``attempt`` (1-based): monotone, at most ``cap_s``."""
    exponent = max(attempt, 1) - 1
    if policy.base_s == 0 or policy.cap_s == 0:
        return 0.0
    # Compare in log space so a large attempt count cannot overflow the float.
    log_delay = math.log(policy.base_s) + exponent * math.log(policy.factor)
    return policy.cap_s if log_delay >= math.log(policy.cap_s) else min(policy.cap_s, math.exp(log_delay))


def retry_delay(
    attempt: int,
    policy: BackoffPolicy,
    rng: random.Random,
    previous: timedelta | None = None,
) -> timedelta:
    """The delay before retry number ``attempt``, jittered per ``policy.jitter``, never above the cap.

    ``previous`` is the last delay used (decorrelated jitter); without it the previous ceiling stands in.
    """
    ceiling = backoff_ceiling_s(attempt, policy)
    if policy.jitter == "none":
        return timedelta(seconds=ceiling)
    if policy.jitter == "full":
        return timedelta(seconds=rng.uniform(0.0, ceiling))
    last_s = previous.total_seconds() if previous is not None else backoff_ceiling_s(attempt - 1, policy)
    upper = max(policy.base_s, 3.0 * last_s)
    return timedelta(seconds=min(policy.cap_s, rng.uniform(policy.base_s, upper)))
