"""Account rules and whole-queue invariants under random sequences of operations."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue import (
    AccountsState,
    Claim,
    JobStatus,
    MemoryJobStore,
    NewJob,
    Outcome,
    OutcomeKind,
    QueuePolicy,
    successes_on_day,
)
from jobqueue.accounts import after_outcome, block, unblock
from tests.jobqueue.conftest import T0, new_jobs

POLICY = QueuePolicy(daily_limit=2, timezone="America/New_York", infra_failures_before_cooldown=2)
INFRA = Outcome(OutcomeKind.INFRASTRUCTURE, "adb_timeout")


def is_not_worker(dead: int, worker_id: int, pid: int) -> bool:
    return worker_id != dead


def test_consecutive_infra_failures_start_a_cooldown_and_success_resets_the_streak() -> None:
    state = after_outcome(AccountsState(), "a", "j1", outcome=INFRA, now=T0, policy=POLICY)
    assert state.infra_streaks == {"a": 1} and not state.cooldowns
    reset = after_outcome(state, "a", "j1", outcome=Outcome(OutcomeKind.SUCCESS), now=T0, policy=POLICY)
    assert reset.infra_streaks == {}
    cooled = after_outcome(state, "a", "j2", outcome=INFRA, now=T0, policy=POLICY)
    assert cooled.cooldowns["a"].until == T0 + timedelta(seconds=POLICY.infra_cooldown_s)
    assert not cooled.is_available("a", T0) and cooled.infra_streaks == {}


def test_ended_cooldowns_are_dropped() -> None:
    cooled = after_outcome(
        after_outcome(AccountsState(), "a", "j", outcome=INFRA, now=T0, policy=POLICY),
        "a",
        "j",
        outcome=INFRA,
        now=T0,
        policy=POLICY,
    )
    later = T0 + timedelta(seconds=POLICY.infra_cooldown_s)
    assert (
        after_outcome(
            cooled, "b", "j", outcome=Outcome(OutcomeKind.SUCCESS), now=later, policy=POLICY
        ).cooldowns
        == {}
    )


def test_account_outcome_blocks_and_unblock_lifts() -> None:
    state = after_outcome(
        AccountsState(), "a", "j1", outcome=Outcome(OutcomeKind.ACCOUNT, "banned"), now=T0, policy=POLICY
    )
    assert state.blocked["a"].reason == "banned" and not state.is_available("a", T0)
    assert block(state, "a", "other", job_id="j2", now=T0).blocked["a"].job_id == "j1"
    assert unblock(state, "a") == (AccountsState(), True)
    assert unblock(AccountsState(), "a")[1] is False


def test_claims_rotate_fairly_across_accounts() -> None:
    store = MemoryJobStore(QueuePolicy(daily_limit=10, timezone="UTC"))
    store.seed(new_jobs(9, accounts=3))
    order = []
    for step in range(6):
        now = T0 + timedelta(minutes=step)
        claim = store.claim_next(1, 1, now)
        assert claim is not None
        order.append(claim.job.account)
        store.record(claim, Outcome(OutcomeKind.SUCCESS), now)
    assert order == ["a0", "a1", "a2", "a0", "a1", "a2"]


actions = st.lists(
    st.tuples(
        st.integers(0, 3),  # worker
        st.sampled_from(
            ["claim", "success", "retry", "infra", "account", "release", "orphan", "tick", "requeue"]
        ),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(actions, st.integers(0, 2**16))
def test_no_account_is_ever_held_twice_or_posted_over_its_limit(
    steps: list[tuple[int, str]], seed: int
) -> None:
    store = MemoryJobStore(POLICY, rng=random.Random(seed))
    store.seed(NewJob(f"j{i}", f"a{i % 3}", "v", "c", max_attempts=2) for i in range(12))
    held: dict[int, Claim] = {}
    now = T0
    for worker, action in steps:
        claim = held.get(worker)
        if action == "tick":
            now += timedelta(hours=5)
        elif action == "requeue":
            store.requeue(None, [JobStatus.FAILED])
        elif action == "orphan":
            store.recover_orphans(partial(is_not_worker, worker), now)
            held.pop(worker, None)
        elif claim is None:
            held_claim = store.claim_next(worker, worker, now) if action == "claim" else None
            if held_claim is not None:
                held[worker] = held_claim
        elif action == "release":
            store.release(held.pop(worker), now, "stop")
        elif action != "claim":
            kind = {
                "success": OutcomeKind.SUCCESS,
                "retry": OutcomeKind.RETRYABLE,
                "infra": OutcomeKind.INFRASTRUCTURE,
                "account": OutcomeKind.ACCOUNT,
            }[action]
            store.record(held.pop(worker), Outcome(kind), now)
        jobs = store.snapshot().jobs
        claimed = Counter(job.account for job in jobs if job.status is JobStatus.CLAIMED)
        assert all(count == 1 for count in claimed.values())
        assert all(
            count <= POLICY.daily_limit for count in successes_on_day(jobs, now, POLICY.timezone).values()
        )
