"""``CsvJobStore``: the queue in ``parallel_progress.csv``, one locked read-modify-write per operation.

Files next to the CSV: ``<file>.lock`` (filelock, never the CSV itself), ``<file>.bak`` (the version
before the latest write) and ``<stem>.accounts.json`` (blocks and cooldowns, same lock).
Each operation reads the file's bytes under the lock; if they are the bytes this store last saw, its
parse is reused, otherwise only the changed records are parsed again. A write re-encodes only the
changed rows and replaces the whole file atomically (``fileio.atomic_write``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import filelock

from jobqueue.claimindex import ClaimIndex
from jobqueue.csvfile import BOM, ParsedFile, Row, RowReader, empty_file, foreign_format, parse_file, reparse
from jobqueue.csvrow import Layout, encode_cells, encode_file, job_cells
from jobqueue.digest import QueueDigest, digest_key, digest_of, expand
from jobqueue.digest import decode as decode_digest
from jobqueue.digest import encode as encode_digest
from jobqueue.edits import add_edits, add_file_notice
from jobqueue.errors import CorruptProgressFile, FileBusy, LockTimeout
from jobqueue.fileio import REPLACE_RETRY_DELAYS_S, atomic_write, read_bytes, remove_stale_temps
from jobqueue.journal import Journal, account_entries, edit_entry, job_entry, journal_path, seed_entry
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
from jobqueue.reconcile import reconcile
from jobqueue.seal import Seal, changed_outside, read_seal, record_seal, reference_version
from jobqueue.seal import digest as seal_digest
from jobqueue.sidecar import decode_accounts, encode_accounts, sidecar_path
from jobqueue.store import DEFAULT_REQUEUE
from jobqueue.table import JobTable

T = TypeVar("T")
log = logging.getLogger(__name__)
SETTLE_S, SETTLE_POLL_S = 3.0, 0.2  # how long a half-written outside save is given to be complete
BARRIER_OPERATIONS = frozenset(
    {"checkpoint", "seed", "requeue", "cancel_account", "block_account", "unblock_account"}
)
# filelock polls with sleeps; its 50 ms default starves waiting workers (research/perf.md).
LOCK_POLL_S = (0.001, 0.005)
CommitHook = Callable[[str, object], None]


def journal_entries(name: str, table: JobTable, accounts_before: AccountsState) -> list[dict[str, object]]:
    """The journal lines of one committed operation: its changed jobs, then its account changes."""
    changed = [table.jobs[p] for p in sorted(table.changed)]
    entries = (
        [seed_entry(changed)] if name in ("seed", "import") else [job_entry(name, job) for job in changed]
    )
    return entries + account_entries(name, accounts_before, table.accounts)


@dataclass
class _Cache:
    parsed: ParsedFile
    jobs: list[Job]
    index: dict[str, int]
    claim_index: ClaimIndex | None  # built by the first operation: a snapshot does not need it
    accounts_data: bytes | None
    accounts: AccountsState


class CsvJobStore:
    """A ``JobStore`` on a CSV file shared by processes. See the module docstring for the files.

    ``on_commit(operation, result)`` is called while the lock is still held, after a successful
    operation (tests log events with it). ``rng`` drives backoff jitter. ``replace_retry_delays_s``
    are the pauses between attempts to replace a file held open elsewhere, before ``FileBusy``.
    ``durable=False`` skips fsync (tests, benchmarks of the logic): writes stay atomic, not power-safe.
    ``journal=True`` appends every change to ``<stem>.journal.jsonl`` under the lock (``jobqueue.journal``).

    Durability: every write fsyncs the new file before the rename. The folder is fsynced too (the rename
    is on disk when the call returns) for the operations after which a lost write could cause harm:
    ``checkpoint`` (the worker then taps publish; losing it could mean a double post) and the operator
    commands. A claim, record or release lost to a power cut leaves an older, consistent file whose
    claims recovery turns into retries or reviews; the next barrier or journal commit persists them.
    """

    def __init__(
        self,
        path: str | Path,
        policy: QueuePolicy | None = None,
        lock_timeout_s: float = 60.0,
        rng: random.Random | None = None,
        on_commit: CommitHook | None = None,
        replace_retry_delays_s: Sequence[float] = REPLACE_RETRY_DELAYS_S,
        durable: bool = True,
        journal: bool = False,
    ) -> None:
        self.path = Path(path)
        self.policy = policy or QueuePolicy()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.accounts_path = sidecar_path(self.path)
        self.lock_timeout_s = lock_timeout_s
        self._rng = rng or random.Random()
        self._poll_rng = random.Random()
        self._on_commit = on_commit
        self.journal = Journal(journal_path(self.path)) if journal else None
        self._replace_delays_s = tuple(replace_retry_delays_s)
        self._durable = durable
        self._file_lock = filelock.FileLock(str(self.lock_path))
        self._lock_pid = os.getpid()
        self._thread_lock = threading.RLock()
        self._reader = RowReader(self.path, self.policy.timezone, self.policy.default_max_attempts)
        self._cache: _Cache | None = None
        self._temps_checked = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_pid != os.getpid():  # a forked child: filelock objects must not cross a fork
            self._file_lock, self._lock_pid = filelock.FileLock(str(self.lock_path)), os.getpid()
        with self._thread_lock:
            # A poll interval drawn per acquisition keeps waiting processes out of lockstep.
            poll_s = self._poll_rng.uniform(*LOCK_POLL_S)
            try:
                self._file_lock.acquire(timeout=self.lock_timeout_s, poll_interval=poll_s)
            except filelock.Timeout:
                raise LockTimeout(self.lock_path, self.lock_timeout_s) from None
            try:
                if not self._temps_checked:
                    remove_stale_temps(self.path)
                    remove_stale_temps(self.accounts_path)
                    remove_stale_temps(self.backup_path)
                    self._temps_checked = True
                yield
            finally:
                self._file_lock.release()

    def _refresh(self, data: bytes | None, accounts_data: bytes | None) -> _Cache:
        cache = self._cache
        if cache is None or data != cache.parsed.data:
            if data is None:
                parsed = empty_file()
            elif cache is None:
                parsed = parse_file(data, self._reader)
            else:
                parsed = reparse(data, cache.parsed, self._reader)
            cache = self._rebuilt(parsed, cache)
        if cache.accounts_data != accounts_data or not self._cache:
            cache.accounts = decode_accounts(accounts_data, self.accounts_path)
            cache.accounts_data = accounts_data
        self._cache = cache
        return cache

    def _rebuilt(self, parsed: ParsedFile, old: _Cache | None) -> _Cache:
        if old is not None and parsed.changed is not None:
            jobs, index, claim_index = old.jobs, old.index, old.claim_index
            for position in parsed.changed:
                before, after = jobs[position], parsed.rows[position].job
                if claim_index is not None:
                    claim_index.replace(position, before, after)
                jobs[position] = after
                if before.job_id != after.job_id:
                    index = {job.job_id: p for p, job in enumerate(jobs)}
        else:
            jobs = [row.job for row in parsed.rows]
            index = {job.job_id: position for position, job in enumerate(jobs)}
            claim_index = None
        if old is None:
            return _Cache(parsed, jobs, index, claim_index, None, AccountsState())
        return _Cache(parsed, jobs, index, claim_index, old.accounts_data, old.accounts)

    def _load(self) -> _Cache:
        return self._refresh(*self._read_checked())

    def _read_checked(self) -> tuple[bytes | None, bytes | None]:
        """The two files' bytes, under the lock; a progress file changed by someone else is first
        reconciled with what the queue last wrote (``jobqueue.reconcile``) and written back."""
        data = read_bytes(self.path)
        seal = read_seal(self.path)
        if data is not None and (seal is None or changed_outside(self.path, data, seal)):
            if seal is not None:
                data = self._reconcile(data, seal)
            if foreign_format(data, self.path):
                data = self._adopt(data)
        return data, read_bytes(self.accounts_path)

    def _adopt(self, data: bytes) -> bytes:
        """A progress file Excel saved semicolon-separated or as Windows-1252: read as such and
        written back in the queue's own format; the operator's copy stays as the ``.bak``."""
        parsed = parse_file(data, self._reader)
        extras = {row.job.job_id: row.extras for row in parsed.rows}
        canonical = encode_file(
            Layout.from_header(parsed.layout.header),
            [row.job for row in parsed.rows],
            extras,
            self.policy.timezone,
        )
        try:
            stat = atomic_write(
                self.path, canonical, self.backup_path, self._replace_delays_s, durable=self._durable
            )
        except FileBusy:  # Excel still holds it: read as saved now, written back by a later write
            log.warning("%s is open in another program: read as saved, written back later", self.path.name)
            return data
        record_seal(self.path, canonical, stat)
        what = " and ".join(parsed.foreign)
        why = (
            f"it was saved {what} (Excel's regional CSV): read as such and written back as CSV UTF-8;"
            f' Excel\'s copy is {self.backup_path.name}. Save as "CSV UTF-8" to keep it so'
        )
        log.warning("%s: %s", self.path.name, why)
        add_file_notice(self.path, why, data, datetime.now().astimezone())
        return canonical

    def _reconcile(self, data: bytes, seal: Seal) -> bytes:
        data, edited = self._parse_settled(data)
        last_seen = self._cache.parsed.data if self._cache is not None else None
        reference = reference_version(self.path, seal, last_seen, self.backup_path)
        queue_jobs = self._parse_quietly(reference)
        if queue_jobs is None:  # nothing to compare with: the edit is taken as it is
            log.warning("%s was changed outside the queue; no earlier version to check it against", self.path)
            record_seal(self.path, data)
            return data
        jobs, kept = reconcile(queue_jobs, [row.job for row in edited.rows])
        if not kept and jobs == [row.job for row in edited.rows]:
            log.info("%s was saved outside the queue; the edit changes nothing the queue owns", self.path)
            record_seal(self.path, data)
            return data
        extras = {row.job.job_id: row.extras for row in edited.rows}
        merged = encode_file(edited.layout, jobs, extras, self.policy.timezone)
        stat = atomic_write(
            self.path, merged, self.backup_path, self._replace_delays_s, durable=self._durable
        )
        record_seal(self.path, merged, stat)
        now = datetime.now().astimezone()
        for notice in add_edits(self.path, kept, data, now):
            log.warning("outside edit of %s: job %s kept (%s)", self.path.name, notice.job_id, notice.why)
        if self.journal is not None:
            self.journal.append([edit_entry(k) for k in kept], now)
        return merged

    def _parse_settled(self, data: bytes) -> tuple[bytes, ParsedFile]:
        """Parse a file an outside program just wrote; a half-written save (an editor writing in
        place) is read again after a moment before it is called corrupt."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            try:
                return data, parse_file(data, self._reader)
            except CorruptProgressFile:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(SETTLE_POLL_S)
            data = read_bytes(self.path) or b""

    def _parse_quietly(self, data: bytes | None) -> list[Job] | None:
        if data is None:
            return None
        try:
            return [row.job for row in parse_file(data, self._reader).rows]
        except CorruptProgressFile:
            return None

    def _write_rows(self, cache: _Cache, table: JobTable, barrier: bool) -> None:
        parsed = cache.parsed
        layout = parsed.layout
        header = encode_cells(layout.header)
        rows, raws = parsed.rows, parsed.raws  # updated in place: a failed write drops the whole cache
        blank = ("",) * len(layout.extra_positions)
        positions: Iterable[int] = sorted(table.changed)
        if parsed.header_raw != header:  # new file, or one without the store columns: write every row
            layout, positions = Layout.from_header(layout.header), range(len(table.jobs))
        for position in positions:
            job = table.jobs[position]
            extras = rows[position].extras if position < len(rows) else blank
            row = Row(job, extras, encode_cells(job_cells(job, extras, layout, self.policy.timezone)))
            if position < len(rows):
                rows[position], raws[position] = row, row.raw
            else:
                rows.append(row)
                raws.append(row.raw)
        data = b"".join([BOM, header, *raws])
        stat = atomic_write(
            self.path,
            data,
            self.backup_path,
            self._replace_delays_s,
            durable=self._durable,
            sync_directory=barrier,
        )
        record_seal(self.path, data, stat)
        cache.parsed = ParsedFile(data, layout, header, rows, raws, True)

    def _operate(self, name: str, operation: Callable[[JobTable], T], create: bool = False) -> T:
        with self._locked():
            try:
                cache = self._load()
                table = JobTable(
                    cache.jobs, cache.accounts, self.policy, self._rng, cache.index, cache.claim_index
                )
                cache.claim_index = table.claim_index  # kept up to date by the table from now on
                accounts_before = cache.accounts
                result = operation(table)
                if table.accounts_changed:
                    data = encode_accounts(table.accounts)
                    atomic_write(
                        self.accounts_path, data, None, self._replace_delays_s, durable=self._durable
                    )
                    cache.accounts, cache.accounts_data = table.accounts, data
                if table.changed or (create and not cache.parsed.data):
                    self._write_rows(cache, table, barrier=name in BARRIER_OPERATIONS)
            except BaseException:
                self._cache = None
                raise
            if self.journal is not None and (table.changed or table.accounts_changed):
                self.journal.append(journal_entries(name, table, accounts_before))
            if self._on_commit is not None:
                self._on_commit(name, result)
            return result

    def claim_next(
        self, worker_id: int, worker_pid: int, now: datetime, prefer_account: str | None = None
    ) -> Claim | None:
        """Claim the next job under the claim rule (``jobqueue.claim``), or None."""
        return self._operate("claim", lambda t: t.claim_next(worker_id, worker_pid, now, prefer_account))

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None:
        """Record that the claim reached the irreversible step (``external_id``: what it will make,
        when that has a name); LostClaim if the claim is gone."""
        self._operate("checkpoint", lambda t: t.checkpoint(claim, now, external_id))

    def attach_external_id(self, claim: Claim, external_id: str, now: datetime) -> Job:
        """Store the id of what the claim's irreversible step made; LostClaim if the claim is gone."""
        return self._operate("attach_external_id", lambda t: t.attach_external_id(claim, external_id))

    def withdraw_checkpoint(self, claim: Claim, now: datetime) -> Job:
        """The executor knows nothing was published: the claim is as before its checkpoint."""
        return self._operate("withdraw_checkpoint", lambda t: t.withdraw_checkpoint(claim))

    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None:
        """Settle a review job from its executor's final word (``Settlement``); None if the job is
        no longer in review with ``expect_external_id`` (nothing changed). UnknownJob if absent."""
        return self._operate(
            "settle_review",
            lambda t: t.settle_review(job_id, settlement, now, expect_external_id=expect_external_id),
        )

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job:
        """Apply an attempt's outcome to the claimed job; LostClaim if the claim is gone."""
        return self._operate("record", lambda t: t.record(claim, outcome, now))

    def release(self, claim: Claim, now: datetime, reason: str) -> Job:
        """Give the claim back without using an attempt (review if past the checkpoint)."""
        return self._operate("release", lambda t: t.release(claim, now, reason))

    def recover_orphans(self, is_alive: Callable[[int, int], bool], now: datetime) -> list[Job]:
        """Recover claims whose (worker_id, worker_pid) is not alive; returns the recovered jobs."""
        return self._operate("recover_orphans", lambda t: t.recover_orphans(is_alive, now))

    def has_due_job(self, account: str, now: datetime) -> bool:
        """True if the account could be claimed now and has a due job."""
        return self._operate("has_due_job", lambda t: t.has_due_job(account, now))

    def adopt(self, jobs: Sequence[Job], accounts: AccountsState) -> int:
        """Take over another queue's jobs as they are (``JobTable.adopt``): a dry run's copy."""
        return self._operate("import", lambda t: t.adopt(jobs, accounts))

    def seed(self, jobs: Iterable[NewJob]) -> SeedResult:
        """Add jobs whose job_id is unknown (never modifies rows); creates the file if missing."""
        return self._operate("seed", lambda t: t.seed(jobs), create=True)

    def requeue(
        self, job_ids: Sequence[str] | None, statuses: Collection[JobStatus] = DEFAULT_REQUEUE
    ) -> list[Job]:
        """Move the named (or all) jobs in ``statuses`` (failed/review) back to pending."""
        return self._operate("requeue", lambda t: t.requeue(job_ids, statuses))

    def cancel_account(self, account: str, reason: str, now: datetime) -> list[Job]:
        """Cancel the account's waiting jobs (failed ``cancelled``); claimed ones are left alone."""
        return self._operate("cancel_account", lambda t: t.cancel_account(account, reason, now))

    def update_captions(self, captions: Mapping[str, str]) -> tuple[list[Job], list[Job]]:
        """Captions corrected at their source, by video path: jobs not yet claimed take them; the
        claimed and ended ones are returned as left."""
        return self._operate("update_captions", lambda t: t.update_captions(captions))

    def block_account(self, account: str, reason: str, job_id: str, now: datetime) -> None:
        """Block the account until ``unblock_account``."""
        self._operate("block_account", lambda t: t.block_account(account, reason, job_id, now))

    def unblock_account(self, account: str) -> bool:
        """Lift a block or cooldown; False if the account had neither."""
        return self._operate("unblock_account", lambda t: t.unblock_account(account))

    def view_snapshot(self, cache: Path, now: datetime, started_at: datetime | None) -> QueueSnapshot:
        """A snapshot for views (``--status``) at ``now`` of the run started at ``started_at``: the
        jobs no view tells apart come as one object repeated (``jobqueue.digest``), read from the
        ``cache`` file when it describes the file as the queue last wrote it. Otherwise the file is
        read as ``snapshot`` does and the cache rewritten (best effort). Not for claims or edits."""
        with self._locked():
            found = self._cached_digest(cache)
            if found is not None:
                accounts = decode_accounts(read_bytes(self.accounts_path), self.accounts_path)
                return QueueSnapshot(expand(found, now, started_at, self.policy), accounts)
            data, accounts_data = self._read_checked()
        with self._thread_lock:
            try:
                cached = self._refresh(data, accounts_data)
            except BaseException:
                self._cache = None
                raise
            snap = QueueSnapshot(tuple(cached.jobs), cached.accounts)
        if data is not None:
            key = digest_key(seal_digest(data), self.policy.timezone, self.policy.default_max_attempts)
            with contextlib.suppress(OSError, FileBusy):
                cache.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(cache, encode_digest(digest_of(snap.jobs, key)), durable=False)
        return snap

    def _cached_digest(self, cache: Path) -> QueueDigest | None:
        """The cache's digest if the progress file is, by its seal, the one the digest was made from."""
        seal = read_seal(self.path)
        if seal is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns, stat.st_ino) != (seal.size, seal.mtime_ns, seal.inode):
            return None
        data = read_bytes(cache)
        found = decode_digest(data) if data is not None else None
        key = digest_key(seal.digest, self.policy.timezone, self.policy.default_max_attempts)
        return found if found is not None and found.key == key else None

    def snapshot(self) -> QueueSnapshot:
        """The jobs and accounts' state; holds the lock only while reading the two files."""
        with self._locked():
            data, accounts_data = self._read_checked()
        with self._thread_lock:
            try:
                cache = self._refresh(data, accounts_data)
            except BaseException:
                self._cache = None
                raise
            return QueueSnapshot(tuple(cache.jobs), cache.accounts)
