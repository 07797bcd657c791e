"""The claim rule: due jobs, account eligibility, fairness, and the index that must agree with it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue import (
    AccountBlock,
    AccountCooldown,
    AccountsState,
    Job,
    JobStatus,
    QueuePolicy,
    has_due_job,
    is_due,
    lease_expired,
    local_day,
    next_claim,
)
from jobqueue.claimindex import ClaimIndex
from tests.jobqueue.conftest import T0

POLICY = QueuePolicy(daily_limit=2, timezone="Europe/Berlin")
NO_ACCOUNTS = AccountsState()
HOUR = timedelta(hours=1)


def job(job_id: str, account: str, status: JobStatus = JobStatus.PENDING, **fields: Any) -> Job:
    return replace(Job(job_id, account, f"{job_id}.mp4", "c"), status=status, **fields)


def done(job_id: str, account: str, at: datetime = T0) -> Job:
    return job(job_id, account, JobStatus.SUCCESS, completed_at=at, claimed_at=at)


def claim_id(
    jobs: list[Job], accounts: AccountsState = NO_ACCOUNTS, prefer_account: str | None = None
) -> str | None:
    chosen = next_claim(jobs, accounts, T0, POLICY, prefer_account=prefer_account)
    indexed = ClaimIndex(jobs, POLICY).next_claim(jobs, accounts, T0, POLICY, prefer_account=prefer_account)
    assert chosen == indexed
    return None if chosen is None else chosen.job_id


def test_first_pending_job_in_file_order_is_claimed() -> None:
    assert claim_id([job("j1", "a"), job("j2", "a")]) == "j1"


def test_retrying_job_waits_for_retry_at() -> None:
    jobs = [job("j1", "a", JobStatus.RETRYING, retry_at=T0 + HOUR), job("j2", "a")]
    assert claim_id(jobs) == "j2"
    assert is_due(replace(jobs[0], retry_at=T0), T0)


def test_unassigned_jobs_are_never_claimed() -> None:
    assert claim_id([job("j1", "")]) is None


def test_account_with_a_claimed_job_is_skipped() -> None:
    assert claim_id([job("j1", "a", JobStatus.CLAIMED), job("j2", "a"), job("j3", "b")]) == "j3"


def test_account_at_its_daily_limit_is_skipped() -> None:
    jobs = [done("d1", "a"), done("d2", "a"), job("j1", "a"), job("j2", "b")]
    assert claim_id(jobs) == "j2"


def test_yesterdays_successes_do_not_count() -> None:
    jobs = [done("d1", "a", T0 - timedelta(days=1)), done("d2", "a", T0 - timedelta(days=1)), job("j1", "a")]
    assert claim_id(jobs) == "j1"


def test_blocked_account_is_skipped() -> None:
    accounts = AccountsState(blocked={"a": AccountBlock("a", "suspended", "j0", T0)})
    assert claim_id([job("j1", "a"), job("j2", "b")], accounts) == "j2"


def test_cooling_account_is_skipped_until_the_cooldown_ends() -> None:
    cooling = AccountsState(cooldowns={"a": AccountCooldown("a", "infra", T0 + HOUR)})
    over = AccountsState(cooldowns={"a": AccountCooldown("a", "infra", T0 - HOUR)})
    assert claim_id([job("j1", "a")], cooling) is None
    assert claim_id([job("j1", "a")], over) == "j1"


def test_account_with_fewest_successes_today_goes_first() -> None:
    jobs = [done("d1", "a"), job("j1", "a"), job("j2", "b")]
    assert claim_id(jobs) == "j2"


def test_account_with_the_oldest_last_claim_goes_first() -> None:
    jobs = [
        job("x1", "a", JobStatus.FAILED, claimed_at=T0 - HOUR),
        job("x2", "b", JobStatus.FAILED, claimed_at=T0 - 2 * HOUR),
        job("j1", "a"),
        job("j2", "b"),
    ]
    assert claim_id(jobs) == "j2"


def test_preferred_account_goes_first_when_eligible() -> None:
    jobs = [job("j1", "a"), job("j2", "b")]
    assert claim_id(jobs, prefer_account="b") == "j2"
    assert claim_id([job("j1", "a"), job("j2", "b", JobStatus.CLAIMED)], prefer_account="b") == "j1"


def test_has_due_job_answers_for_one_account() -> None:
    jobs = [job("j1", "a"), job("j2", "b", JobStatus.RETRYING, retry_at=T0 + HOUR)]
    assert has_due_job(jobs, NO_ACCOUNTS, "a", T0, policy=POLICY)
    assert not has_due_job(jobs, NO_ACCOUNTS, "b", T0, policy=POLICY)
    assert ClaimIndex(jobs, POLICY).has_due_job(jobs, NO_ACCOUNTS, "a", T0, policy=POLICY)


def test_lease_expires_after_the_policy_lease() -> None:
    assert not lease_expired(T0 - timedelta(seconds=POLICY.claim_lease_s - 1), T0, POLICY)
    assert lease_expired(T0 - timedelta(seconds=POLICY.claim_lease_s + 1), T0, POLICY)
    assert lease_expired(None, T0, POLICY)


# Property tests --------------------------------------------------------------------------------

offsets = st.integers(-48, 48).map(lambda h: T0 + timedelta(hours=h))
random_jobs = st.lists(
    st.builds(
        lambda account, status, retry_at, completed_at, claimed_at: (
            account,
            status,
            retry_at,
            completed_at,
            claimed_at,
        ),
        st.sampled_from(["a", "b", "c", "d", ""]),
        st.sampled_from(list(JobStatus)),
        st.none() | offsets,
        st.none() | offsets,
        st.none() | offsets,
    ),
    max_size=30,
).map(
    lambda specs: [
        job(f"j{i}", account, status, retry_at=retry_at, completed_at=completed_at, claimed_at=claimed_at)
        for i, (account, status, retry_at, completed_at, claimed_at) in enumerate(specs)
    ]
)
account_states = st.builds(
    lambda blocked, cooling: AccountsState(
        blocked={a: AccountBlock(a, "r", "j", T0) for a in blocked},
        cooldowns={a: AccountCooldown(a, "r", T0 + HOUR) for a in cooling},
    ),
    st.sets(st.sampled_from("abcd")),
    st.sets(st.sampled_from("abcd")),
)


def eligible(candidate: Job, jobs: list[Job], accounts: AccountsState) -> bool:
    account = candidate.account
    busy = any(j.account == account and j.status is JobStatus.CLAIMED for j in jobs)
    # Posts count towards the daily limit: successes and review jobs (they may have been posted).
    today = sum(
        1
        for j in jobs
        if j.account == account
        and j.status in (JobStatus.SUCCESS, JobStatus.REVIEW)
        and j.completed_at is not None
        and local_day(j.completed_at, POLICY.timezone) == local_day(T0, POLICY.timezone)
    )
    return (
        is_due(candidate, T0)
        and not busy
        and today < POLICY.daily_limit
        and accounts.is_available(account, T0)
    )


@settings(max_examples=300, deadline=None)
@given(random_jobs, account_states, st.none() | st.sampled_from("abcd"))
def test_claim_rule_properties(jobs: list[Job], accounts: AccountsState, prefer: str | None) -> None:
    chosen = next_claim(jobs, accounts, T0, POLICY, prefer_account=prefer)
    index = ClaimIndex(jobs, POLICY)
    assert index.next_claim(jobs, accounts, T0, POLICY, prefer_account=prefer) == chosen
    if chosen is None:
        assert not any(eligible(j, jobs, accounts) for j in jobs)
        return
    assert eligible(chosen, jobs, accounts)
    first_of_account = next(j for j in jobs if j.account == chosen.account and is_due(j, T0))
    assert chosen is first_of_account
    for account in "abcd":
        assert index.has_due_job(jobs, accounts, account, T0, policy=POLICY) == has_due_job(
            jobs, accounts, account, T0, policy=POLICY
        )


@settings(max_examples=100, deadline=None)
@given(random_jobs, st.lists(st.tuples(st.integers(0, 29), st.sampled_from(list(JobStatus))), max_size=20))
def test_index_updated_row_by_row_equals_a_fresh_one(
    jobs: list[Job], edits: list[tuple[int, JobStatus]]
) -> None:
    index = ClaimIndex(jobs, POLICY)
    for position, status in edits:
        if position < len(jobs):
            new = replace(jobs[position], status=status, completed_at=T0, claimed_at=T0 - HOUR)
            index.replace(position, jobs[position], new)
            jobs[position] = new
    assert index.next_claim(jobs, NO_ACCOUNTS, T0, POLICY) == next_claim(jobs, NO_ACCOUNTS, T0, POLICY)
    fresh = ClaimIndex(jobs, POLICY)
    assert +index.busy == +fresh.busy
    assert +index.post_days == +fresh.post_days
    assert {a: p for a, p in index.candidates.items() if p} == {
        a: p for a, p in fresh.candidates.items() if p
    }


def test_local_day_is_in_the_policy_zone() -> None:
    assert str(local_day(T0, POLICY.timezone)) == "2026-06-15"
