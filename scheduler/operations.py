"""What the posting-scheduler commands do: read inputs, apply pure transitions, save once.

Every input is checked before anything is written: on any error the state file is untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from jobqueue import CsvJobStore, JobStatus, JobStore, QueueError, QueuePolicy
from jobqueue.simulated import in_dry_run_folder
from scheduler.accounts import (
    AccountInput,
    accounts_from_file,
    accounts_list_path,
    add_to_accounts_list,
    plan_accounts,
)
from scheduler.assign import AssignmentPlan
from scheduler.errors import (
    DryRunCopy,
    NotALegacyFile,
    NoUsableVideos,
    ProgressFileUnreadable,
    QueueDatabaseUnreachable,
    UnknownAccount,
)
from scheduler.folders import Skipped, scan_folder
from scheduler.limits import daily_limits, queue_url
from scheduler.model import SchedulerState
from scheduler.planning import QueueJob, add_accounts, add_videos, assign, record_successes, remove_account
from scheduler.progress_rows import read_progress_file
from scheduler.state_io import load_state, save_state, state_lock, utc_now_text


@dataclass(frozen=True)
class ChangeRequest:
    folders: tuple[Path, ...] = ()
    accounts: tuple[str, ...] = ()
    accounts_file: Path | None = None
    remove_accounts: tuple[str, ...] = ()
    daily_limit: int | None = None
    days_ahead: int | None = None
    seed: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == ChangeRequest()


@dataclass(frozen=True)
class FolderReport:
    folder: str
    caption_files: tuple[str, ...]
    added: tuple[tuple[str, str], ...]  # (video file, where its caption came from)
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = ()  # how Excel saved its captions files
    captions_updated: tuple[str, ...] = ()  # videos whose caption was corrected at the source


@dataclass(frozen=True)
class ChangeReport:
    folders: tuple[FolderReport, ...] = ()
    accounts_added: tuple[str, ...] = ()
    accounts_already_present: tuple[str, ...] = ()
    accounts_removed: tuple[str, ...] = ()
    assignments_dropped: int = 0
    newly_posted: int = 0
    plan: AssignmentPlan = field(default_factory=lambda: AssignmentPlan((), ()))
    saved: bool = False
    jobs_cancelled: tuple[str, ...] = ()  # queued jobs of removed accounts, now failed "cancelled"
    jobs_left_claimed: tuple[str, ...] = ()  # being worked on right now: left to their workers
    captions_changed: tuple[str, ...] = ()  # queued jobs that took a corrected caption
    captions_left: tuple[str, ...] = ()  # jobs claimed or ended: their caption stays as posted
    accounts_listed: tuple[str, ...] = ()  # added to accounts.csv (created if missing)


def apply_changes(
    state_path: Path, progress_path: Path, request: ChangeRequest, now: str | None = None
) -> ChangeReport:
    """Apply folders, accounts, removals and settings as one change, then assign and save.

    Raises InputError / StateError subclasses before anything is written.
    """
    stamp = now or utc_now_text()
    refuse_dry_run(state_path, progress_path)
    limits = daily_limits(state_path.parent)
    scans = [scan_folder(folder) for folder in request.folders]
    for scan in scans:
        if not scan.videos:
            raise NoUsableVideos(scan.folder, [f"{s.item}: {s.reason}" for s in scan.skipped])
    incoming = [AccountInput(name, "command line") for name in request.accounts]
    if request.accounts_file is not None:
        incoming += accounts_from_file(request.accounts_file)
    with state_lock(state_path):
        before = load_state(state_path)
        state = _with_settings(before, request)
        reports = []
        corrected: dict[str, str] = {}
        for scan in scans:
            state, duplicates, updated = add_videos(state, scan, stamp)
            dup_paths = {d.item for d in duplicates} | {v.path for v in updated}
            added = tuple(
                (_relative(v.path, scan.folder), v.caption_source)
                for v in scan.videos
                if v.path not in dup_paths
            )
            corrected.update({v.path: v.caption for v in updated})
            reports.append(
                FolderReport(
                    str(scan.folder),
                    scan.caption_files,
                    added,
                    scan.skipped + duplicates,
                    scan.notes,
                    tuple(_relative(v.path, scan.folder) for v in updated),
                )
            )
        accounts = plan_accounts(state.account_names, incoming)
        state = add_accounts(state, accounts.to_add, stamp)
        state, dropped = _remove(state, request.remove_accounts)
        url = folder_queue_url(state_path)
        jobs = read_queue(progress_path, url)
        state, newly_posted = record_successes(state, jobs, progress_path.name)
        state, plan = assign(state, {j.job_id: j.status for j in jobs}, stamp, limits)
        changed = state != before
        if url:
            # the database first: if it fails, the state is as it was (and doing it again is harmless)
            cancelled, claimed = _cancel_queued(progress_path, request.remove_accounts, url)
            changed_jobs, left_jobs = _update_queued_captions(progress_path, corrected, url)
        if changed:
            save_state(state_path, state, stamp)
        if not url:
            cancelled, claimed = _cancel_queued(progress_path, request.remove_accounts)
            changed_jobs, left_jobs = _update_queued_captions(progress_path, corrected)
        listed = add_to_accounts_list(accounts_list_path(state_path.parent), accounts.to_add)
    return ChangeReport(
        tuple(reports),
        accounts.to_add,
        accounts.already_present,
        request.remove_accounts,
        dropped,
        newly_posted,
        plan,
        changed,
        cancelled,
        claimed,
        changed_jobs,
        left_jobs,
        listed,
    )


def folder_queue_url(state_path: Path) -> str:
    """The PostgreSQL queue of the folder that holds the scheduler's state ("" for its CSV)."""
    return queue_url(state_path.parent, os.environ)


