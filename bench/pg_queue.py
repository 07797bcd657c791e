"""`bench/queue_ops.py --store postgres`: our PostgreSQL queue against procrastinate's own cycle.

Both on the same server, in the same run, each configuration in a fresh database:
- ours: N worker processes, each with its own ``PostgresJobStore``, run ``claim_next`` then
  ``record(SUCCESS)`` back to back (no work between) on jobs spread over 200 accounts; the store keeps
  one claimed job per account, daily limits and the journal while it does;
- procrastinate: N processes run its own fetch-and-finish SQL (``procrastinate_fetch_job_v2`` and
  ``procrastinate_finish_job_v1``, its schema as shipped) on as many jobs; they need no account rules.
Both clients are Python processes on psycopg, so the client's cost is in both figures. The throwaway
server runs with PostgreSQL's durable defaults (fsync, synchronous commit), as an operator's would.

Beside the rates, CPU milliseconds per cycle: of the workers' database backends ("db", measured only
on a server started here, where their processes can be read) and of the worker processes ("client").
On a machine whose cores the clients share with the server, the rates follow the sum of the two.

Throughput is cycles a second over a fixed wall time (or until the queue ran empty); latency is the
p99 of the claim (fetch) calls that got a job.
Every figure is measured, none is asserted; the machine is noisy, so ratios within one run count.

The last line is ``ratios: pg_vs_procrastinate_64w=<x> pg_p99_claim_ms_1m_32w=<y>``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACCOUNTS = 200


@dataclass(frozen=True)
class Figure:
    cycles_per_s: float
    p99_claim_ms: float
    db_cpu_ms: float = math.nan  # CPU of the workers' backends per cycle (nan: not measured)
    client_cpu_ms: float = math.nan  # CPU of the worker processes per cycle


class CpuMeter:
    """CPU seconds used so far by this process and by its database backend (when ``backend_pid``
    is a process of this machine); ``mark()`` keeps the reading of the last cycle that got a job,
    so a worker spinning on an emptied queue is not counted."""

    def __init__(self, backend_pid: int | None) -> None:
        import psutil

        self._backend = None
        if backend_pid is not None:
            with contextlib.suppress(psutil.Error):
                self._backend = psutil.Process(backend_pid)
        self.start = self.read()
        self.last = self.start

    def read(self) -> tuple[float, float]:
        import psutil

        db = math.nan
        if self._backend is not None:
            with contextlib.suppress(psutil.Error):
                times = self._backend.cpu_times()
                db = times.user + times.system
        return time.process_time(), db

    def mark(self) -> None:
        self.last = self.read()

    def used(self) -> tuple[float, float]:
        """(client, db) CPU seconds from the start to the last mark."""
        return self.last[0] - self.start[0], self.last[1] - self.start[1]


@contextlib.contextmanager
def server(url: str | None) -> Iterator[Callable[[], str]]:
    """`new_database()` on the given server, or on a throwaway cluster started here."""
    import psycopg

    from harness.postgres import start_cluster

    cluster = None if url else start_cluster(Path(tempfile.mkdtemp(prefix="po-pg-bench-")), durable=True)
    admin = cluster.url() if cluster else url
    assert admin is not None
    made: list[str] = []

    def new_database() -> str:
        name = f"po_bench_{os.getpid()}_{len(made)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        if cluster:
            return cluster.url(name)
        from urllib.parse import urlsplit, urlunsplit

        return urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))

    try:
        yield new_database
    finally:
        if cluster is not None:
            cluster.stop()
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                for name in made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def seed_ours(url: str, jobs: int) -> None:
    """The queue as our store writes it, loaded with COPY (seeding a million jobs one by one would
    measure the seeding, not the queue)."""
    import psycopg

    from jobqueue import QueuePolicy
    from jobqueue.csvrow import Layout, job_cells
    from jobqueue.model import Job
    from jobqueue.pgstore import PostgresJobStore, migrate

    layout = Layout.default()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        with (
            conn.cursor() as cur,
            cur.copy("COPY po_jobs (job_id, account, status, cells) FROM STDIN") as copy,
        ):
            for n in range(jobs):
                account = f"acct{n % ACCOUNTS:03d}"
                job = Job(f"job{n:07d}", account, f"/videos/v{n}.mp4", f"caption {n}, with a comma")
                copy.write_row((job.job_id, account, "pending", job_cells(job, (), layout, "UTC")))
        conn.execute("UPDATE po_jobs SET due_at = '1970-01-01T00:00:00Z'")
        conn.execute("UPDATE po_meta SET accounts_synced = false")
    # the accounts' rows, as the store computes them for a queue it did not write itself
    store = PostgresJobStore(url, QueuePolicy(daily_limit=10**9, timezone="UTC"))
    store.has_due_job("acct000", datetime.now(UTC))
    store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum would after a bulk load: both sides get real plans


def procrastinate_schema() -> Path:
    """The schema procrastinate ships (the package is a benchmark-only dependency: `.[bench]`)."""
    spec = importlib.util.find_spec("procrastinate")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("procrastinate is not installed: pip install -e .[bench]")
    return Path(spec.origin).parent / "sql" / "schema.sql"


def seed_procrastinate(url: str, jobs: int) -> None:
    import psycopg

    schema = procrastinate_schema().read_text(encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema.encode("utf-8"))
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
            " SELECT 'default', 'post', jsonb_build_object('n', n) FROM generate_series(1, %s) AS n",
            (jobs,),
        )
        conn.execute("VACUUM ANALYZE")


def _ours(url: str, worker_id: int, seconds: float, start_at: float, local: bool, out: Any) -> None:
    from jobqueue import Outcome, OutcomeKind, QueuePolicy
    from jobqueue.pgstore import PostgresJobStore

    store = PostgresJobStore(url, QueuePolicy(daily_limit=10**9, timezone="UTC"), host="bench")
    store.has_due_job("acct000", datetime.now(UTC))  # connected before the clock starts
    backend = store._connection().info.backend_pid if local else None
    latencies: list[float] = []
    done = 0
    while time.time() < start_at:
        time.sleep(0.01)
    meter = CpuMeter(backend)
    end = time.monotonic() + seconds
    last_done = start_at
    spinning = False
    while time.monotonic() < end:
        asked = time.monotonic()
        claim = store.claim_next(worker_id, os.getpid(), datetime.now(UTC))
        if claim is None:
            if not spinning:  # every account with a due job is busy, or the queue is empty
                meter.mark()
                spinning = True
            continue
        spinning = False
        latencies.append(time.monotonic() - asked)
        store.record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
        done += 1
        last_done = time.time()
    if not spinning:
        meter.mark()
    store.close()
    out.put((done, latencies, last_done, meter.used()))


def _procrastinate(url: str, worker_id: int, seconds: float, start_at: float, local: bool, out: Any) -> None:
    import psycopg

    latencies: list[float] = []
    done = 0
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT * FROM procrastinate_register_worker_v1()").fetchone()
        assert row is not None
        worker = int(row[0])
        while time.time() < start_at:
            time.sleep(0.01)
        meter = CpuMeter(conn.info.backend_pid if local else None)
        end = time.monotonic() + seconds
        last_done = start_at
        while time.monotonic() < end:
            asked = time.monotonic()
            job = conn.execute("SELECT id FROM procrastinate_fetch_job_v2(NULL, %s)", (worker,)).fetchone()
            if job is None or job[0] is None:
                break  # the queue is empty
            latencies.append(time.monotonic() - asked)
            conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", (job[0],))
            done += 1
            last_done = time.time()
        meter.mark()
    out.put((done, latencies, last_done, meter.used()))


def measure(target: Callable[..., None], url: str, workers: int, seconds: float, local: bool) -> Figure:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 5 + workers * 0.5  # every process connected and loaded before the clock starts
    procs = [
        context.Process(target=target, args=(url, w, seconds, start_at, local, out)) for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    latencies = sorted(x for _, lat, _, _ in results for x in lat)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else math.nan
    done = sum(n for n, _, _, _ in results)
    # a queue emptied before the time was up: the rate is over the time it took
    elapsed = min(seconds, max(last for _, _, last, _ in results) - start_at)
    client = sum(used[0] for *_, used in results)
    db = sum(used[1] for *_, used in results)  # nan when not measured
    return Figure(
        done / elapsed if done and elapsed > 0 else 0.0,
        p99,
        db / done * 1000 if done else math.nan,
        client / done * 1000 if done else math.nan,
    )


def _cpu(figure: Figure) -> str:
    return f"{figure.db_cpu_ms:.2f}+{figure.client_cpu_ms:.2f}"


def run(url: str | None, quick: bool) -> int:
    try:
        procrastinate_schema()
    except FileNotFoundError as exc:
        print(exc)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still stops its server
    sizes = (10_000,) if quick else (10_000, 100_000, 1_000_000)
    workers_list = (1, 8) if quick else (1, 8, 32, 64)
    seconds = 3.0 if quick else 10.0
    ours: dict[tuple[int, int], Figure] = {}
    theirs: dict[tuple[int, int], Figure] = {}
    print(f"PostgreSQL queue: claim+complete cycles/s and p99 claim ms, {seconds:.0f} s per configuration;")
    print("CPU ms per cycle of the database backends + of the clients (db+client)")
    print(
        f"{'jobs':>9} {'workers':>7} | {'ours/s':>8} {'p99 ms':>7} {'db+client':>11} |"
        f" {'procr./s':>8} {'p99 ms':>7} {'db+client':>11} | ratio"
    )
    local = url is None  # the backends' processes are on this machine: their CPU can be read
    with server(url) as new_database:
        for jobs in sizes:
            for workers in workers_list:
                started = time.monotonic()
                db = new_database()
                seed_ours(db, jobs)
                ours[(jobs, workers)] = mine = measure(_ours, db, workers, seconds, local)
                db = new_database()
                seed_procrastinate(db, jobs)
                theirs[(jobs, workers)] = other = measure(_procrastinate, db, workers, seconds, local)
                ratio = mine.cycles_per_s / other.cycles_per_s if other.cycles_per_s else math.nan
                print(
                    f"{jobs:>9} {workers:>7} | {mine.cycles_per_s:>8.0f} {mine.p99_claim_ms:>7.1f}"
                    f" {_cpu(mine):>11} | {other.cycles_per_s:>8.0f} {other.p99_claim_ms:>7.1f}"
                    f" {_cpu(other):>11} | {ratio:.2f}x   ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
    at_64 = [k for k in ours if k[1] == max(workers_list)]
    key = max(at_64) if at_64 else None
    vs = ours[key].cycles_per_s / theirs[key].cycles_per_s if key else math.nan
    p99 = ours[(1_000_000, 32)].p99_claim_ms if (1_000_000, 32) in ours else math.nan
    if key is not None:
        print(f"pg_vs_procrastinate_64w: measured at {key[0]:,} jobs, {key[1]} workers")
    print(f"ratios: pg_vs_procrastinate_64w={vs:.2f} pg_p99_claim_ms_1m_32w={p99:.1f}")
    return 0
