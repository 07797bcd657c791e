"""The PostgreSQL store claims by account rows whose gates are computed ahead (``jobqueue.schedule``)
and kept by SQL; the memory store judges every account's gate afresh at each claim. Driven through
the same random histories (posting windows that cross midnight, spacing, daily limits, several
timezones, retries, blocks, cooldowns, reviews, the clock jumping hours and days), both must make
the very same claims and end with the same queue."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from harness.postgres import Cluster
from jobqueue import (
    Claim,
    JobStatus,
    LostClaim,
    MemoryJobStore,
    NewJob,
    Outcome,
    OutcomeKind,
    QueuePolicy,
    Settlement,
)
from jobqueue.pgstore import PostgresJobStore
from jobqueue.posting import AccountRules, PostingWindow
from jobqueue.store import JobStore
from tests.jobqueue.conftest import T0

ACCOUNTS = ("a0", "a1", "a2", "a3", "a4", "a5")
POLICY = QueuePolicy(
    daily_limit=2,
    timezone="UTC",
    infra_failures_before_cooldown=2,
    infra_cooldown_s=1800,
    accounts={
        "a0": AccountRules(2, "Europe/Berlin", PostingWindow.parse("09:00-17:00"), 3600),
        "a1": AccountRules(1, "America/New_York", PostingWindow.parse("22:00-02:00")),
        "a2": AccountRules(3, "Asia/Tokyo", None, 5400),
        "a3": AccountRules(2, "UTC", PostingWindow.parse("06:30-06:45")),
        "a4": AccountRules(0, "UTC"),
    },
)
KINDS = (
    [OutcomeKind.SUCCESS] * 5
    + [OutcomeKind.RETRYABLE] * 2
    + [OutcomeKind.PERMANENT, OutcomeKind.ACCOUNT, OutcomeKind.INFRASTRUCTURE, OutcomeKind.INFRASTRUCTURE]
)


def jobs(rng: random.Random, prefix: str, count: int) -> list[NewJob]:
    return [
        NewJob(
            f"{prefix}{n}",
            rng.choice(ACCOUNTS),
            f"v/{prefix}{n}.mp4",
            "c",
            max_attempts=rng.choice((1, 2, 3)),
            not_before=T0 + timedelta(minutes=rng.randrange(0, 3000)) if rng.random() < 0.3 else None,
        )
        for n in range(count)
    ]


def view(store: JobStore) -> list[tuple[object, ...]]:
    return [
        (j.job_id, j.status, j.attempts, j.infra_attempts, j.retry_at, j.checkpoint_at, j.completed_at)
        for j in store.snapshot().jobs
    ]


@pytest.mark.parametrize("seed", range(8))
def test_the_database_claims_exactly_what_the_rules_say(pg_cluster: Cluster, seed: int) -> None:
    rng = random.Random(seed)
    memory = MemoryJobStore(POLICY, rng=random.Random(seed))
    pg = PostgresJobStore(pg_cluster.new_database(), POLICY, rng=random.Random(seed), host="pc1")
    stores: tuple[JobStore, JobStore] = (memory, pg)
    held: list[tuple[Claim, Claim]] = []
    now = T0
    try:
        first = jobs(rng, "j", 40)
        for store in stores:
            store.seed(first)
        for step in range(260):
            action = rng.random()
            if action < 0.15:
                now += timedelta(minutes=rng.choice((1, 7, 30, 95, 300, 1440)))
            elif action < 0.50:
                prefer = rng.choice((None, None, *ACCOUNTS))
                worker = rng.randrange(4)
                got = [s.claim_next(worker, 1000 + step, now, prefer_account=prefer) for s in stores]
                assert [c and c.job.job_id for c in got] == [got[0] and got[0].job.job_id] * 2, step
                if got[0] is not None and got[1] is not None:
                    held.append((got[0], got[1]))
            elif action < 0.80 and held:
                pair = held.pop(rng.randrange(len(held)))
                if rng.random() < 0.3:
                    for store, claim in zip(stores, pair, strict=True):
                        store.checkpoint(claim, now)
                if rng.random() < 0.15:
                    done = [s.release(c, now, "stop") for s, c in zip(stores, pair, strict=True)]
                else:
                    outcome = Outcome(rng.choice(KINDS), "e", "m")
                    done = [s.record(c, outcome, now) for s, c in zip(stores, pair, strict=True)]
                assert done[0].status == done[1].status and done[0].retry_at == done[1].retry_at, step
            elif action < 0.84:
                account = rng.choice(ACCOUNTS)
                assert memory.has_due_job(account, now) == pg.has_due_job(account, now), step
            elif action < 0.87:
                account = rng.choice(ACCOUNTS)
                assert memory.unblock_account(account) == pg.unblock_account(account), step
            elif action < 0.89:
                account = rng.choice(ACCOUNTS)
                for store in stores:
                    store.block_account(account, "by hand", "", now)
            elif action < 0.93:
                reviews = [j for j in memory.snapshot().jobs if j.status is JobStatus.REVIEW]
                if reviews:
                    job = rng.choice(reviews)
                    settlement = Settlement(Outcome(OutcomeKind.SUCCESS), posted=True)
                    for store in stores:
                        store.settle_review(job.job_id, settlement, now, expect_external_id=job.external_id)
            elif action < 0.95:
                for store in stores:
                    store.requeue(None, (JobStatus.FAILED, JobStatus.REVIEW))
            elif action < 0.97 and held:
                # a worker that died: its claim goes back (before the checkpoint: due, no attempt)
                dead = held.pop(rng.randrange(len(held)))
                for store, claim in zip(stores, dead, strict=True):
                    gone = (claim.worker_id, claim.job.worker_pid)

                    def alive(worker: int, pid: int, gone: tuple[int, int | None] = gone) -> bool:
                        return (worker, pid) != gone

                    store.recover_orphans(alive, now)
            else:
                more = jobs(rng, f"s{step}_", 5)
                for store in stores:
                    store.seed(more)
            assert view(memory) == view(pg), step
        mine, theirs = memory.snapshot().accounts, pg.snapshot().accounts
        assert mine.blocked.keys() == theirs.blocked.keys()
        assert mine.infra_streaks == theirs.infra_streaks
        live = {a for a, c in mine.cooldowns.items() if c.until > now}
        assert live == {a for a, c in theirs.cooldowns.items() if c.until > now}
        if held:  # fenced: a claim that was recovered meanwhile cannot be recorded
            pg.recover_orphans(lambda _w, _p: False, now)
            with pytest.raises(LostClaim):
                pg.record(held[0][1], Outcome(OutcomeKind.SUCCESS), now)
    finally:
        pg.close()
