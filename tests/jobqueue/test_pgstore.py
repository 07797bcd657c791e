"""What the PostgreSQL store adds to the shared contract: the database itself refuses a second
claimed job on one account, processes share one queue safely (replayed from the history table, in
lock order), the schema is versioned and a newer one is refused. (The shared contract tests run
against it through ``make_store``.)"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.postgres import Cluster
from jobqueue import Claim, JobStatus, LostClaim, NewJob, Outcome, OutcomeKind, QueuePolicy
from jobqueue.pgstore import (
    SCHEMA_VERSION,
    DatabaseUnavailable,
    HostNameTaken,
    PostgresJobStore,
    SchemaTooNew,
    migrate,
    text_array,
)
from tests.jobqueue.conftest import T0, UTC_POLICY, new_jobs

BUSY_POLICY = QueuePolicy(daily_limit=10_000, timezone="UTC")
PROCESSES, JOBS, ACCOUNTS = 4, 400, 10


@contextlib.contextmanager
def stores_on(url: str, *hosts: str, policy: QueuePolicy = UTC_POLICY) -> Iterator[list[PostgresJobStore]]:
    """One store per PC name on the queue at ``url``, closed afterwards."""
    stores = [PostgresJobStore(url, policy, host=host) for host in hosts]
    try:
        yield stores
    finally:
        for store in stores:
            store.close()


def test_the_database_refuses_a_second_claimed_job_on_one_account(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    store = PostgresJobStore(url, UTC_POLICY)
    try:
        store.seed(new_jobs(4, accounts=1))
        assert store.claim_next(1, os.getpid(), T0) is not None
        with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("UPDATE po_jobs SET status = 'claimed' WHERE job_id = 'j1'")
        assert [j.status for j in store.snapshot().jobs].count(JobStatus.CLAIMED) == 1
    finally:
        store.close()


def test_the_schema_is_applied_once_and_a_newer_one_is_refused(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    first, second = PostgresJobStore(url, UTC_POLICY), PostgresJobStore(url, UTC_POLICY)
    try:
        first.seed(new_jobs(2))
        assert len(second.snapshot().jobs) == 2  # a second store (host) finds the same queue
        with psycopg.connect(url, autocommit=True) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM po_schema").fetchall()]
            assert versions == list(range(1, SCHEMA_VERSION + 1))
            conn.execute("INSERT INTO po_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
            with pytest.raises(SchemaTooNew, match="update parallel-orchestrator"):
                migrate(conn)
    finally:
        first.close()
        second.close()


def test_a_queue_from_schema_3_gets_its_account_rows_and_due_times_on_first_use(pg_cluster: Cluster) -> None:
    """Schema 3 had no po_accounts and no due_at: the first store to connect computes them from the
    jobs (as for a queue loaded by COPY), once, and claims then follow the rules."""
    url = pg_cluster.new_database()
    seeder = PostgresJobStore(url, UTC_POLICY)
    seeder.seed(new_jobs(6, accounts=3))
    claim = seeder.claim_next(0, 1, T0)
    assert claim is not None
    seeder.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    seeder.close()
    with psycopg.connect(url, autocommit=True) as conn:  # as schema 3 left it
        conn.execute("UPDATE po_jobs SET due_at = NULL")
        conn.execute("DELETE FROM po_accounts")
        conn.execute("UPDATE po_meta SET accounts_synced = false")
    stores = [PostgresJobStore(url, UTC_POLICY) for _ in range(2)]
    try:
        claims = [s.claim_next(n, 10 + n, T0) for n, s in enumerate(stores)]
        accounts = sorted(c.job.account for c in claims if c is not None)
        assert accounts == ["a1", "a2"]  # a0 posted first: it comes last in the fairness order
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT account, day_posts, claimed IS NOT NULL FROM po_accounts ORDER BY 1")
            assert rows.fetchall() == [("a0", 1, False), ("a1", 0, True), ("a2", 0, True)]
            waiting = conn.execute("SELECT count(*) FROM po_jobs WHERE status = 'pending' AND due_at IS NULL")
            assert waiting.fetchone() == (0,)
    finally:
        for store in stores:
            store.close()


def claim_and_complete(url: str, worker_id: int, ready: Any) -> None:
    store = PostgresJobStore(url, BUSY_POLICY, lock_timeout_s=120)
    try:
        store.snapshot()  # connected and loaded ...
        ready.wait(timeout=300)  # ... then all start together (a process that starts late finds no work)
        while True:
            now = datetime.now(UTC)
            claim = store.claim_next(worker_id, os.getpid(), now)
            if claim is None:
                if not any(j.status is JobStatus.PENDING for j in store.snapshot().jobs):
                    return
                continue  # every account with work is busy: another worker holds it
            store.record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
    finally:
        store.close()


@pytest.mark.timeout(600)
def test_processes_share_one_queue_each_job_once_one_claim_per_account(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    seeder = PostgresJobStore(url, BUSY_POLICY)
    seeder.seed(NewJob(f"job{i:04d}", f"acc{i % ACCOUNTS:02d}", f"v/{i}.mp4", f"c {i}") for i in range(JOBS))
    seeder.close()
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(PROCESSES)
    workers = [context.Process(target=claim_and_complete, args=(url, n, ready)) for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join()  # no deadline here: the verdict must not depend on the machine's speed
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    with psycopg.connect(url, autocommit=True) as conn:
        history = [r[0] for r in conn.execute("SELECT entry FROM po_history ORDER BY id").fetchall()]
    events = [
        (e["op"], e["job"], e["account"], e["worker"]) for e in history if e["op"] in ("claim", "record")
    ]
    claims = Counter(job for op, job, _, _ in events if op == "claim")
    records = Counter(job for op, job, _, _ in events if op == "record")
    assert len(claims) == JOBS and set(claims.values()) == {1}
    assert len(records) == JOBS and set(records.values()) == {1}
    held: defaultdict[str, int] = defaultdict(int)
    for op, _, account, _ in events:
        held[account] += 1 if op == "claim" else -1
        assert held[account] in (0, 1), f"account {account} held by two claims at once"
    done_by = Counter(worker for op, _, _, worker in events if op == "record")
    assert len(done_by) == PROCESSES  # every process got work
    final = PostgresJobStore(url, BUSY_POLICY)
    try:
        assert {j.status for j in final.snapshot().jobs} == {JobStatus.SUCCESS}
    finally:
        final.close()


def test_each_pc_recovers_only_its_own_dead_workers_claims(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    with stores_on(url, "pc1", "pc2") as (pc1, pc2):
        pc1.seed(new_jobs(2, accounts=2))
        claim = pc1.claim_next(0, 4242, T0)
        assert claim is not None and claim.job.host == "pc1"
        assert pc2.recover_orphans(lambda _w, _p: False, T0) == []  # pid 4242 on pc1 is not pc2's to judge
        assert [j.job_id for j in pc1.recover_orphans(lambda _w, _p: False, T0)] == [claim.job.job_id]


def test_a_host_name_in_use_by_a_live_orchestrator_is_refused(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    with stores_on(url, "pc1", "pc1") as (first, second):
        first.join("C:/fleet/a", 100, lease_s=60)
        with pytest.raises(HostNameTaken, match="give each PC"):
            second.join("C:/fleet/b", 200, lease_s=60)
        second.join("C:/fleet/b", 200, lease_s=0)  # the other went silent: the name is free again
        assert [(h.host, h.folder) for h in first.hosts()] == [("pc1", "C:/fleet/b")]


def test_a_silent_pcs_claims_are_recovered_by_another_and_fenced(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    with stores_on(url, "pc1", "pc2") as (pc1, pc2):
        pc1.seed(new_jobs(2, accounts=2))
        pc1.join("/pc1", 1, lease_s=60)
        pc2.join("/pc2", 2, lease_s=60)
        before, after = pc1.claim_next(0, 11, T0), pc1.claim_next(1, 12, T0)
        assert before is not None and after is not None
        pc1.checkpoint(after, T0)
        assert pc2.recover_silent_hosts(3600, T0) == {}  # heard of a moment ago
        recovered = pc2.recover_silent_hosts(0, T0)
        states = {j.job_id: (j.status, j.attempts) for j in recovered["pc1"]}
        assert states == {
            before.job.job_id: (JobStatus.RETRYING, 0),  # due again, no attempt used
            after.job.job_id: (JobStatus.REVIEW, 0),  # past its checkpoint: a person checks
        }
        assert [h.host for h in pc2.hosts()] == ["pc2"]
        with pytest.raises(LostClaim):  # pc1's worker wakes up: its claim is fenced off
            pc1.checkpoint(before, T0)
        assert pc1.beat() is False  # pc1 is back in the list
        assert {h.host for h in pc2.hosts()} == {"pc1", "pc2"}


def test_stop_all_fleet_reaches_every_pc_that_joined_before_it(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    with stores_on(url, "pc1", "pc2") as (pc1, pc2):
        pc1.join("/pc1", 1, lease_s=60)
        assert pc1.beat() is False
        pc2.request_fleet_stop()
        assert pc1.beat() is True
        pc2.join("/pc2", 2, lease_s=60)  # a run started after the stop is not stopped by it
        assert pc2.beat() is False


class CommitThenDrop:
    """A connection that loses itself right after its next commit went through: the client cannot
    tell whether the change was made (what a server crash or a network cut at that moment does)."""

    armed = False

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._conn.transaction() as tx:
            yield tx
        if CommitThenDrop.armed:
            CommitThenDrop.armed = False
            self._conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")


def flaky(url: str) -> Any:
    return CommitThenDrop(psycopg.connect(url, autocommit=True))


def test_a_commit_lost_with_its_connection_is_read_back_and_never_done_twice(pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    store = PostgresJobStore(url, UTC_POLICY, connect=flaky, host="pc1", sleep=lambda _s: None)
    try:
        store.seed(new_jobs(3, accounts=3))
        CommitThenDrop.armed = True
        claim = store.claim_next(0, 77, T0)  # committed, then the connection dropped
        assert claim is not None
        claimed = [j for j in store.snapshot().jobs if j.status is JobStatus.CLAIMED]
        assert [j.job_id for j in claimed] == [claim.job.job_id]  # the read-back found it: no second claim
        CommitThenDrop.armed = True
        store.checkpoint(claim, T0)
        CommitThenDrop.armed = True
        done = store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
        assert done.status is JobStatus.SUCCESS
        with psycopg.connect(url) as conn:
            ops = [
                e["op"]
                for (e,) in conn.execute(
                    "SELECT entry FROM po_history WHERE entry->>'job' = %s", (claim.job.job_id,)
                )
            ]
        assert ops == ["claim", "checkpoint", "record"]  # each once
    finally:
        store.close()


def test_a_database_restart_is_waited_out_and_a_long_outage_is_a_clear_error(
    own_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_cluster.new_database()
    store = PostgresJobStore(url, UTC_POLICY, host="pc1", reconnect_s=60)
    try:
        store.seed(new_jobs(2, accounts=2))
        own_cluster.stop_server()

        def restart_soon() -> None:
            time.sleep(1.5)  # the outage the claim must wait out
            own_cluster.start_server()

        restart = threading.Thread(target=restart_soon)
        restart.start()
        with caplog.at_level(logging.WARNING, logger="jobqueue.pgstore"):
            claim = store.claim_next(0, 77, T0)  # waits for the server, then claims
        restart.join()
        assert claim is not None
        assert "retrying claim" in caplog.text
        assert store.record(claim, Outcome(OutcomeKind.SUCCESS), T0).status is JobStatus.SUCCESS

        own_cluster.stop_server()
        quick = PostgresJobStore(url, UTC_POLICY, host="pc1", reconnect_s=1.0)
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            quick.snapshot()
        own_cluster.start_server()
        assert len(quick.snapshot().jobs) == 2
        quick.close()
    finally:
        store.close()


def test_stores_that_keep_their_rows_between_operations_always_see_the_queue_as_it_is(
    pg_cluster: Cluster,
) -> None:
    """Each store re-reads only the rows written since its last operation (row revisions): after
    any mix of operations by two stores, each one's view equals a fresh read."""
    url = pg_cluster.new_database()
    rng = random.Random(3)
    stores = [PostgresJobStore(url, BUSY_POLICY, host=h, rng=random.Random(n)) for n, h in enumerate("ab")]
    try:
        stores[0].seed(new_jobs(30, accounts=6))
        claims: list[Claim] = []
        for step in range(150):
            store = rng.choice(stores)
            action = rng.random()
            if action < 0.45:
                claim = store.claim_next(step % 4, 1000 + step, T0)
                if claim is not None:
                    claims.append(claim)
            elif action < 0.85 and claims:
                claim = claims.pop(rng.randrange(len(claims)))
                kind = rng.choice([OutcomeKind.SUCCESS, OutcomeKind.RETRYABLE, OutcomeKind.ACCOUNT])
                rng.choice(stores).record(claim, Outcome(kind, "x", "y"), T0)
            elif action < 0.92:
                store.seed(new_jobs(3, accounts=6, prefix=f"s{step}_"))
            else:
                store.requeue(None)
            fresh = PostgresJobStore(url, BUSY_POLICY)
            truth = fresh.snapshot()
            fresh.close()
            for kept in stores:
                seen = kept.snapshot()
                assert seen.jobs == truth.jobs, f"step {step}"
                assert seen.accounts == truth.accounts
    finally:
        for store in stores:
            store.close()


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        # any text a UTF-8 file can hold: no NUL (PostgreSQL's text refuses it), no lone surrogates
        st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])),
        max_size=8,
    )
)
def test_cells_reach_the_database_exactly_as_they_are(pg_cluster: Cluster, values: list[str]) -> None:
    """The claim, record and checkpoint send a row's cells as one array literal (``text_array``):
    quotes, backslashes, braces, commas, spaces and empty cells come back unchanged."""
    with psycopg.connect(pg_cluster.url()) as conn:
        row = conn.execute("SELECT %s::text[]", (text_array(values),)).fetchone()
    assert row is not None and (row[0] or []) == values


