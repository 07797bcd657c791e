"""The job queue in PostgreSQL (psycopg 3): several hosts on one queue, the same rules as the CSV.

Every operation is one transaction that takes the queue's table lock (writers queue up like the
CSV's file lock; readers are never blocked: ``snapshot`` reads a consistent MVCC snapshot), loads
the jobs (reused from the previous operation while the queue's version number is unchanged), runs
the very same ``JobTable`` operation as the CSV and memory stores, and writes back only the rows it
changed, the accounts' state and the journal entries (the ``po_history`` table), then bumps the
version. The database holds what must never break on its own: a partial unique index allows one
claimed job per account, whatever the code above it does.

Rows keep the progress file's cells (``jobqueue.csvrow``): one encoding for both stores, so
``export-csv`` and ``import-csv`` are exact.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jobqueue.claimindex import ClaimIndex
from jobqueue.csvrow import Layout, RowDecoder, job_cells
from jobqueue.csvstore import journal_entries
from jobqueue.errors import LockTimeout, QueueError, QueueUnavailable
from jobqueue.model import (
    AccountsState,
    Claim,
    Job,
    JobStatus,
    NewJob,
    Outcome,
    QueueSnapshot,
    SeedResult,
    Settlement,
)
from jobqueue.policy import QueuePolicy
from jobqueue.sidecar import decode_accounts, encode_accounts
from jobqueue.store import DEFAULT_REQUEUE
from jobqueue.table import JobTable

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 5.0)  # then every 5 s until reconnect_s
ACCOUNTS_WHERE = Path("po_meta.accounts")  # names the place in errors about the accounts' state
LAYOUT = Layout.default()


class DatabaseUnavailable(QueueUnavailable):
    """The queue's database cannot be reached or dropped the connection (nothing was changed, or the
    change was rolled back)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the queue database cannot be reached: {reason.strip()}. Check that PostgreSQL runs and"
            " [queue] url (host, port, database, user; the password in the URL or PGPASSWORD)"
        )


class HostNameTaken(QueueError):
    """Another orchestrator that is alive uses this PC name on the same queue."""

    def __init__(self, host: str, folder: str, seen_s: float) -> None:
        super().__init__(
            f"the host name {host!r} is in use on this queue by a running orchestrator in {folder}"
            f" (seen {seen_s:.0f}s ago): give each PC (and each folder) its own [queue] host"
        )


@dataclass(frozen=True)
class HostRow:
    """One orchestrator working the queue, as the database last heard of it."""

    host: str
    folder: str
    pid: int
    started_at: datetime
    seen_s: float  # seconds since its last heartbeat, by the database's clock


