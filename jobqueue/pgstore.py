"""The job queue in PostgreSQL (psycopg 3): several hosts on one queue, the same rules as the CSV.

Two paths, one set of rules:

- **A claim and what follows it** (claim, checkpoint, external id, record, release) is one call
  of a SQL function (migration 0004), one round trip and one commit. A claim takes one account
  row with ``FOR UPDATE SKIP LOCKED``: the first in the fairness order that holds no claim, whose
  gate is open (``[gate_at, gate_until)``, computed by ``jobqueue.schedule`` with the very rules
  of ``jobqueue.gate``) and that has a due job, then that account's first due job. Its cost is
  bounded by the number of accounts, not by the backlog; claims of different accounts never wait
  for each other. A record is computed here from the row as the claim last wrote it (its revision
  is checked: a row changed meanwhile is read again) and the account's facts the claim returned.
  An outcome that changes an account's state (a block, a cooldown, a streak) takes the other path.
- **Every other operation** (seed, recovery, requeue, review settlement, blocks, import) takes the
  queue's two tables' locks, loads the jobs (only rows written since its last operation, by
  revision), runs the very same ``JobTable`` operation as the CSV and memory stores, writes back
  the rows it changed, the accounts' state, their rows and the journal (``po_history``).

The database holds what must never break on its own: a partial unique index allows one claimed
job per account, whatever the code above it does. Rows keep the progress file's cells
(``jobqueue.csvrow``): one encoding for both stores, so ``export-csv`` and ``import-csv`` are exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from jobqueue import states
from jobqueue.claimindex import ClaimIndex
from jobqueue.csvrow import Layout, RowDecoder, escape_text, job_cells, unescape_text
from jobqueue.csvstore import journal_entries
from jobqueue.daily import ensure_aware, local_day, to_zone
from jobqueue.errors import LockTimeout, LostClaim, QueueError, QueueUnavailable
from jobqueue.gate import is_post
from jobqueue.journal import TOKEN_CHARS, job_entry
from jobqueue.model import (
    AccountsState,
    Claim,
    Job,
    JobStatus,
    NewJob,
    Outcome,
    OutcomeKind,
    QueueSnapshot,
    SeedResult,
    Settlement,
)
from jobqueue.policy import QueuePolicy
from jobqueue.schedule import PostDay, after_post, due_at, gate_span
from jobqueue.sidecar import decode_accounts, encode_accounts
from jobqueue.store import DEFAULT_REQUEUE
from jobqueue.table import JobTable, new_token

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
log = logging.getLogger(__name__)
SCHEMA_VERSION = 5
REFRESH_ROUNDS = 10  # a claim computes out-of-date gates again at most this often, then waits
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

    rev: int  # every row written up to this revision is in ``jobs`` (later ones may be too)
    positions: list[int]  # the row's position column, in order
    jobs: list[Job]
    index: dict[str, int]  # job_id -> place in jobs
    at: dict[int, int]  # position column -> place in jobs
    claim_index: ClaimIndex | None = None


@dataclass(frozen=True)
class _Held:
    """A claim this store made or read: the job's row as the claim last wrote it (position and
    revision) and the account's facts as the claim found them."""

    position: int
    rev: int
    job: Job
    epoch: int
    quiet: bool
    day: PostDay


