"""Operator commands on the queue: requeue failed/review jobs, unblock an account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobqueue.errors import UnknownJob
from jobqueue.model import JobStatus
from orchestrator.adapters.queue_store import open_store
from orchestrator.errors import OperatorMistake
from runtime.settings import Settings


@dataclass(frozen=True)
class RequeueResult:
    requeued: tuple[str, ...]
    statuses: tuple[str, ...]


@dataclass(frozen=True)
class UnblockResult:
    account: str
    unblocked: bool  # a block or cooldown was lifted
    known: bool  # the queue has jobs of it (or it was blocked / cooling)


def requeue_statuses(failed: bool, review: bool) -> tuple[JobStatus, ...]:
    """The statuses to requeue; named jobs without a flag may be in either."""
    chosen = tuple(s for s, on in ((JobStatus.FAILED, failed), (JobStatus.REVIEW, review)) if on)
    return chosen or (JobStatus.FAILED, JobStatus.REVIEW)


def requeue(settings: Settings, job_ids: Sequence[str], *, failed: bool, review: bool) -> RequeueResult:
    """Move the named jobs (or all failed / review jobs) back to pending. Raises UnknownJob, and
    OperatorMistake (nothing requeued) when a named job is not in a requeueable state.

    A review job may already be posted: requeueing it is the operator's explicit decision.
    """
    statuses = requeue_statuses(failed, review)
    store = open_store(settings)
    if job_ids:
        found = {j.job_id: j.status for j in store.snapshot().jobs if j.job_id in set(job_ids)}
        unknown = [j for j in job_ids if j not in found]
        if unknown:
            raise UnknownJob(unknown)
        wrong = [f"{j} is {found[j].value}" for j in job_ids if found[j] not in statuses]
        if wrong:
            allowed = " or ".join(s.value for s in statuses)
            raise OperatorMistake(
                f"cannot requeue: {'; '.join(wrong)}. Only {allowed} jobs go back to pending"
                + ("" if review else " (a review job needs --review)")
                + "; nothing was requeued"
            )
    jobs = store.requeue(list(job_ids) or None, statuses)
    return RequeueResult(tuple(j.job_id for j in jobs), tuple(s.value for s in statuses))


def unblock(settings: Settings, account: str) -> UnblockResult:
    """Lift the account's block or cooldown; says whether the queue knows the account at all."""
    store = open_store(settings)
    snapshot = store.snapshot()
    known = (
        any(j.account == account for j in snapshot.jobs)
        or account in snapshot.accounts.blocked
        or account in snapshot.accounts.cooldowns
    )
    return UnblockResult(account, store.unblock_account(account) if known else False, known)


def known_accounts(settings: Settings) -> tuple[str, ...]:
    """Every account the queue has jobs for, sorted."""
    return tuple(sorted({j.account for j in open_store(settings).snapshot().jobs if j.account}))
