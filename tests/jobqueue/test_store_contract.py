"""The JobStore contract, run against MemoryJobStore and CsvJobStore alike."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from jobqueue import (
    JobStatus,
    JobStore,
    LostClaim,
    NewJob,
    Outcome,
    OutcomeKind,
    QueuePolicy,
    UnknownJob,
)
from jobqueue.states import INFRA_BUDGET_EXHAUSTED
from tests.jobqueue.conftest import T0, StoreFactory, new_jobs

PID = os.getpid()
SUCCESS = Outcome(OutcomeKind.SUCCESS)
INFRA = Outcome(OutcomeKind.INFRASTRUCTURE, "adb_timeout", "device offline")


def test_store_implements_the_protocol(store: JobStore) -> None:
    assert isinstance(store, JobStore)


def test_seed_adds_unknown_jobs_only_and_never_modifies_rows(store: JobStore) -> None:
    store.seed(new_jobs(3))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    result = store.seed([NewJob("j0", "other", "x.mp4", "changed"), NewJob("new", "a1", "n.mp4", "n")])
    assert (result.added, result.already_present) == (1, 1)
    job = store.snapshot().job("j0")
    assert job is not None and (job.account, job.caption, job.status) == (
        "a0",
        "caption 0",
        JobStatus.CLAIMED,
    )


def test_seed_counts(store: JobStore) -> None:
    assert store.seed(new_jobs(3)).added == 3
    again = store.seed(new_jobs(4))
    assert (again.added, again.already_present) == (1, 3)


def test_claim_then_success(store: JobStore) -> None:
    store.seed(new_jobs(2))
    claim = store.claim_next(5, PID, T0)
    assert claim is not None and claim.worker_id == 5 and claim.job.status is JobStatus.CLAIMED
    job = store.record(claim, SUCCESS, T0)
    assert (job.status, job.completed_at, job.worker_id) == (JobStatus.SUCCESS, T0, 5)
    assert store.snapshot().job(claim.job.job_id) == job


def test_one_claim_per_account(store: JobStore) -> None:
    store.seed(new_jobs(4, accounts=1))
    assert store.claim_next(1, PID, T0) is not None
    assert store.claim_next(2, PID, T0) is None


def test_daily_limit_stops_claims_until_the_next_day(store: JobStore) -> None:
    store.seed(new_jobs(5, accounts=1))
    for _ in range(2):
        claim = store.claim_next(1, PID, T0)
        assert claim is not None
        store.record(claim, SUCCESS, T0)
    assert store.claim_next(1, PID, T0) is None
    assert not store.has_due_job("a0", T0)
    assert store.claim_next(1, PID, T0 + timedelta(days=1)) is not None


def test_record_with_a_stale_token_raises_lost_claim(store: JobStore) -> None:
    store.seed(new_jobs(1))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    store.recover_orphans(lambda worker_id, pid: False, T0)
    with pytest.raises(LostClaim):
        store.record(claim, SUCCESS, T0)
    with pytest.raises(LostClaim):
        store.checkpoint(claim, T0)
    with pytest.raises(LostClaim):
        store.release(claim, T0, "stop")


def test_orphan_before_checkpoint_is_retried_without_an_attempt(store: JobStore) -> None:
    store.seed(new_jobs(2))
    first = store.claim_next(1, 111, T0)
    second = store.claim_next(2, 222, T0)
    assert first is not None and second is not None
    recovered = store.recover_orphans(lambda worker_id, pid: pid == 222, T0)
    assert [job.job_id for job in recovered] == [first.job.job_id]
    job = recovered[0]
    assert (job.status, job.attempts, job.retry_at) == (JobStatus.RETRYING, 0, T0)
    assert store.claim_next(3, 333, T0) is not None


def test_orphan_after_checkpoint_goes_to_review_and_is_never_reclaimed(store: JobStore) -> None:
    store.seed(new_jobs(1))
    claim = store.claim_next(1, 111, T0)
    assert claim is not None
    store.checkpoint(claim, T0)
    (job,) = store.recover_orphans(lambda worker_id, pid: False, T0)
    assert job.status is JobStatus.REVIEW
    assert store.claim_next(2, 222, T0 + timedelta(days=3)) is None


def test_release_uses_no_attempt(store: JobStore) -> None:
    store.seed(new_jobs(1))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    job = store.release(claim, T0, "stop requested")
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)


def test_retryable_outcome_backs_off_then_is_due(store: JobStore) -> None:
    store.seed(new_jobs(1))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    job = store.record(claim, Outcome(OutcomeKind.RETRYABLE, "element_missing"), T0)
    assert job.status is JobStatus.RETRYING and job.retry_at is not None and job.attempts == 1
    if job.retry_at > T0:
        assert store.claim_next(1, PID, T0) is None
    assert store.claim_next(1, PID, job.retry_at) is not None


def test_account_outcome_blocks_the_account_until_unblocked(store: JobStore) -> None:
    store.seed(new_jobs(3, accounts=1))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    job = store.record(claim, Outcome(OutcomeKind.ACCOUNT, "suspended", "account suspended"), T0)
    assert job.status is JobStatus.FAILED
    block = store.snapshot().blocked["a0"]
    assert (block.reason, block.job_id, block.blocked_at) == ("suspended", claim.job.job_id, T0)
    assert store.claim_next(1, PID, T0) is None
    assert store.unblock_account("a0") is True
    assert store.unblock_account("a0") is False
    assert store.claim_next(1, PID, T0) is not None


def test_manual_block(store: JobStore) -> None:
    store.seed(new_jobs(1))
    store.block_account("a0", "operator", "", T0)
    assert store.claim_next(1, PID, T0) is None


def test_infra_failures_cool_the_account_down(make_store: StoreFactory) -> None:
    policy = QueuePolicy(
        daily_limit=9, timezone="UTC", infra_failures_before_cooldown=2, infra_cooldown_s=600
    )
    store = make_store(policy)
    store.seed(new_jobs(3, accounts=1))
    now = T0
    for _ in range(2):
        claim = store.claim_next(1, PID, now)
        assert claim is not None
        job = store.record(claim, INFRA, now)
        assert job.attempts == 0 and job.infra_attempts >= 1
        now = now + timedelta(hours=2)
    cooldown = store.snapshot().cooldowns["a0"]
    assert cooldown.until == now - timedelta(hours=2) + timedelta(seconds=600)
    assert "infrastructure" in cooldown.reason
    assert store.claim_next(1, PID, cooldown.until - timedelta(seconds=1)) is None
    assert store.claim_next(1, PID, cooldown.until) is not None


def test_infra_budget_exhausted_fails_the_job(make_store: StoreFactory) -> None:
    policy = QueuePolicy(timezone="UTC", infra_budget=2, infra_failures_before_cooldown=99)
    store = make_store(policy)
    store.seed(new_jobs(1))
    now = T0
    for _ in range(2):
        claim = store.claim_next(1, PID, now)
        assert claim is not None
        job = store.record(claim, INFRA, now)
        now = now + timedelta(days=1)
    assert (job.status, job.error_type, job.attempts) == (JobStatus.FAILED, INFRA_BUDGET_EXHAUSTED, 0)


def test_requeue_moves_failed_back_to_pending(store: JobStore) -> None:
    store.seed(new_jobs(2))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.PERMANENT, "corrupted_video"), T0)
    (job,) = store.requeue(None, [JobStatus.FAILED])
    assert (job.job_id, job.status, job.attempts) == (claim.job.job_id, JobStatus.PENDING, 0)
    assert store.requeue([claim.job.job_id], [JobStatus.FAILED]) == []


def test_requeue_rejects_unknown_ids_and_live_statuses(store: JobStore) -> None:
    store.seed(new_jobs(1))
    with pytest.raises(UnknownJob):
        store.requeue(["nope"], [JobStatus.FAILED])
    with pytest.raises(ValueError):
        store.requeue(None, [JobStatus.PENDING])


def test_preferred_account(store: JobStore) -> None:
    store.seed(new_jobs(6))
    claim = store.claim_next(1, PID, T0, prefer_account="a2")
    assert claim is not None and claim.job.account == "a2"


def test_snapshot_counts(store: JobStore) -> None:
    store.seed(new_jobs(3))
    store.claim_next(1, PID, T0)
    counts = store.snapshot().counts()
    assert (counts[JobStatus.PENDING], counts[JobStatus.CLAIMED]) == (2, 1)


def test_cancelling_an_account_fails_its_waiting_jobs_and_leaves_its_claim(store: JobStore) -> None:
    store.seed(new_jobs(6, accounts=2))  # a0: j0 j2 j4, a1: j1 j3 j5
    claim = store.claim_next(1, 101, T0, prefer_account="a0")
    assert claim is not None and claim.job.account == "a0"
    cancelled = store.cancel_account("a0", "account removed", T0)
    assert sorted(j.job_id for j in cancelled) == sorted({"j0", "j2", "j4"} - {claim.job.job_id})
    by_id = {j.job_id: j for j in store.snapshot().jobs}
    assert all(by_id[j.job_id].error_type == "cancelled" for j in cancelled)
    assert by_id[claim.job.job_id].status is JobStatus.CLAIMED
    assert {by_id[j].status for j in ("j1", "j3", "j5")} == {JobStatus.PENDING}
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)  # its worker settles it as usual
    following = store.claim_next(2, 102, T0, prefer_account="a0")
    assert following is not None and following.job.account == "a1"
