"""The job state machine: each transition, and that illegal ones raise."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from jobqueue import IllegalTransition, Job, JobStatus, Outcome, OutcomeKind, QueuePolicy
from jobqueue.policy import BackoffPolicy
from jobqueue.states import (
    INFRA_BUDGET_EXHAUSTED,
    apply_outcome,
    checkpoint_job,
    claim_job,
    orphan_job,
    release_job,
    requeue_job,
)
from tests.jobqueue.conftest import T0

POLICY = QueuePolicy(backoff=BackoffPolicy(base_s=10, factor=2, cap_s=100, jitter="none"), infra_budget=2)
RNG = random.Random(1)
PENDING = Job("j1", "acc", "v.mp4", "cap", max_attempts=2)


def claimed(job: Job = PENDING) -> Job:
    return claim_job(job, 3, 4242, token="tok", now=T0)


def test_claim_sets_worker_token_and_time() -> None:
    job = claimed()
    assert (job.status, job.worker_id, job.worker_pid, job.claim_token, job.claimed_at) == (
        JobStatus.CLAIMED, 3, 4242, "tok", T0,
    )  # fmt: skip


@pytest.mark.parametrize("status", [JobStatus.CLAIMED, JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.REVIEW])
def test_claim_from_a_non_claimable_status_is_illegal(status: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        claim_job(replace(PENDING, status=status), 1, 1, token="t", now=T0)


def test_unassigned_job_cannot_be_claimed() -> None:
    with pytest.raises(IllegalTransition):
        claim_job(replace(PENDING, account=""), 1, 1, token="t", now=T0)


def test_success_clears_the_claim_and_keeps_attempts() -> None:
    job = apply_outcome(claimed(), Outcome(OutcomeKind.SUCCESS), now=T0, policy=POLICY, rng=RNG)
    assert (job.status, job.completed_at, job.claim_token, job.attempts) == (JobStatus.SUCCESS, T0, "", 0)


def test_retryable_consumes_an_attempt_and_backs_off() -> None:
    job = apply_outcome(
        claimed(), Outcome(OutcomeKind.RETRYABLE, "captcha", "m"), now=T0, policy=POLICY, rng=RNG
    )
    assert (job.status, job.attempts, job.retry_at) == (JobStatus.RETRYING, 1, T0 + timedelta(seconds=10))
    assert (job.error_type, job.error) == ("captcha", "m")


def test_retryable_fails_when_attempts_are_used_up() -> None:
    job = apply_outcome(
        claimed(replace(PENDING, attempts=1)), Outcome(OutcomeKind.RETRYABLE), now=T0, policy=POLICY, rng=RNG
    )
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)


@pytest.mark.parametrize("kind", [OutcomeKind.PERMANENT, OutcomeKind.ACCOUNT])
def test_permanent_and_account_outcomes_fail_at_once(kind: OutcomeKind) -> None:
    job = apply_outcome(claimed(), Outcome(kind, "suspended", "x" * 900), now=T0, policy=POLICY, rng=RNG)
    assert (job.status, job.attempts, len(job.error)) == (JobStatus.FAILED, 1, 500)


def test_infrastructure_does_not_consume_an_attempt() -> None:
    job = apply_outcome(
        claimed(), Outcome(OutcomeKind.INFRASTRUCTURE, "adb_timeout"), now=T0, policy=POLICY, rng=RNG
    )
    assert (job.status, job.attempts, job.infra_attempts) == (JobStatus.RETRYING, 0, 1)


def test_infrastructure_budget_exhausted_fails_the_job() -> None:
    start = claimed(replace(PENDING, infra_attempts=1))
    job = apply_outcome(
        start, Outcome(OutcomeKind.INFRASTRUCTURE, "adb_timeout"), now=T0, policy=POLICY, rng=RNG
    )
    assert (job.status, job.error_type, job.attempts) == (JobStatus.FAILED, INFRA_BUDGET_EXHAUSTED, 0)


def test_outcome_on_an_unclaimed_job_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        apply_outcome(PENDING, Outcome(OutcomeKind.SUCCESS), now=T0, policy=POLICY, rng=RNG)


def test_release_before_checkpoint_returns_to_pending_without_an_attempt() -> None:
    job = release_job(claimed(), T0, "stop requested")
    assert (job.status, job.attempts, job.claim_token, job.error) == (
        JobStatus.PENDING,
        0,
        "",
        "stop requested",
    )


def test_release_of_a_retried_job_is_due_at_once() -> None:
    job = release_job(claimed(replace(PENDING, status=JobStatus.RETRYING, attempts=1)), T0, "stop")
    assert (job.status, job.retry_at, job.attempts) == (JobStatus.RETRYING, T0, 1)


def test_release_after_checkpoint_goes_to_review() -> None:
    job = release_job(checkpoint_job(claimed(), T0), T0, "stop")
    assert job.status is JobStatus.REVIEW


def test_orphan_before_checkpoint_is_retried_now_without_an_attempt() -> None:
    job = orphan_job(claimed(), T0)
    assert (job.status, job.retry_at, job.attempts) == (JobStatus.RETRYING, T0, 0)


def test_orphan_after_checkpoint_goes_to_review() -> None:
    assert orphan_job(checkpoint_job(claimed(), T0), T0).status is JobStatus.REVIEW


def test_checkpoint_needs_a_claim() -> None:
    with pytest.raises(IllegalTransition):
        checkpoint_job(PENDING, T0)


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.REVIEW])
def test_requeue_resets_counters(status: JobStatus) -> None:
    job = requeue_job(replace(PENDING, status=status, attempts=2, infra_attempts=1, error="e"))
    assert (job.status, job.attempts, job.infra_attempts, job.error) == (JobStatus.PENDING, 0, 0, "")


@pytest.mark.parametrize(
    "status", [JobStatus.PENDING, JobStatus.CLAIMED, JobStatus.SUCCESS, JobStatus.RETRYING]
)
def test_requeue_of_other_statuses_is_illegal(status: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        requeue_job(replace(PENDING, status=status))


@pytest.mark.parametrize(
    "kind",
    [OutcomeKind.RETRYABLE, OutcomeKind.INFRASTRUCTURE, OutcomeKind.PERMANENT, OutcomeKind.ACCOUNT],
)
def test_any_failure_recorded_after_the_checkpoint_goes_to_review_not_retry(kind: OutcomeKind) -> None:
    job = checkpoint_job(claimed(), T0)
    after = apply_outcome(
        job, Outcome(kind, "post_unconfirmed", "no confirmation"), now=T0, policy=POLICY, rng=RNG
    )
    assert after.status is JobStatus.REVIEW
    assert after.retry_at is None and after.claim_token == ""
    assert after.error_type == "post_unconfirmed"
    assert after.attempts == job.attempts and after.infra_attempts == job.infra_attempts


def test_success_after_the_checkpoint_is_a_success() -> None:
    job = checkpoint_job(claimed(), T0)
    assert (
        apply_outcome(job, Outcome(OutcomeKind.SUCCESS), now=T0, policy=POLICY, rng=RNG).status
        is JobStatus.SUCCESS
    )
