"""The job state machine: every transition is a pure function; an illegal one raises.

pending|retrying -> claimed -> success|retrying|failed (``apply_outcome``; any failure recorded after
the publish checkpoint -> review, because the post may exist),
claimed -> pending|retrying|review (``release_job``, ``orphan_job``),
failed|review -> pending (``requeue_job``),
review -> success|retrying|failed|pending|review (``settle_review_job``: an executor's final word on a
post the queue could not judge, e.g. a GeeLark task whose worker died).
A claim's checkpoint is withdrawn (``withdraw_checkpoint_job``) only when the executor knows nothing
was published (GeeLark refused the task, or it failed before posting).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

from jobqueue.backoff import retry_delay
from jobqueue.errors import IllegalTransition
from jobqueue.model import ERROR_TEXT_LIMIT, Job, JobStatus, Outcome, OutcomeKind, Settlement
from jobqueue.policy import QueuePolicy

INFRA_BUDGET_EXHAUSTED = "infra_budget_exhausted"
ORPHANED = "orphaned"
ORPHANED_AFTER_CHECKPOINT = "orphaned_after_checkpoint"
RELEASED = "released"
RELEASED_AFTER_CHECKPOINT = "released_after_checkpoint"
UNCONFIRMED_AFTER_CHECKPOINT = "unconfirmed_after_checkpoint"
CLAIMABLE = frozenset({JobStatus.PENDING, JobStatus.RETRYING})
REQUEUEABLE = frozenset({JobStatus.FAILED, JobStatus.REVIEW})
DUE = frozenset({JobStatus.PENDING, JobStatus.RETRYING})


def _require(job: Job, allowed: frozenset[JobStatus] | JobStatus, to: JobStatus) -> None:
    ok = job.status in allowed if isinstance(allowed, frozenset) else job.status is allowed
    if not ok:
        raise IllegalTransition(job.job_id, job.status.value, to.value)


def _unclaimed(job: Job, **changes: object) -> Job:
    """The job without its claim (token, pid, checkpoint); worker_id and claimed_at stay for reports."""
    return replace(job, claim_token="", worker_pid=None, checkpoint_at=None, **changes)  # type: ignore[arg-type]  # replace() checks the field names and types at run time


def claim_job(job: Job, worker_id: int, worker_pid: int, *, token: str, now: datetime, host: str = "") -> Job:
    """pending|retrying -> claimed with a fresh fencing token. Unassigned jobs cannot be claimed."""
    _require(job, CLAIMABLE, JobStatus.CLAIMED)
    if not job.account:
        raise IllegalTransition(job.job_id, job.status.value, JobStatus.CLAIMED.value)
    return replace(
        job,
        status=JobStatus.CLAIMED,
        worker_id=worker_id,
        worker_pid=worker_pid,
        claim_token=token,
        claimed_at=now,
        checkpoint_at=None,
        retry_at=None,
        host=host,
    )


def checkpoint_job(job: Job, now: datetime, external_id: str = "") -> Job:
    """Mark that the worker is about to do the irreversible step (the publish tap, a task's
    create); ``external_id`` names what that step will make, when it has a name."""
    _require(job, JobStatus.CLAIMED, JobStatus.CLAIMED)
    return replace(job, checkpoint_at=now, external_id=external_id or job.external_id)


def attach_external_id(job: Job, external_id: str) -> Job:
    """The claimed job with the id of what its irreversible step made (a GeeLark task id)."""
    _require(job, JobStatus.CLAIMED, JobStatus.CLAIMED)
    return replace(job, external_id=external_id)


def withdraw_checkpoint_job(job: Job) -> Job:
    """The claimed job as before its checkpoint: the executor knows nothing was published."""
    _require(job, JobStatus.CLAIMED, JobStatus.CLAIMED)
    return replace(job, checkpoint_at=None)


def _failed(job: Job, now: datetime, outcome: Outcome, error_type: str | None = None) -> Job:
    return _unclaimed(
        job,
        status=JobStatus.FAILED,
        completed_at=now,
        retry_at=None,
        error=outcome.message[:ERROR_TEXT_LIMIT],
        error_type=outcome.error_type if error_type is None else error_type,
    )


def _retrying(job: Job, retry_at: datetime, outcome: Outcome) -> Job:
    return _unclaimed(
        job,
        status=JobStatus.RETRYING,
        retry_at=retry_at,
        error=outcome.message[:ERROR_TEXT_LIMIT],
        error_type=outcome.error_type,
    )


def apply_outcome(
    job: Job, outcome: Outcome, *, now: datetime, policy: QueuePolicy, rng: random.Random
) -> Job:
    """claimed -> the state the outcome asks for (see OutcomeKind).

    Consumes an attempt unless INFRASTRUCTURE, which uses the job's infra budget instead. Past the
    checkpoint only a SUCCESS is final: anything else goes to review (a retry could post twice).
    """
    _require(
        job, JobStatus.CLAIMED, JobStatus.SUCCESS if outcome.kind is OutcomeKind.SUCCESS else JobStatus.FAILED
    )
    kind = outcome.kind
    if kind is OutcomeKind.SUCCESS:
        return _unclaimed(
            job,
            status=JobStatus.SUCCESS,
            completed_at=now,
            retry_at=None,
            error="",
            error_type="",
            post_url=outcome.post_url or job.post_url,
        )
    if job.checkpoint_at is not None:
        return _unclaimed(
            job,
            status=JobStatus.REVIEW,
            completed_at=now,
            retry_at=None,
            error=f"after the publish checkpoint: {outcome.message}"[:ERROR_TEXT_LIMIT],
            error_type=outcome.error_type or UNCONFIRMED_AFTER_CHECKPOINT,
        )
    if kind is OutcomeKind.INFRASTRUCTURE:
        infra = job.infra_attempts + 1
        counted = replace(job, infra_attempts=infra)
        if infra >= policy.infra_budget:
            return _failed(counted, now, outcome, INFRA_BUDGET_EXHAUSTED)
        return _retrying(counted, now + retry_delay(infra, policy.backoff, rng), outcome)
    counted = replace(job, attempts=job.attempts + 1)
    if kind is OutcomeKind.RETRYABLE and counted.attempts < counted.max_attempts:
        return _retrying(counted, now + retry_delay(counted.attempts, policy.backoff, rng), outcome)
    return _failed(counted, now, outcome)


def release_job(job: Job, now: datetime, reason: str) -> Job:
    """Give a claim back without fault (stop): no attempt used; past the checkpoint -> review."""
    _require(job, JobStatus.CLAIMED, JobStatus.PENDING)
    message = reason[:ERROR_TEXT_LIMIT]
    if job.checkpoint_at is not None:
        return _unclaimed(job, status=JobStatus.REVIEW, error=message, error_type=RELEASED_AFTER_CHECKPOINT)
    if job.attempts == 0 and job.infra_attempts == 0:
        return _unclaimed(job, status=JobStatus.PENDING, retry_at=None, error=message, error_type=RELEASED)
    return _unclaimed(job, status=JobStatus.RETRYING, retry_at=now, error=message, error_type=RELEASED)


def orphan_job(job: Job, now: datetime) -> Job:
    """A claim whose worker is gone: before the checkpoint -> retrying (due now, no attempt), else review."""
    _require(job, JobStatus.CLAIMED, JobStatus.RETRYING)
    who = f"worker {job.worker_id} (pid {job.worker_pid}) is gone"
    if job.checkpoint_at is not None:
        message = f"{who} after the publish checkpoint: check whether it was posted"
        return _unclaimed(job, status=JobStatus.REVIEW, error=message, error_type=ORPHANED_AFTER_CHECKPOINT)
    return _unclaimed(job, status=JobStatus.RETRYING, retry_at=now, error=who, error_type=ORPHANED)


def settle_review_job(
    job: Job, settlement: Settlement, *, now: datetime, policy: QueuePolicy, rng: random.Random
) -> Job:
    """review -> what the executor's final word means (see ``Settlement``): judged as an attempt
    past its checkpoint when the post may exist, as one before it when nothing was published."""
    _require(job, JobStatus.REVIEW, JobStatus.SUCCESS)
    held = replace(
        job,
        status=JobStatus.CLAIMED,
        checkpoint_at=(job.checkpoint_at or job.completed_at or now) if settlement.posted else None,
        external_id=settlement.external_id or job.external_id,
    )
    if settlement.outcome is None:
        return release_job(held, now, settlement.reason or "released: nothing was published")
    return apply_outcome(held, settlement.outcome, now=now, policy=policy, rng=rng)


def requeue_job(job: Job) -> Job:
    """Operator command: failed|review -> pending with fresh attempt counters (and no external id:
    the operator asks for a new post, so an earlier task is history)."""
    _require(job, REQUEUEABLE, JobStatus.PENDING)
    return _unclaimed(
        job,
        status=JobStatus.PENDING,
        worker_id=None,
        claimed_at=None,
        completed_at=None,
        retry_at=None,
        error="",
        error_type="",
        attempts=0,
        infra_attempts=0,
        external_id="",
        post_url="",
    )


def cancel_job(job: Job, now: datetime, reason: str) -> Job:
    """pending/retrying -> failed ``cancelled`` (its account was removed): the operator's decision,
    no attempt used; ``requeue`` brings it back."""
    _require(job, DUE, JobStatus.FAILED)
    return replace(
        job,
        status=JobStatus.FAILED,
        completed_at=now,
        retry_at=None,
        error=reason[:500],
        error_type="cancelled",
    )
