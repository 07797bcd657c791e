"""Operator commands on the queue: requeue failed/review jobs, unblock an account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobqueue.model import JobStatus
from orchestrator.adapters.queue_store import open_store
from runtime.settings import Settings


@dataclass(frozen=True)
class RequeueResult:
    requeued: tuple[str, ...]
    statuses: tuple[str, ...]


def requeue_statuses(failed: bool, review: bool) -> tuple[JobStatus, ...]:
    """The statuses to requeue; named jobs without a flag may be in either."""
    chosen = tuple(s for s, on in ((JobStatus.FAILED, failed), (JobStatus.REVIEW, review)) if on)
    return chosen or (JobStatus.FAILED, JobStatus.REVIEW)


def requeue(settings: Settings, job_ids: Sequence[str], *, failed: bool, review: bool) -> RequeueResult:
    """Move the named jobs (or all failed / review jobs) back to pending. Raises UnknownJob.

    A review job may already be posted: requeueing it is the operator's explicit decision.
    """
    statuses = requeue_statuses(failed, review)
    jobs = open_store(settings).requeue(list(job_ids) or None, statuses)
    return RequeueResult(tuple(j.job_id for j in jobs), tuple(s.value for s in statuses))


def unblock(settings: Settings, account: str) -> bool:
    """Lift the account's block or cooldown; False if it had neither."""
    return open_store(settings).unblock_account(account)
