"""The queue journal: one JSON line per change of a job or of an account's state, appended while the
queue's lock is held, so the lines are in the order the changes were made (across processes).

It is the audit trail an operator reads to answer "what happened to job X" (which worker claimed
it, when, what came of each attempt), and the event log the chaos suite checks its invariants on.
Next to the progress file: ``<stem>.journal.jsonl`` (``parallel_progress.journal.jsonl``), rotated
to ``.1`` past ``max_bytes``. Entries hold ids, states and error types, never captions or secrets.

Writing it never fails a queue operation: the progress file is already written when the journal
line is appended; a journal that cannot be written is reported once per process on the log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobqueue.model import AccountsState, Job
from jobqueue.reconcile import Kept

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".journal.jsonl"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
TOKEN_CHARS = 12


def journal_path(progress_file: Path) -> Path:
    """``parallel_progress.csv`` -> ``parallel_progress.journal.jsonl``."""
    return progress_file.with_name(progress_file.stem + JOURNAL_SUFFIX)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def job_entry(op: str, job: Job) -> dict[str, Any]:
    """What one changed job looks like in the journal (no caption, no video path; the PC that
    claimed it when it names one)."""
    entry = {
        "op": op,
        "job": job.job_id,
        "account": job.account,
        "status": job.status.value,
        "worker": job.worker_id,
        "worker_pid": job.worker_pid,
        "token": job.claim_token[:TOKEN_CHARS],
        "attempts": job.attempts,
        "infra_attempts": job.infra_attempts,
        "checkpoint": job.checkpoint_at is not None,
        "retry_at": _iso(job.retry_at),
        "error_type": job.error_type,
    }
    if job.host:
        entry["host"] = job.host
    return entry


def edit_entry(kept: Kept) -> dict[str, Any]:
    """A row an outside edit of the progress file could not change (see jobqueue.reconcile)."""
    return {
        "op": "edit_kept",
        "job": kept.job_id,
        "status": kept.queue_status,
        "edited_status": kept.edited_status,
        "why": kept.why,
    }


def account_entries(op: str, before: AccountsState, after: AccountsState) -> list[dict[str, Any]]:
    """Blocks and cooldowns that started or ended in this operation."""
    entries: list[dict[str, Any]] = []
    for account in sorted(after.blocked.keys() - before.blocked.keys()):
        block = after.blocked[account]
        entries.append({"op": op, "account": account, "event": "blocked", "reason": block.reason})
    for account in sorted(before.blocked.keys() - after.blocked.keys()):
        entries.append({"op": op, "account": account, "event": "unblocked"})
    for account in sorted(after.cooldowns.keys() - before.cooldowns.keys()):
        until = after.cooldowns[account].until
        entries.append({"op": op, "account": account, "event": "cooling", "until": _iso(until)})
    for account in sorted(before.cooldowns.keys() - after.cooldowns.keys()):
        entries.append({"op": op, "account": account, "event": "cooled"})
    return entries


def seed_entry(added: Sequence[Job]) -> dict[str, Any]:
    """A seed is one line (a seed of 100k jobs must not write 100k lines)."""
    return {
        "op": "seed",
        "added": len(added),
        "first": added[0].job_id if added else None,
        "last": added[-1].job_id if added else None,
    }


class Journal:
    """Appends entries to the journal file; call only while the queue's lock is held."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._warned = False

    def append(self, entries: Iterable[dict[str, Any]], now: datetime | None = None) -> None:
        at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
        pid = os.getpid()
        lines = [
            json.dumps({"at": at, "pid": pid, **entry}, ensure_ascii=False, separators=(",", ":"))
            for entry in entries
        ]
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            self._rotate_if_full()
            with open(self.path, "ab") as fh:
                fh.write(data)
        except OSError as exc:
            if not self._warned:
                log.warning("queue journal %s cannot be written (%s); the queue goes on", self.path, exc)
                self._warned = True

    def _rotate_if_full(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size >= self.max_bytes:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a journal file (and of its rotated `.1` first); a torn last line is skipped."""
    for part in (path.with_name(path.name + ".1"), path):
        try:
            text = part.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill mid-append
            if isinstance(entry, dict):
                yield entry