# The cells a claim writes, in the order po_claim gets them.
_CLAIM_COLUMNS = (
    "status", "worker_id", "worker_pid", "claim_token", "claimed_at", "checkpoint_at", "retry_at", "host",
)  # fmt: skip
_ENTRY_COLUMNS = ("job_id", "attempts", "infra_attempts", "error_type")
# The claim's call, with the cell positions written into it (one statement, prepared once).
_CLAIM_SQL = (
    "SELECT * FROM po_claim(%s, %s, '{"
    + ",".join(str(LAYOUT.positions[c] + 1) for c in _CLAIM_COLUMNS)
    + "}'::integer[], %s::text[], %s, '{"
    + ",".join(str(LAYOUT.positions[c] + 1) for c in _ENTRY_COLUMNS)
    + "}'::integer[])"
)
_NO_ACCOUNT_CHANGE = (OutcomeKind.SUCCESS, OutcomeKind.RETRYABLE, OutcomeKind.PERMANENT)


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
        self._held: dict[str, _Held] = {}
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
                conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
                row = conn.execute("SELECT accounts_synced FROM po_meta WHERE id = 1").fetchone()
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(str(exc)) from None
            self._conn = conn
            if not (row and row[0]):
                self._operate_once("sync", lambda _t: None, sync_all=True)
        return self._conn

    def _job(self, cells: Sequence[str]) -> Job:
        return self._decode(cells)[0]

    def _load(
        self, conn: psycopg.Connection[Any], watermark: int, accounts_text: str | None
    ) -> tuple[_Cache, AccountsState]:
        """The rows and the accounts' state. ``watermark``: every revision up to it is committed
        and none is being written (the caller made sure)."""
        accounts = (
            decode_accounts(accounts_text.encode("utf-8"), ACCOUNTS_WHERE)
            if accounts_text is not None
            else AccountsState()
        )
        cache = self._cache
        if cache is None:
            rows = conn.execute("SELECT position, cells FROM po_jobs ORDER BY position").fetchall()
            positions = [int(r[0]) for r in rows]
            jobs = [self._job(r[1]) for r in rows]
            cache = _Cache(
                watermark,
                positions,
                jobs,
                {job.job_id: n for n, job in enumerate(jobs)},
                {position: n for n, position in enumerate(positions)},
            )
        elif watermark > cache.rev:
            rows = conn.execute(
                "SELECT position, cells FROM po_jobs WHERE rev > %s ORDER BY position", (cache.rev,)
            ).fetchall()
            for position, cells in rows:
                self._patch(cache, int(position), self._job(cells))
            cache.rev = watermark
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
        sync: Collection[str] = (),
    ) -> T:
        """One whole-queue operation in one transaction. A dropped connection (a database restart,
        the network) is retried with backoff for ``reconnect_s``, then DatabaseUnavailable. When the
        commit may have happened before the connection dropped, ``settled`` reads the rows back:
        (True, result) if the operation took effect (it is never done twice), (False, _) to do it
        again. ``sync``: accounts whose rows are computed again from the jobs as well."""
        read_back = None if settled is None else (lambda: self._operate_once("read_back", settled))
        return self._retrying(name, lambda: self._operate_once(name, operation, sync), read_back)

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

    def _operate_once(
        self,
        name: str,
        operation: Callable[[JobTable], T],
        sync: Collection[str] = (),
        *,
        sync_all: bool = False,
    ) -> T:
        with self._thread_lock:
            if self._cache is None:
                # the whole queue is read before the locks are taken (a moment's lock to learn which
                # revisions are complete): under them only the rows changed since are read again,
                # so a first whole-queue operation of a worker does not hold every claim of the
                # fleet while it reads a large queue
                self._read_at_watermark()
            conn = self._connection()
            try:
                with conn.transaction():
                    # Every commit waits for the server's log (synchronous_commit stays on): a record
                    # or a recovery lost to a server crash while the run goes on would leave a claim
                    # that nobody recovers (seen in the chaos run). One round trip for all of it;
                    # the locks in the order every writer takes them (po_accounts, then po_jobs).
                    row = self._locked_row(
                        conn,
                        "LOCK TABLE po_accounts IN EXCLUSIVE MODE; "
                        "LOCK TABLE po_jobs IN SHARE ROW EXCLUSIVE MODE; "
                        "SELECT accounts, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                        " FROM po_rev), accounts_synced FROM po_meta WHERE id = 1",
                    )
                    sync_all = sync_all and not (row and row[2])  # another store did it first
                    cache, accounts = self._load(conn, int(row[1]) if row else 0, row[0] if row else None)
                    table = JobTable(
                        cache.jobs, accounts, self._policy, self._rng, cache.index, cache.claim_index
                    )
                    cache.claim_index = table.claim_index  # kept up to date by the table from now on
                    accounts_before = table.accounts
                    result = operation(table)
                    if table.changed or table.accounts_changed or sync or sync_all:
                        self._write(conn, cache, table, name, accounts_before, sync, sync_all)
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
        sync: Collection[str] = (),
        sync_all: bool = False,
    ) -> None:
        """Write the table's changed rows (stamped with new revisions), the accounts' state, their
        rows and the journal entries; the cache follows (the table changed its jobs in place)."""
        positions = cache.positions
        changed = sorted(table.changed)
        # rows that stop being claimed first: the one-claim-per-account index is checked per row
        changed.sort(key=lambda p: table.jobs[p].status is JobStatus.CLAIMED)
        tz = self._policy.timezone
        for p in changed:
            job = table.jobs[p]
            cells = job_cells(job, (), LAYOUT, tz)
            if p < len(positions):
                conn.execute(
                    "UPDATE po_jobs SET account = %s, status = %s, cells = %s, due_at = %s,"
                    " rev = nextval('po_rev') WHERE position = %s",
                    (job.account, job.status.value, cells, due_at(job), positions[p]),
                )
            else:
                row = conn.execute(
                    "INSERT INTO po_jobs (job_id, account, status, cells, due_at, rev)"
                    " VALUES (%s, %s, %s, %s, %s, nextval('po_rev')) RETURNING position",
                    (job.job_id, job.account, job.status.value, cells, due_at(job)),
                ).fetchone()
                assert row is not None
                cache.at[int(row[0])] = len(positions)
                positions.append(int(row[0]))
        if sync_all:
            self._mend_due_times(conn, cache)
        names = {table.jobs[p].account for p in changed} | set(sync)
        if sync_all:
            names |= {job.account for job in table.jobs}
        if table.accounts_changed:
            before, after = accounts_before, table.accounts
            for mapping in (before.blocked, after.blocked, before.cooldowns, after.cooldowns):
                names |= mapping.keys()
            names |= before.infra_streaks.keys() | after.infra_streaks.keys()
        names.discard("")
        if names:
            self._sync_accounts(conn, table, sorted(names))
        entries = [json.dumps(entry) for entry in journal_entries(name, table, accounts_before)]
        conn.execute(
            "WITH history AS (INSERT INTO po_history (entry) SELECT unnest(%s::jsonb[]))"
            " UPDATE po_meta SET accounts = %s,"
            " accounts_synced = accounts_synced OR %s WHERE id = 1",
            (entries, encode_accounts(table.accounts).decode("utf-8"), sync_all),
        )

    def _mend_due_times(self, conn: psycopg.Connection[Any], cache: _Cache) -> None:
        """Every row's due_at as the jobs say (a queue from schema 3, or loaded by COPY)."""
        stored = dict(conn.execute("SELECT position, due_at FROM po_jobs").fetchall())
        fix_at: list[int] = []
        fix_due: list[datetime | None] = []
        for position, job in zip(cache.positions, cache.jobs, strict=True):
            due = due_at(job)
            if stored.get(position) != due:
                fix_at.append(position)
                fix_due.append(due)
        if fix_at:
            conn.execute(
                "UPDATE po_jobs SET due_at = fix.due FROM unnest(%s::bigint[], %s::timestamptz[])"
                " AS fix (position, due) WHERE po_jobs.position = fix.position",
                (fix_at, fix_due),
            )

    def _sync_accounts(self, conn: psycopg.Connection[Any], table: JobTable, names: Sequence[str]) -> None:
        """The accounts' rows computed again from the jobs and the accounts' state."""
        index, state = table.claim_index, table.accounts
        columns: list[list[Any]] = [[] for _ in range(11)]
        for account in names:
            rules = self._policy.rules_for(account)
            last = index.posts.latest(account)
            posts = index.post_days[(account, local_day(last, rules.timezone))] if last else 0
            day = PostDay.of(last, posts, rules.timezone)
            cooldown = state.cooldowns.get(account)
            until = cooldown.until if cooldown else None
            blocked = account in state.blocked
            gate_at, gate_until = gate_span(rules, day, blocked=blocked, cooldown_until=until)
            quiet = cooldown is None and account not in state.infra_streaks
            values = (account, gate_at, gate_until, day.start, day.end, day.posts, day.last_post_at)
            for column, value in zip(
                columns, (*values, index.claims.latest(account), blocked, until, quiet), strict=True
            ):
                column.append(value)
        conn.execute(
            "INSERT INTO po_accounts AS a (account, gate_at, gate_until, day_start, day_end, day_posts,"
            " last_post_at, last_claim_at, blocked, cooldown_until, quiet)"
            " SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],"
            " %s::timestamptz[], %s::integer[], %s::timestamptz[], %s::timestamptz[], %s::boolean[],"
            " %s::timestamptz[], %s::boolean[])"
            " ON CONFLICT (account) DO UPDATE SET gate_at = EXCLUDED.gate_at,"
            " gate_until = EXCLUDED.gate_until,"
            " day_start = EXCLUDED.day_start, day_end = EXCLUDED.day_end, day_posts = EXCLUDED.day_posts,"
            " last_post_at = EXCLUDED.last_post_at, last_claim_at = EXCLUDED.last_claim_at,"
            " blocked = EXCLUDED.blocked, cooldown_until = EXCLUDED.cooldown_until, quiet = EXCLUDED.quiet,"
            " stale = false, epoch = a.epoch + 1",
            columns,
        )
        conn.execute(
            "UPDATE po_accounts AS a SET"
            " claimed = (SELECT min(position) FROM po_jobs WHERE account = a.account AND status = 'claimed'),"
            " head = (SELECT min(position) FROM po_jobs"
            "  WHERE account = a.account AND status IN ('pending', 'retrying')),"
            " next_due = (SELECT min(due_at) FROM po_jobs"
            "  WHERE account = a.account AND status IN ('pending', 'retrying'))"
            " WHERE account = ANY(%s)",
            (list(names),),
        )

    # -- a claim and what follows it: one function call each ----------------------------------------
    def _call(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._thread_lock:
            conn = self._connection()
            return conn.execute(sql.encode("utf-8"), params).fetchall()

    def claim_next(
        self, worker_id: int, worker_pid: int, now: datetime, prefer_account: str | None = None
    ) -> Claim | None:
        now = ensure_aware(now)
        token = new_token()
        values = {
            "status": JobStatus.CLAIMED.value,
            "worker_id": str(worker_id),
            "worker_pid": str(worker_pid),
            "claim_token": escape_text(token),
            "claimed_at": to_zone(now, self._policy.timezone).isoformat(),
            "checkpoint_at": "",
            "retry_at": "",
            "host": escape_text(self.host),
        }
        entry: dict[str, object] = {
            "op": "claim",
            "status": JobStatus.CLAIMED.value,
            "worker": worker_id,
            "worker_pid": worker_pid,
            "token": token[:TOKEN_CHARS],
            "checkpoint": False,
            "retry_at": None,
        }
        if self.host:
            entry["host"] = self.host
        params = (now, prefer_account, text_array([values[c] for c in _CLAIM_COLUMNS]), json.dumps(entry))

        def attempt() -> Claim | None:
            for _ in range(REFRESH_ROUNDS):
                rows = self._call(_CLAIM_SQL, params)
                position, rev, cells, facts, refresh = rows[0]
                if position is None:
                    if not refresh:
                        return None
                    self._refresh(now)
                    continue
                job = self._job(cells)
                self._hold(job, int(position), int(rev), facts)
                return Claim(job, token, worker_id)
            # never "nothing is due" while the gates are out of date: the caller waits and asks again
            raise LockTimeout("the accounts' gates (po_accounts), being computed again", 0)

        def mine() -> tuple[bool, Claim | None]:
            """A worker holds one claim at most: one of its own in the rows is the one it asked for."""
            at = LAYOUT.positions
            rows = self._call(
                "SELECT j.job_id FROM po_jobs j WHERE j.status = 'claimed' AND j.cells[%s] = %s"
                " AND j.cells[%s] = %s AND j.cells[%s] = %s",
                (
                    at["worker_id"] + 1,
                    str(worker_id),
                    at["worker_pid"] + 1,
                    str(worker_pid),
                    at["host"] + 1,
                    escape_text(self.host),
                ),
            )
            if not rows:
                return False, None
            held = self._read_held(str(rows[0][0]))
            return held is not None, None if held is None else Claim(
                held.job, held.job.claim_token, worker_id
            )

        return self._retrying("claim", attempt, mine)

    def _hold(self, job: Job, position: int, rev: int, facts: Mapping[str, Any]) -> _Held:
        def moment(key: str) -> datetime | None:
            value = facts.get(key)
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        day = PostDay(moment("day_start"), moment("day_end"), int(facts["day_posts"]), moment("last_post_at"))
        held = _Held(position, rev, job, int(facts["epoch"]), bool(facts["quiet"]), day)
        self._held[job.job_id] = held
        return held

    def _read_held(self, job_id: str) -> _Held | None:
        """The claimed job's row and its account's facts as they are now; None if not claimed."""
        rows = self._call(
            "SELECT j.position, j.rev, j.cells, a.epoch, a.quiet, a.day_start, a.day_end, a.day_posts,"
            " a.last_post_at FROM po_jobs j JOIN po_accounts a ON a.account = j.account"
            " WHERE j.job_id = %s AND j.status = 'claimed'",
            (job_id,),
        )
        if not rows:
            self._held.pop(job_id, None)
            return None
        position, rev, cells, epoch, quiet, start, end, posts, last = rows[0]
        facts = {
            "epoch": epoch,
            "quiet": quiet,
            "day_start": start,
            "day_end": end,
            "day_posts": posts,
            "last_post_at": last,
        }
        return self._hold(self._job(cells), int(position), int(rev), facts)

    def _holding(self, claim: Claim, fresh: bool = False) -> _Held:
        """The claim's row as this store last wrote it (read again when ``fresh``); LostClaim if the
        claim no longer holds its job."""
        held = None if fresh else self._held.get(claim.job.job_id)
        if held is None:
            held = self._read_held(claim.job.job_id)
        if held is None or held.job.claim_token != claim.token:
            self._held.pop(claim.job.job_id, None)
            raise LostClaim(claim.job.job_id, claim.job.account)
        return held

    def _touch(self, name: str, claim: Claim, change: Callable[[Job], Job]) -> Job:
        """A change to the claimed job that keeps it claimed (checkpoint, external id)."""

        def attempt() -> Job:
            fresh = False
            while True:
                held = self._holding(claim, fresh)
                job = change(held.job)
                cells = job_cells(job, (), LAYOUT, self._policy.timezone)
                rows = self._call(
                    "SELECT po_touch(%s, %s, %s::text[], %s)",
                    (held.position, held.rev, text_array(cells), json.dumps(job_entry(name, job))),
                )
                if rows and rows[0][0] is not None:
                    self._held[job.job_id] = dataclasses.replace(held, rev=int(rows[0][0]), job=job)
                    return job
                fresh = True  # the row changed since: read it again (the claim may be lost)

        return self._retrying(name, attempt)

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None:
        now = ensure_aware(now)
        self._touch("checkpoint", claim, lambda job: states.checkpoint_job(job, now, external_id))

    def attach_external_id(self, claim: Claim, external_id: str, now: datetime) -> Job:
        return self._touch(
            "attach_external_id", claim, lambda job: states.attach_external_id(job, external_id)
        )

    def withdraw_checkpoint(self, claim: Claim, now: datetime) -> Job:
        return self._touch("withdraw_checkpoint", claim, states.withdraw_checkpoint_job)

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job:
        now = ensure_aware(now)
        if outcome.kind not in _NO_ACCOUNT_CHANGE:
            return self._finish_whole("record", claim, lambda t: t.record(claim, outcome, now))
        return self._finish(
            "record",
            claim,
            now,
            lambda job: states.apply_outcome(job, outcome, now=now, policy=self._policy, rng=self._rng),
            lambda t: t.record(claim, outcome, now),
        )

    def release(self, claim: Claim, now: datetime, reason: str) -> Job:
        now = ensure_aware(now)
        return self._finish(
            "release",
            claim,
            now,
            lambda job: states.release_job(job, now, reason),
            lambda t: t.release(claim, now, reason),
        )

    def _finish_whole(self, name: str, claim: Claim, operation: Callable[[JobTable], Job]) -> Job:
        self._held.pop(claim.job.job_id, None)
        return self._operate(name, operation, _claim_ended(claim))

    def _finish(
        self,
        name: str,
        claim: Claim,
        now: datetime,
        change: Callable[[Job], Job],
        whole: Callable[[JobTable], Job],
    ) -> Job:
        """The end of a claim in one call, computed from the claim's row and its account's facts;
        by the whole-queue path when the account's state may change or its facts cannot tell."""

        def attempt() -> Job:
            fresh = False
            while True:
                held = self._holding(claim, fresh)
                if not held.quiet:
                    return self._finish_whole(name, claim, whole)
                job = change(held.job)
                rules = self._policy.rules_for(job.account)
                day: PostDay | None = held.day
                if is_post(job) and job.completed_at is not None:
                    day = after_post(held.day, job.completed_at, rules.timezone)
                if day is None:
                    return self._finish_whole(name, claim, whole)
                gate_at, gate_until = gate_span(rules, day, blocked=False, cooldown_until=None, at=now)
                cells = job_cells(job, (), LAYOUT, self._policy.timezone)
                rows = self._call(
                    "SELECT po_finish(%s, %s, %s, %s::text[], %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        held.position,
                        held.rev,
                        job.status.value,
                        text_array(cells),
                        due_at(job),
                        json.dumps(job_entry(name, job)),
                        held.epoch,
                        day.start,
                        day.end,
                        day.posts,
                        day.last_post_at,
                        gate_at,
                        gate_until,
                    ),
                )
                result = rows[0][0] if rows else "moved"
                if result == "moved":
                    fresh = True  # the row changed since: read it again (the claim may be lost)
                    continue
                self._held.pop(job.job_id, None)
                if result == "stale":
                    try:
                        self._sync_stale()
                    except QueueError as exc:  # recorded: the row stays stale, the next claim mends it
                        log.warning("account %s: its row will be computed again later (%s)", job.account, exc)
                return job

        return self._retrying(name, attempt, _ended(self, claim))

    def _refresh(self, now: datetime) -> None:
        """Compute again the rows of accounts marked stale (from the jobs), then the gates of the
        accounts whose posting window closed before a claim came (from the facts in their rows, at
        ``now`` or their next due time). Refreshers take the rows in one order: no deadlock."""
        self._sync_stale()
        with self._thread_lock:
            conn = self._connection()
            with conn.transaction():
                rows = conn.execute(
                    "SELECT account, day_start, day_end, day_posts, last_post_at, cooldown_until, blocked,"
                    " next_due FROM po_accounts WHERE claimed IS NULL AND NOT stale AND gate_until <= %s"
                    " AND next_due IS NOT NULL ORDER BY account FOR UPDATE",
                    (now,),
                ).fetchall()
                for account, start, end, posts, last, until, blocked, next_due in rows:
                    rules = self._policy.rules_for(account)
                    day = PostDay(start, end, int(posts), last)
                    gate_at, gate_until = gate_span(
                        rules, day, blocked=bool(blocked), cooldown_until=until, at=max(now, next_due)
                    )
                    conn.execute(
                        "UPDATE po_accounts SET gate_at = %s, gate_until = %s WHERE account = %s",
                        (gate_at, gate_until, account),
                    )

    def _sync_stale(self) -> None:
        rows = self._call("SELECT account FROM po_accounts WHERE stale", ())
        if rows:
            self._operate("sync", lambda _t: None, sync=[str(r[0]) for r in rows])

    def has_due_job(self, account: str, now: datetime) -> bool:
        now = ensure_aware(now)

        def attempt() -> bool:
            for _ in range(2):
                rows = self._call(
                    "SELECT claimed IS NULL AND NOT stale AND ready_at <= %s"
                    " AND (gate_until IS NULL OR gate_until > %s),"
                    " claimed IS NULL AND next_due IS NOT NULL AND (stale OR gate_until <= %s)"
                    " FROM po_accounts WHERE account = %s",
                    (now, now, now, account),
                )
                if not rows:
                    return False
                ready, refresh = rows[0]
                if not refresh:
                    return bool(ready)
                self._refresh(now)
            return False

        return self._retrying("has_due_job", attempt)

    # -- every other operation: on the whole queue ----------------------------------------------------
    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None:
        return self._operate(
            "settle_review",
            lambda t: t.settle_review(job_id, settlement, now, expect_external_id=expect_external_id),
        )

    def recover_orphans(self, is_alive: Callable[[int, int], bool], now: datetime) -> list[Job]:
        return self._operate("recover_orphans", lambda t: t.recover_orphans(is_alive, now, host=self.host))

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

    def leave(self, running_phones: Collection[str] = ()) -> None:
        """This PC's orchestrator ended (its claims were settled by its own recovery); its phones
        leave the phone ledger but those it could not stop (``running_phones``)."""
        self._run_sql("DELETE FROM po_hosts WHERE host = %s", (self.host,))
        self._run_sql(
            "DELETE FROM po_phones WHERE host = %s AND NOT (phone_id = ANY(%s))",
            (self.host, list(running_phones)),
        )

    def claim_holder(self, account: str) -> tuple[int | None, str] | None:
        """Who holds the account's claim now: (worker id, PC), or None."""
        at = LAYOUT.positions
        rows = self._call(
            "SELECT cells[%s], cells[%s] FROM po_jobs WHERE account = %s AND status = 'claimed'",
            (at["worker_id"] + 1, at["host"] + 1, account),
        )
        if not rows:
            return None
        worker, host = rows[0]
        return (int(worker) if str(worker).strip() else None), unescape_text(str(host))

    def forget_phones(self, keep_hosts: Collection[str]) -> None:
        """Phones of PCs other than ``keep_hosts`` leave the ledger (``--stop-all`` stopped them)."""
        self._run_sql("DELETE FROM po_phones WHERE NOT (host = ANY(%s))", (list(keep_hosts),))

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

    def phone_started(self, phone_id: str, account: str, worker_id: int | None) -> None:
        """A worker of this PC is starting the phone (recorded before the start call)."""
        self._run_sql(
            "INSERT INTO po_phones (phone_id, account, host, worker_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (phone_id) DO UPDATE SET account = EXCLUDED.account, host = EXCLUDED.host,"
            " worker_id = EXCLUDED.worker_id, started_at = clock_timestamp()",
            (phone_id, account, self.host, worker_id),
        )

    def phone_stopped(self, phone_id: str, worker_id: int | None = None) -> None:
        """The phone was stopped by this PC (by ``worker_id``'s release, or by the run's end when
        None). A row another worker or PC took over since is theirs and stays."""
        self._run_sql(
            "DELETE FROM po_phones WHERE phone_id = %s AND host = %s"
            " AND (%s::integer IS NULL OR worker_id = %s::integer)",
            (phone_id, self.host, worker_id, worker_id),
        )

    def phones(self) -> list[tuple[str, str, str]]:
        """Every phone a worker of some PC started and has not stopped: (phone_id, account, host)."""
        rows = self._run_sql("SELECT phone_id, account, host FROM po_phones ORDER BY host, phone_id")
        return [(str(p), str(a), str(h)) for p, a, h in rows]

    def request_fleet_stop(self) -> None:
        """`--stop-all --fleet`: every PC's orchestrator stops at its next heartbeat."""
        self._run_sql("UPDATE po_meta SET stop_requested_at = clock_timestamp() WHERE id = 1")

    def snapshot(self) -> QueueSnapshot:
        """The jobs and accounts' state as of one moment. Waits only for the writes under way when it
        starts (a moment's table lock to learn which revisions are complete), never for a long one."""
        return self._retrying("snapshot", self._snapshot_once)

    def _snapshot_once(self) -> QueueSnapshot:
        with self._thread_lock:
            cache, accounts = self._read_at_watermark()
            return QueueSnapshot(tuple(cache.jobs), accounts)

    def _locked_row(self, conn: psycopg.Connection[Any], statements: str) -> tuple[Any, ...] | None:
        """In one round trip: this transaction's lock timeout, then ``statements`` (table locks, then
        one query); the query's first row."""
        cursor = conn.execute(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}; {statements}")
        while cursor.description is None and cursor.nextset():
            pass
        return cursor.fetchone()

    def _read_at_watermark(self) -> tuple[_Cache, AccountsState]:
        """The rows (into the cache) and the accounts' state as of one moment, without holding a lock
        on the queue while reading: a moment's table lock only to learn which revisions are complete.
        Caller holds the thread lock."""
        conn = self._connection()
        try:
            with conn.transaction():
                row = self._locked_row(
                    conn,
                    "LOCK TABLE po_jobs IN SHARE MODE; "
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM po_rev",
                )
                watermark = int(row[0]) if row else 0
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = conn.execute("SELECT accounts FROM po_meta WHERE id = 1").fetchone()
                cache, accounts = self._load(conn, watermark, row[0] if row else None)
        except BaseException:
            self._cache = None
            raise
        self._cache = cache
        return cache, accounts


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


def _ended(store: PostgresJobStore, claim: Claim) -> Callable[[], tuple[bool, Job]]:
    """Read-back for a record or release whose commit may have been lost: done once the claim no
    longer holds its job (the job as it is then)."""

    def done() -> tuple[bool, Job]:
        rows = store._call("SELECT cells FROM po_jobs WHERE job_id = %s", (claim.job.job_id,))
        job = store._job(rows[0][0]) if rows else claim.job
        held = job.status is JobStatus.CLAIMED and job.claim_token == claim.token
        return not held, job

    return done


def text_array(values: Sequence[str]) -> str:
    """A PostgreSQL text array literal of ``values`` (every element quoted: commas, quotes,
    backslashes, braces and empty strings survive), for a parameter cast with ``::text[]``. Built
    here, it costs a fraction of the driver's list adaptation, which the claim and record pay per call."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _connect(url: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(url, autocommit=True)
