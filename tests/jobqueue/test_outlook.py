"""The queue's outlook judges accounts with the claim rule's own gate: "due now" means "a claim would
succeed now", and the run's exit rule waits only for what comes due today."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings

from jobqueue import AccountBlock, AccountCooldown, AccountsState, Job, JobStatus, QueuePolicy, QueueSnapshot
from jobqueue.claim import has_due_job, next_claim
from jobqueue.claimindex import ClaimIndex
from jobqueue.gate import WaitReason
from jobqueue.outlook import accounts_outlook, work_outlook
from tests.jobqueue.conftest import T0
from tests.jobqueue.test_claim import POLICY, account_states, random_jobs

UTC5 = QueuePolicy(daily_limit=5, timezone="UTC")
UTC1 = QueuePolicy(daily_limit=1, timezone="UTC")


def job(job_id: str, account: str, status: JobStatus = JobStatus.PENDING, **fields: Any) -> Job:
    return Job(job_id, account, f"/v/{job_id}.mp4", "c", status, **fields)


def done(job_id: str, account: str) -> Job:
    return job(job_id, account, JobStatus.SUCCESS, completed_at=T0 - timedelta(minutes=1))


def snap(*jobs: Job, blocked: tuple[str, ...] = (), cooling: dict[str, float] | None = None) -> QueueSnapshot:
    return QueueSnapshot(
        tuple(jobs),
        AccountsState(
            blocked={a: AccountBlock(a, "suspended", "j0", T0) for a in blocked},
            cooldowns={
                a: AccountCooldown(a, "phone keeps failing", T0 + timedelta(seconds=s))
                for a, s in (cooling or {}).items()
            },
        ),
    )


def test_outlook_counts_due_jobs_and_accounts() -> None:
    claimed = job("j4", "a3", JobStatus.CLAIMED, worker_id=0, claimed_at=T0)
    out = work_outlook(
        snap(job("j1", "a1"), job("j2", "a1"), job("j3", "a2"), claimed, job("j5", "a3")), T0, UTC5
    )
    assert out.due_now == 3
    assert out.due_accounts == {"a1", "a2"}
    assert out.claimed == 1
    assert not out.finished()


def test_outlook_waits_for_a_retry_due_today_but_not_for_tomorrows_daily_limit() -> None:
    retry = job("r", "a1", JobStatus.RETRYING, retry_at=T0 + timedelta(seconds=30))
    limited = job("l", "a2")
    out = work_outlook(snap(retry, limited, done("d", "a2")), T0, UTC1)
    assert out.due_now == 0 and out.next_due_at == T0 + timedelta(seconds=30)
    assert out.held_by_daily_limit == 1
    assert not out.finished()
    assert work_outlook(snap(limited, done("d", "a2")), T0, UTC1).finished()


def test_outlook_ignores_blocked_accounts_and_waits_out_a_cooldown() -> None:
    out = work_outlook(
        snap(job("b", "blocked"), job("c", "cool"), blocked=("blocked",), cooling={"cool": 20}), T0, UTC5
    )
    assert out.blocked == 1
    assert out.next_due_at == T0 + timedelta(seconds=20)


def test_accounts_outlook_says_why_not_now_and_until_when() -> None:
    claimed = job("c1", "busy", JobStatus.CLAIMED, worker_id=0, claimed_at=T0)
    view = accounts_outlook(
        snap(
            job("r1", "ready"),
            claimed,
            job("c2", "busy"),
            job("b1", "blocked"),
            job("k1", "cool"),
            job("l1", "limit"),
            done("l0", "limit"),
            blocked=("blocked",),
            cooling={"cool": 60},
        ),
        T0,
        UTC1,
    )
    reasons = {a: (v.waiting_for, v.gate.opens_at) for a, v in view.items()}
    assert reasons == {
        "ready": (None, None),
        "busy": (WaitReason.BUSY, None),
        "blocked": (WaitReason.BLOCKED, None),
        "cool": (WaitReason.COOLDOWN, T0 + timedelta(seconds=60)),
        "limit": (WaitReason.DAILY_LIMIT, T0.replace(hour=0) + timedelta(days=1)),
    }
    assert view["ready"].next_due_at == T0 and view["limit"].next_due_at == T0.replace(hour=0) + timedelta(
        days=1
    )


@settings(max_examples=300, deadline=None)
@given(random_jobs, account_states)
def test_outlook_says_due_now_exactly_when_a_claim_would_succeed(
    jobs: list[Job], accounts: AccountsState
) -> None:
    out = work_outlook(QueueSnapshot(tuple(jobs), accounts), T0, POLICY)
    assert (out.due_now > 0) == (next_claim(jobs, accounts, T0, POLICY) is not None)
    claimable = {a for a in "abcd" if has_due_job(jobs, accounts, a, T0, policy=POLICY)}
    assert out.due_accounts == claimable
    index = ClaimIndex(jobs, POLICY)
    assert {a for a in "abcd" if index.has_due_job(jobs, accounts, a, T0, policy=POLICY)} == claimable
    views = accounts_outlook(QueueSnapshot(tuple(jobs), accounts), T0, POLICY)
    assert {a for a, v in views.items() if v.gate.open and v.next_due_at == T0} == claimable