class SchemaTooNew(QueueError):
    """The database was set up by a newer version of this program."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"the queue database has schema version {found}, this program knows up to {SCHEMA_VERSION}:"
            " update parallel-orchestrator on this PC (every host must run the same version)"
        )


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL migrations shipped with the package, in order."""
    folder = resources.files("jobqueue") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Apply the migrations the database lacks, in one transaction; returns the version.
    Raises SchemaTooNew for a database newer than this code."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7420001)")  # two hosts starting at once
        conn.execute("CREATE TABLE IF NOT EXISTS po_schema (version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM po_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(current)
        for number, sql in migrations():
            if number > current:
                conn.execute(sql.encode("utf-8"))
                conn.execute("INSERT INTO po_schema (version) VALUES (%s)", (number,))
                current = number
    return current


@dataclass
class _Cache:
    """The rows as last read, kept between operations: only rows written since (``rev``) are read
    again. ``jobs``, ``index`` and ``claim_index`` are what ``JobTable`` works on (updated in place)."""

    version: int
    rev: int  # the highest row revision read or written
    positions: list[int]  # the row's position column, in order
    jobs: list[Job]
    index: dict[str, int]  # job_id -> place in jobs
    at: dict[int, int]  # position column -> place in jobs
    claim_index: ClaimIndex | None = None


class PostgresJobStore:
    """A ``JobStore`` in a PostgreSQL database (``url``: a libpq connection string or URL)."""

    def __init__(
        self,
        url: str,
        policy: QueuePolicy | None = None,
        *,
        rng: random.Random | None = None,
        lock_timeout_s: float = 30.0,
        connect: Callable[[str], psycopg.Connection[Any]] | None = None,
        host: str = "",
        reconnect_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self.host = host
        self._reconnect_s = reconnect_s
        self._sleep = sleep
        self._joined: tuple[str, int] = ("", 0)
        self._policy = policy or QueuePolicy()
        self._rng = rng or random.Random()
        self._lock_timeout_ms = int(lock_timeout_s * 1000)
        self._connect = connect or _connect
        self._thread_lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._cache: _Cache | None = None
        self._decode = RowDecoder(LAYOUT, self._policy.timezone, self._policy.default_max_attempts)

    @property
    def policy(self) -> QueuePolicy:
        return self._policy

    def close(self) -> None:
        with self._thread_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            import psycopg

            try:
                conn = self._connect(self._url)
                migrate(conn)
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(str(exc)) from None
            self._conn = conn
        return self._conn

    def _job(self, cells: Sequence[str]) -> Job:
        return self._decode(cells)[0]

    def _load(
        self, conn: psycopg.Connection[Any], row: tuple[Any, ...] | None = None
    ) -> tuple[_Cache, AccountsState]:
        """The rows and the accounts' state; ``row``: po_meta's (version, accounts) when read already."""
        if row is None:
            row = conn.execute("SELECT version, accounts FROM po_meta WHERE id = 1").fetchone()
        version = int(row[0]) if row else 0
        accounts = decode_accounts(row[1].encode("utf-8"), ACCOUNTS_WHERE) if row else AccountsState()
        cache = self._cache
        if cache is None:
            rows = conn.execute("SELECT position, rev, cells FROM po_jobs ORDER BY position").fetchall()
            positions = [int(r[0]) for r in rows]
            jobs = [self._job(r[2]) for r in rows]
            cache = _Cache(
                version,
                max((int(r[1]) for r in rows), default=0),
                positions,
                jobs,
                {job.job_id: n for n, job in enumerate(jobs)},
                {position: n for n, position in enumerate(positions)},
            )
        elif cache.version != version:
            rows = conn.execute(
                "SELECT position, rev, cells FROM po_jobs WHERE rev > %s ORDER BY position", (cache.rev,)
            ).fetchall()
            for position, rev, cells in rows:
                self._patch(cache, int(position), self._job(cells))
                cache.rev = max(cache.rev, int(rev))
            cache.version = version
        return cache, accounts

    @staticmethod
    def _patch(cache: _Cache, position: int, job: Job) -> None:
        """One row as another store wrote it: in place, or appended (new rows come last)."""
        place = cache.at.get(position)
        if place is None:
            place = len(cache.jobs)
            cache.jobs.append(job)
            cache.positions.append(position)
            cache.at[position] = place
            cache.index[job.job_id] = place
            if cache.claim_index is not None:
                cache.claim_index.add(place, job)
            return
        if cache.claim_index is not None:
            cache.claim_index.replace(place, cache.jobs[place], job)
        cache.jobs[place] = job

    def _operate(
        self,
        name: str,
        operation: Callable[[JobTable], T],
        settled: Callable[[JobTable], tuple[bool, T]] | None = None,
    ) -> T:
        """One operation in one transaction. A dropped connection (a database restart, the network)
        is retried with backoff for ``reconnect_s``, then DatabaseUnavailable. When the commit may
        have happened before the connection dropped, ``settled`` reads the rows back: (True, result)
        if the operation took effect (it is never done twice), (False, _) to do it again."""
        read_back = None if settled is None else (lambda: self._operate_once("read_back", settled))
        return self._retrying(name, lambda: self._operate_once(name, operation), read_back)

    def _retrying(
        self, name: str, attempt: Callable[[], T], read_back: Callable[[], tuple[bool, T]] | None = None
    ) -> T:
        import psycopg

        delays = iter(RECONNECT_DELAYS_S)
        deadline = time.monotonic() + self._reconnect_s
        check: Callable[[], tuple[bool, T]] | None = None
        while True:
            try:
                if check is not None:
                    done, result = check()
                    if done:
                        return result
                return attempt()
            except psycopg.errors.LockNotAvailable:
                raise LockTimeout("the queue table (po_jobs)", self._lock_timeout_ms / 1000) from None
            except (psycopg.OperationalError, DatabaseUnavailable) as exc:
                self._drop()
                check = read_back
                pause = next(delays, RECONNECT_DELAYS_S[-1])
                if time.monotonic() + pause > deadline:
                    raise (
                        exc if isinstance(exc, DatabaseUnavailable) else DatabaseUnavailable(str(exc))
                    ) from None
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("queue database: %s; retrying %s in %.1f s", first_line, name, pause)
                self._sleep(pause)

    def _drop(self) -> None:
        with self._thread_lock:
            self._cache = None
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def _operate_once(self, name: str, operation: Callable[[JobTable], T]) -> T:
        with self._thread_lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    # Every commit waits for the server's log (synchronous_commit stays on): a record
                    # or a recovery lost to a server crash while the run goes on would leave a claim
                    # that nobody recovers (seen in the chaos run). One round trip for all of it.
                    cursor = conn.execute(
                        f"SET LOCAL lock_timeout = {self._lock_timeout_ms}; "
                        "LOCK TABLE po_jobs IN SHARE ROW EXCLUSIVE MODE; "
                        "SELECT version, accounts FROM po_meta WHERE id = 1"
                    )
                    while cursor.description is None and cursor.nextset():
                        pass
                    cache, accounts = self._load(conn, cursor.fetchone())
                    table = JobTable(
                        cache.jobs, accounts, self._policy, self._rng, cache.index, cache.claim_index
                    )
                    cache.claim_index = table.claim_index  # kept up to date by the table from now on
                    accounts_before = table.accounts
                    result = operation(table)
                    if table.changed or table.accounts_changed:
                        self._write(conn, cache, table, name, accounts_before)
            except BaseException:
                self._cache = None
                raise
            self._cache = cache
            return result

    def _write(
        self,
        conn: psycopg.Connection[Any],
        cache: _Cache,
        table: JobTable,
        name: str,
        accounts_before: AccountsState,
    ) -> None:
        """Write the table's changed rows (stamped with new revisions), the accounts' state and the
        journal entries, bump the version; the cache follows (the table changed its jobs in place)."""
        positions = cache.positions
        changed = sorted(table.changed)
        # rows that stop being claimed first: the one-claim-per-account index is checked per row
        changed.sort(key=lambda p: table.jobs[p].status is JobStatus.CLAIMED)
        tz = self._policy.timezone
        for p in changed:
            job = table.jobs[p]
            cells = job_cells(job, (), LAYOUT, tz)
            if p < len(positions):
                row = conn.execute(
                    "UPDATE po_jobs SET account = %s, status = %s, cells = %s, rev = nextval('po_rev')"
                    " WHERE position = %s RETURNING rev",
                    (job.account, job.status.value, cells, positions[p]),
                ).fetchone()
            else:
                row = conn.execute(
                    "INSERT INTO po_jobs (job_id, account, status, cells, rev)"
                    " VALUES (%s, %s, %s, %s, nextval('po_rev')) RETURNING rev, position",
                    (job.job_id, job.account, job.status.value, cells),
                ).fetchone()
                assert row is not None
                cache.at[int(row[1])] = len(positions)
                positions.append(int(row[1]))
            assert row is not None
            cache.rev = max(cache.rev, int(row[0]))
        accounts_text = encode_accounts(table.accounts).decode("utf-8")
        entries = [json.dumps(entry) for entry in journal_entries(name, table, accounts_before)]
        row = conn.execute(
            "WITH history AS (INSERT INTO po_history (entry) SELECT unnest(%s::jsonb[]))"
            " UPDATE po_meta SET version = version + 1, accounts = %s WHERE id = 1 RETURNING version",
            (entries, accounts_text),
        ).fetchone()
        assert row is not None
        cache.version = int(row[0])

    # -- the JobStore protocol ---------------------------------------------------------------------
    def claim_next(
        self, worker_id: int, worker_pid: int, now: datetime, prefer_account: str | None = None
    ) -> Claim | None:
        def mine(table: JobTable) -> tuple[bool, Claim | None]:
            """A worker holds one claim at most: one of its own in the rows is the one it asked for."""
            for job in table.jobs:
                if job.status is JobStatus.CLAIMED and (job.worker_id, job.worker_pid, job.host) == (
                    worker_id,
                    worker_pid,
                    self.host,
                ):
                    return True, Claim(job, job.claim_token, worker_id)
            return False, None

        return self._operate(
            "claim", lambda t: t.claim_next(worker_id, worker_pid, now, prefer_account, host=self.host), mine
        )

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None:
        def done(table: JobTable) -> tuple[bool, None]:
            job = _held_job(table, claim)
            return job is not None and job.checkpoint_at is not None, None

        self._operate("checkpoint", lambda t: t.checkpoint(claim, now, external_id), done)

    def attach_external_id(self, claim: Claim, external_id: str, now: datetime) -> Job:
        def done(table: JobTable) -> tuple[bool, Job]:
            job = _held_job(table, claim)
            return job is not None and job.external_id == external_id, job or claim.job

        return self._operate("attach_external_id", lambda t: t.attach_external_id(claim, external_id), done)

    def withdraw_checkpoint(self, claim: Claim, now: datetime) -> Job:
        def done(table: JobTable) -> tuple[bool, Job]:
            job = _held_job(table, claim)
            return job is not None and job.checkpoint_at is None, job or claim.job

        return self._operate("withdraw_checkpoint", lambda t: t.withdraw_checkpoint(claim), done)

    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None:
        return self._operate(
            "settle_review",
            lambda t: t.settle_review(job_id, settlement, now, expect_external_id=expect_external_id),
        )

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job:
        return self._operate("record", lambda t: t.record(claim, outcome, now), _claim_ended(claim))

    def release(self, claim: Claim, now: datetime, reason: str) -> Job:
        return self._operate("release", lambda t: t.release(claim, now, reason), _claim_ended(claim))

    def recover_orphans(self, is_alive: Callable[[int, int], bool], now: datetime) -> list[Job]:
        return self._operate("recover_orphans", lambda t: t.recover_orphans(is_alive, now, host=self.host))

    def has_due_job(self, account: str, now: datetime) -> bool:
        return self._operate("has_due_job", lambda t: t.has_due_job(account, now))

    def adopt(self, jobs: Sequence[Job], accounts: AccountsState) -> int:
        """Take over another queue's jobs as they are, in one transaction (``JobTable.adopt``)."""

        def done(table: JobTable) -> tuple[bool, int]:
            return bool(jobs) and all(job.job_id in table.index for job in jobs), len(jobs)

        return self._operate("import", lambda t: t.adopt(jobs, accounts), done)

    def seed(self, jobs: Iterable[NewJob]) -> SeedResult:
        new = list(jobs)
        return self._operate("seed", lambda t: t.seed(new))

    def requeue(
        self, job_ids: Sequence[str] | None, statuses: Collection[JobStatus] = DEFAULT_REQUEUE
    ) -> list[Job]:
        return self._operate("requeue", lambda t: t.requeue(job_ids, statuses))

    def cancel_account(self, account: str, reason: str, now: datetime) -> list[Job]:
        return self._operate("cancel_account", lambda t: t.cancel_account(account, reason, now))

    def update_captions(self, captions: Mapping[str, str]) -> tuple[list[Job], list[Job]]:
        return self._operate("update_captions", lambda t: t.update_captions(captions))

    def block_account(self, account: str, reason: str, job_id: str, now: datetime) -> None:
        self._operate("block_account", lambda t: t.block_account(account, reason, job_id, now))

    def unblock_account(self, account: str) -> bool:
        return self._operate("unblock_account", lambda t: t.unblock_account(account))

    # -- several PCs on one queue -----------------------------------------------------------------
    def _run_sql(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with self._thread_lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    cursor = conn.execute(sql.encode("utf-8"), params)
                    return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError as exc:
                self._conn = None
                raise DatabaseUnavailable(str(exc)) from None

    def join(self, folder: str, pid: int, lease_s: float) -> None:
        """Say that this PC's orchestrator (in ``folder``, process ``pid``) works the queue now.
        HostNameTaken if another one with the same host name beat within the lease."""
        rows = self._run_sql(
            "SELECT folder, pid, extract(epoch FROM clock_timestamp() - seen_at) FROM po_hosts"
            " WHERE host = %s",
            (self.host,),
        )
        if rows:
            folder_then, pid_then, seen_s = rows[0]
            same = folder_then == folder and int(pid_then) == pid
            if not same and float(seen_s) < lease_s:
                raise HostNameTaken(self.host, str(folder_then), float(seen_s))
        self._joined = (folder, pid)
        self._run_sql(
            "INSERT INTO po_hosts (host, folder, pid) VALUES (%s, %s, %s) ON CONFLICT (host) DO UPDATE"
            " SET folder = EXCLUDED.folder, pid = EXCLUDED.pid, started_at = clock_timestamp(),"
            " seen_at = clock_timestamp()",
            (self.host, folder, pid),
        )

    def beat(self) -> bool:
        """This PC is alive (back in the list if others took it for silent); True if
        `--stop-all --fleet` asked every PC to stop since it joined."""
        folder, pid = self._joined
        rows = self._run_sql(
            "INSERT INTO po_hosts AS h (host, folder, pid) VALUES (%s, %s, %s) ON CONFLICT (host) DO UPDATE"
            " SET seen_at = clock_timestamp()"
            " RETURNING (SELECT stop_requested_at FROM po_meta WHERE id = 1) >= h.started_at",
            (self.host, folder, pid),
        )
        return bool(rows and rows[0][0])

    def leave(self) -> None:
        """This PC's orchestrator ended (its claims were settled by its own recovery)."""
        self._run_sql("DELETE FROM po_hosts WHERE host = %s", (self.host,))

    def hosts(self) -> list[HostRow]:
        """Every PC working the queue, most recently heard of first."""
        rows = self._run_sql(
            "SELECT host, folder, pid, started_at, extract(epoch FROM clock_timestamp() - seen_at)"
            " FROM po_hosts ORDER BY seen_at DESC"
        )
        return [HostRow(str(h), str(f), int(p), s, float(a)) for h, f, p, s, a in rows]

    def recover_silent_hosts(self, lease_s: float, now: datetime) -> dict[str, list[Job]]:
        """Claims of PCs not heard of for ``lease_s`` go back (before the checkpoint: due again
        with no attempt used; after it: review), and those PCs are forgotten. By host name."""
        older = "seen_at < clock_timestamp() - %s * interval '1 second'"
        rows = self._run_sql(f"SELECT host FROM po_hosts WHERE host <> %s AND {older}", (self.host, lease_s))
        recovered: dict[str, list[Job]] = {}
        for name in (str(r[0]) for r in rows):
            recovered[name] = self._recover_host(name, now)
            self._run_sql(f"DELETE FROM po_hosts WHERE host = %s AND {older}", (name, lease_s))
        return recovered

    def _recover_host(self, host: str, now: datetime) -> list[Job]:
        return self._operate("recover_host", lambda t: t.recover_host(host, now))

    def request_fleet_stop(self) -> None:
        """`--stop-all --fleet`: every PC's orchestrator stops at its next heartbeat."""
        self._run_sql("UPDATE po_meta SET stop_requested_at = clock_timestamp() WHERE id = 1")

    def snapshot(self) -> QueueSnapshot:
        """The jobs and accounts' state as of one moment (never waits for a writer)."""
        return self._retrying("snapshot", self._snapshot_once)

    def _snapshot_once(self) -> QueueSnapshot:
        with self._thread_lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cache, accounts = self._load(conn)
            except BaseException:
                self._cache = None
                raise
            self._cache = cache
            return QueueSnapshot(tuple(cache.jobs), accounts)


def _held_job(table: JobTable, claim: Claim) -> Job | None:
    """The claim's job while the claim still holds it (its fencing token unchanged)."""
    position = table.index.get(claim.job.job_id)
    job = None if position is None else table.jobs[position]
    return (
        job
        if job is not None and job.status is JobStatus.CLAIMED and job.claim_token == claim.token
        else None
    )


def _claim_ended(claim: Claim) -> Callable[[JobTable], tuple[bool, Job]]:
    """Read-back for record and release: done once the claim no longer holds its job."""

    def done(table: JobTable) -> tuple[bool, Job]:
        position = table.index.get(claim.job.job_id)
        job = claim.job if position is None else table.jobs[position]
        return _held_job(table, claim) is None, job

    return done


def _connect(url: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(url, autocommit=True)
