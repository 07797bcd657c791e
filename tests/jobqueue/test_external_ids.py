"""The JobStore contract for jobs posted by an outside executor (GeeLark's publishing tasks):
external ids, a withdrawn checkpoint, the post's link and settling a review job from the
executor's final word. Run against MemoryJobStore and CsvJobStore alike."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from jobqueue import (
    Claim,
    CsvJobStore,
    JobStatus,
    JobStore,
    LostClaim,
    Outcome,
    OutcomeKind,
    Settlement,
    UnknownJob,
)
from jobqueue.states import ORPHANED_AFTER_CHECKPOINT
from tests.jobqueue.conftest import T0, UTC_POLICY, new_jobs

PID = os.getpid()
LINK = "https://www.tiktok.com/@a0/video/123"
NAME = "po:j0"


def claimed(store: JobStore) -> Claim:
    store.seed(new_jobs(1))
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    return claim


def orphaned_after_create(store: JobStore, task_id: str = "T1") -> None:
    """A worker checkpointed, created its task, stored its id and died."""
    claim = claimed(store)
    store.checkpoint(claim, T0, NAME)
    store.attach_external_id(claim, task_id, T0)
    (job,) = store.recover_orphans(lambda worker_id, pid: False, T0)
    assert (job.status, job.external_id, job.error_type) == (
        JobStatus.REVIEW,
        task_id,
        ORPHANED_AFTER_CHECKPOINT,
    )


def test_the_checkpoint_names_the_task_and_the_id_replaces_the_name(store: JobStore) -> None:
    claim = claimed(store)
    store.checkpoint(claim, T0, NAME)
    assert store.snapshot().job("j0").external_id == NAME  # type: ignore[union-attr]
    job = store.attach_external_id(claim, "T1", T0)
    assert (job.status, job.external_id, job.checkpoint_at) == (JobStatus.CLAIMED, "T1", T0)
    done = store.record(claim, Outcome(OutcomeKind.SUCCESS, post_url=LINK), T0)
    assert (done.status, done.external_id, done.post_url) == (JobStatus.SUCCESS, "T1", LINK)
    assert store.snapshot().job("j0") == done


def test_attach_and_withdraw_are_fenced_by_the_claim(store: JobStore) -> None:
    claim = claimed(store)
    store.recover_orphans(lambda worker_id, pid: False, T0)
    with pytest.raises(LostClaim):
        store.attach_external_id(claim, "T1", T0)
    with pytest.raises(LostClaim):
        store.withdraw_checkpoint(claim, T0)


def test_a_failure_after_the_checkpoint_goes_to_review(store: JobStore) -> None:
    claim = claimed(store)
    store.checkpoint(claim, T0, NAME)
    job = store.record(claim, Outcome(OutcomeKind.INFRASTRUCTURE, "task_20100", "no network"), T0)
    assert (job.status, job.error_type) == (JobStatus.REVIEW, "task_20100")


def test_a_withdrawn_checkpoint_lets_a_failure_be_retried_and_a_stop_be_released(store: JobStore) -> None:
    claim = claimed(store)
    store.checkpoint(claim, T0, NAME)
    store.attach_external_id(claim, "T1", T0)
    assert store.withdraw_checkpoint(claim, T0).checkpoint_at is None
    job = store.record(claim, Outcome(OutcomeKind.INFRASTRUCTURE, "task_20100", "no network"), T0)
    assert (job.status, job.infra_attempts, job.external_id) == (JobStatus.RETRYING, 1, "T1")
    again = store.claim_next(1, PID, job.retry_at or T0)
    assert again is not None and again.job.external_id == "T1"  # the next attempt knows a task existed
    store.checkpoint(again, T0, NAME)
    store.withdraw_checkpoint(again, T0)
    released = store.release(again, T0, "stop: the task had not started and was cancelled")
    assert (released.status, released.attempts, released.infra_attempts) == (JobStatus.RETRYING, 0, 1)


def test_a_review_settles_as_success_with_the_post_link(store: JobStore) -> None:
    orphaned_after_create(store)
    success = Settlement(Outcome(OutcomeKind.SUCCESS, post_url=LINK), posted=True)
    job = store.settle_review("j0", success, T0, expect_external_id="T1")
    assert job is not None
    assert (job.status, job.post_url, job.completed_at, job.claim_token) == (JobStatus.SUCCESS, LINK, T0, "")
    assert store.snapshot().job("j0") == job
    assert store.settle_review("j0", success, T0, expect_external_id="T1") is None  # already settled


def test_a_review_whose_task_posted_nothing_is_retried_without_the_checkpoint(store: JobStore) -> None:
    orphaned_after_create(store, task_id=NAME)  # died before it learned the task id
    failed = Settlement(Outcome(OutcomeKind.INFRASTRUCTURE, "task_20129", "device offline"), False, "T9")
    job = store.settle_review("j0", failed, T0, expect_external_id=NAME)
    assert job is not None
    assert (job.status, job.infra_attempts, job.external_id) == (JobStatus.RETRYING, 1, "T9")
    assert store.claim_next(2, PID, (job.retry_at or T0) + timedelta(seconds=1)) is not None


def test_a_review_whose_task_was_cancelled_before_it_ran_is_released(store: JobStore) -> None:
    orphaned_after_create(store)
    job = store.settle_review(
        "j0", Settlement(None, False, reason="cancelled at a stop"), T0, expect_external_id="T1"
    )
    assert job is not None
    assert (job.status, job.attempts, job.infra_attempts, job.error) == (
        JobStatus.PENDING,
        0,
        0,
        "cancelled at a stop",
    )


def test_an_account_failure_settles_failed_and_blocks_the_account(store: JobStore) -> None:
    orphaned_after_create(store)
    blocked = Settlement(Outcome(OutcomeKind.ACCOUNT, "task_20116", "not logged in"), posted=False)
    job = store.settle_review("j0", blocked, T0, expect_external_id="T1")
    assert job is not None and job.status is JobStatus.FAILED
    assert store.snapshot().blocked["a0"].reason == "task_20116"


def test_a_task_that_may_have_posted_stays_in_review_with_the_new_reason(store: JobStore) -> None:
    orphaned_after_create(store)
    unsure = Settlement(Outcome(OutcomeKind.RETRYABLE, "task_20003", "execution timed out"), posted=True)
    job = store.settle_review("j0", unsure, T0, expect_external_id="T1")
    assert job is not None
    assert (job.status, job.error_type, job.attempts) == (JobStatus.REVIEW, "task_20003", 0)
    assert "execution timed out" in job.error
    assert store.claim_next(2, PID, T0 + timedelta(days=3)) is None


def test_settling_is_fenced_by_status_and_external_id(store: JobStore) -> None:
    orphaned_after_create(store)
    success = Settlement(Outcome(OutcomeKind.SUCCESS), posted=True)
    assert store.settle_review("j0", success, T0, expect_external_id="T2") is None
    with pytest.raises(UnknownJob):
        store.settle_review("nope", success, T0, expect_external_id="T1")
    (requeued,) = store.requeue(["j0"], [JobStatus.REVIEW])
    assert (requeued.status, requeued.external_id) == (JobStatus.PENDING, "")  # a new post is wanted
    assert store.settle_review("j0", success, T0, expect_external_id="T1") is None
    assert store.snapshot().job("j0") == requeued


def test_a_settlement_that_may_have_posted_needs_an_outcome() -> None:
    with pytest.raises(ValueError):
        Settlement(None, posted=True)


def test_the_new_columns_round_trip_and_an_older_file_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    header = "job_id,account,video_path,caption,status,worker_id,claimed_at,completed_at,error,attempts,"
    path.write_bytes(
        f"{header}max_attempts,retry_at,error_type\r\nj0,a0,v.mp4,hi,pending,,,,,0,3,,\r\n".encode()
    )
    store = CsvJobStore(path, UTC_POLICY)
    claim = store.claim_next(1, PID, T0)
    assert claim is not None
    store.checkpoint(claim, T0, NAME)
    store.attach_external_id(claim, "=T1", T0)  # a formula-looking id is escaped like any text
    store.record(claim, Outcome(OutcomeKind.SUCCESS, post_url="https://x/1,2"), T0)
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].endswith(",external_id,post_url,not_before,host")
    job = CsvJobStore(path, UTC_POLICY).snapshot().job("j0")
    assert job is not None and (job.external_id, job.post_url) == ("=T1", "https://x/1,2")
