"""What a run has used: attempts spent on the queue's jobs and GeeLark requests (for `/metrics`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobqueue.model import QueueSnapshot


@dataclass(frozen=True)
class AttemptTotals:
    """Attempts recorded on the jobs in the queue: the job's own and infrastructure trouble."""

    job: int
    infrastructure: int


@dataclass(frozen=True)
class GeeLarkUse:
    """GeeLark requests: the last minute's per endpoint from the budget every worker shares; what the
    simulator counted (calls and genuine rate-limit refusals since it started) in a simulated run."""

    requests_last_minute: Mapping[str, int]
    rate_limit_per_min: int
    simulator_calls: Mapping[str, int] | None = None
    simulator_rate_limited: Mapping[str, int] | None = None


def attempt_totals(snapshot: QueueSnapshot) -> AttemptTotals:
    return AttemptTotals(
        job=sum(j.attempts for j in snapshot.jobs),
        infrastructure=sum(j.infra_attempts for j in snapshot.jobs),
    )