def refuse_dry_run(*paths: Path) -> None:
    """The scheduler never works on a dry run's copy: its successes would enter the posted ledger."""
    for path in paths:
        if in_dry_run_folder(path.resolve()):
            raise DryRunCopy(path, "read as real posts or given jobs")


@contextmanager
def _queue(progress_path: Path, url: str) -> Iterator[JobStore | None]:
    """The queue the folder's orchestrator works: its PostgreSQL queue when ``url`` names one, else
    the progress CSV (None while there is none). A database that fails is QueueDatabaseUnreachable."""
    if not url:
        yield CsvJobStore(progress_path) if progress_path.is_file() else None
        return
    from jobqueue.pgstore import PostgresJobStore

    store = PostgresJobStore(url, QueuePolicy(), reconnect_s=5.0)
    try:
        yield store
    except QueueError as exc:
        raise QueueDatabaseUnreachable(str(exc)) from exc
    finally:
        store.close()


def _update_queued_captions(
    progress_path: Path, captions: dict[str, str], url: str = ""
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Corrected captions reach the queue's jobs that no worker took yet."""
    if not captions:
        return (), ()
    with _queue(progress_path, url) as store:
        if store is None:
            return (), ()
        changed, left = store.update_captions(captions)
    return tuple(j.job_id for j in changed), tuple(j.job_id for j in left)


def _cancel_queued(
    progress_path: Path, accounts: tuple[str, ...], url: str = ""
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A removed account posts nothing more: its waiting jobs in the queue are cancelled (failed
    "cancelled", so a run going on now will not claim them); claimed ones finish with their workers."""
    if not accounts:
        return (), ()
    with _queue(progress_path, url) as store:
        if store is None:
            return (), ()
        now = datetime.now().astimezone()
        cancelled = [j.job_id for a in accounts for j in store.cancel_account(a, "account removed", now)]
        claimed = [
            j.job_id for j in store.snapshot().jobs if j.account in accounts and j.status is JobStatus.CLAIMED
        ]
    return tuple(cancelled), tuple(claimed)


def _relative(path: str, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path


def read_queue(progress_path: Path, url: str = "") -> list[QueueJob]:
    """The queue's jobs as the scheduler sees them: the PostgreSQL queue's when ``url`` names one,
    else the progress file's rows (read-only, tolerant); [] if absent or empty.

    Raises ProgressFileUnreadable (e.g. held open by Excel on Windows, or not a progress file), or
    QueueDatabaseUnreachable.
    """
    if url:
        with _queue(progress_path, url) as store:
            assert store is not None
            found = store.snapshot().jobs
        return [
            QueueJob(
                j.job_id,
                j.account,
                j.video_path,
                j.status.value,
                j.completed_at.isoformat() if j.completed_at else "",
                j.not_before.isoformat() if j.not_before else "",
            )
            for j in found
        ]
    try:
        if not progress_path.is_file() or progress_path.stat().st_size == 0:
            return []
        rows = read_progress_file(progress_path).rows
    except (OSError, NotALegacyFile) as exc:
        raise ProgressFileUnreadable(progress_path, str(exc)) from exc
    return [QueueJob(r.job_id, r.account, r.video_path, r.status, r.completed_at, r.not_before) for r in rows]


def _with_settings(state: SchedulerState, request: ChangeRequest) -> SchedulerState:
    settings = state.settings
    if request.days_ahead is not None:
        settings = replace(settings, days_ahead=request.days_ahead)
    if request.seed is not None:
        settings = replace(settings, seed=request.seed)
    return replace(state, settings=settings)


def _remove(state: SchedulerState, names: tuple[str, ...]) -> tuple[SchedulerState, int]:
    dropped = 0
    for name in names:
        if name not in state.account_names:
            raise UnknownAccount(name, state.account_names)
        state, gone = remove_account(state, name)
        dropped += len(gone)
    return state, dropped