class RecordingCursor(psycopg.Cursor[Any]):
    """Keeps the text of every statement its connection runs."""

    statements: ClassVar[list[str]] = []

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        RecordingCursor.statements.append(str(query))
        return super().execute(query, *args, **kwargs)


def test_a_first_whole_queue_operation_reads_the_queue_before_it_waits_for_the_accounts_lock(
    pg_cluster: Cluster,
) -> None:
    """A worker's first whole-queue operation (an account problem to record) reads every job. It does
    so before it takes the accounts table's lock, which every claim of the fleet waits for: under the
    lock only the rows changed since are read again."""
    url = pg_cluster.new_database()
    with stores_on(url, "pc1") as (seeder,):
        seeder.seed(new_jobs(40, accounts=4))
        claim = seeder.claim_next(0, 1, T0)
    assert claim is not None
    RecordingCursor.statements = []
    fresh = PostgresJobStore(
        url,
        UTC_POLICY,
        host="pc1",
        connect=lambda u: psycopg.connect(u, autocommit=True, cursor_factory=RecordingCursor),
    )
    with psycopg.connect(url) as claimer:  # a claim under way elsewhere holds the accounts table
        claimer.execute("LOCK TABLE po_accounts IN ROW EXCLUSIVE MODE")
        done: list[Any] = []
        worker = threading.Thread(
            target=lambda: done.append(fresh.record(claim, Outcome(OutcomeKind.ACCOUNT, "captcha", "x"), T0))
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            waiting = False
            while not waiting and time.monotonic() < deadline:
                waiting = bool(
                    claimer.execute(
                        "SELECT 1 FROM pg_locks WHERE relation = 'po_accounts'::regclass"
                        " AND mode = 'ExclusiveLock' AND NOT granted"
                    ).fetchone()
                )
                time.sleep(0.01)
            assert waiting, "the record never asked for the accounts table's lock"
            full_reads = [s for s in RecordingCursor.statements if "FROM po_jobs ORDER BY position" in s]
            assert full_reads, "the queue is read only after the accounts lock is granted"
        finally:
            claimer.rollback()
            worker.join(timeout=30)
            fresh.close()
    assert done and done[0].status is JobStatus.FAILED
    assert RecordingCursor.statements.count(full_reads[0]) == 1  # and not read again under the lock


def test_claim_holder_names_the_worker_and_pc_holding_an_accounts_claim(pg_cluster: Cluster) -> None:
    """What a worker asks before it takes over a running phone: who holds the account's claim. A PC
    name a spreadsheet would take for a formula comes back as it was named."""
    url = pg_cluster.new_database()
    with stores_on(url, "=pc1", "pc2") as (pc1, pc2):
        pc1.seed(new_jobs(4, accounts=2))
        claim = pc1.claim_next(3, 1, T0)
        assert claim is not None
        other = "a1" if claim.job.account == "a0" else "a0"
        assert pc2.claim_holder(claim.job.account) == (3, "=pc1")
        assert pc2.claim_holder(other) is None
        pc1.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
        assert pc2.claim_holder(claim.job.account) is None
