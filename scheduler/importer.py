"""import: switch from the original tool without losing history or posting anything twice.

- successes (progress files, legacy state, all_posted_videos.txt) -> posted ledger entries
- ``claimed`` / ``in_progress`` / ``verification_pending`` rows of a dead run -> *review*: they may have
  been posted, so the (account, video) pair goes into the ledger (never re-assigned to that account)
  and the row is listed in the quarantine file with a ``review:`` reason for the operator to check
- pending / retrying rows with an account -> assignments that keep the original job_id (so seeding
  into the original progress file adds nothing twice); other unfinished rows -> waiting videos
- rows it cannot understand -> ``import_quarantine_<ts>.csv`` next to the state file, with the reason
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from jobqueue.csvrow import safe_csv
from jobqueue.fileio import atomic_write
from jobqueue.simulated import in_dry_run_folder
from scheduler.accounts import accounts_list_path, add_to_accounts_list
from scheduler.errors import DryRunCopy, LegacyStateFile
from scheduler.legacy_sources import LegacyBundle, read_bundle
from scheduler.limits import daily_limits
from scheduler.model import (
    Account,
    Assignment,
    PostedEntry,
    SchedulerState,
    Video,
    file_name,
    video_key,
    video_stem,
)
from scheduler.operations import read_queue, refuse_dry_run
from scheduler.planning import assign
from scheduler.progress_rows import Quarantined
from scheduler.state_io import load_state, save_state, state_lock, utc_now_text

REVIEW_STATUSES = frozenset({"claimed", "in_progress", "verification_pending", "review"})
WAITING_STATUSES = frozenset({"pending", "retrying", "failed", "skipped"})
REVIEW_REASON = (
    "review: claimed by the original tool's run, may have been posted; check {account} and requeue if not"
)


@dataclass(frozen=True)
class Candidate:
    """An unfinished job of the original tool: a video, maybe with the account it was given to."""

    job_id: str
    video_path: str
    caption: str
    status: str
    account: str
    source: str
    completed_at: str = ""
    folder: Path = Path(".")  # relative video paths are taken from the imported file's folder


@dataclass
class Merge:
    state: SchedulerState
    now: str
    quarantined: list[Quarantined] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def bump(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


@dataclass(frozen=True)
class ImportReport:
    files: tuple[str, ...]
    counts: dict[str, int]
    quarantine_file: str | None
    legacy_backup: str | None
    assigned_now: int
    saved: bool


def import_legacy(
    state_path: Path, progress_path: Path, sources: list[Path], now: str | None = None
) -> ImportReport:
    """Import the original tool's files into the state; raises InputError/StateError before writing."""
    stamp = now or utc_now_text()
    refuse_dry_run(state_path, progress_path)
    for source in sources:
        if in_dry_run_folder(source.resolve()):
            raise DryRunCopy(source, "imported")
    with state_lock(state_path):
        try:
            before = load_state(state_path)
            backup_needed = False
        except LegacyStateFile:
            before, backup_needed = SchedulerState(), True
            if state_path.resolve() not in {s.resolve() for s in sources}:
                sources = [*sources, state_path]
        bundle = read_bundle(sources)
        merge = Merge(before, stamp)
        merge_bundle(merge, bundle)
        jobs = read_queue(progress_path) if progress_path.is_file() and not backup_needed else []
        state, plan = assign(
            merge.state, {j.job_id: j.status for j in jobs}, stamp, daily_limits(state_path.parent)
        )
        tag = stamp.replace(":", "").replace("-", "")[:15]
        quarantine = _write_quarantine(state_path.parent / f"import_quarantine_{tag}.csv", merge.quarantined)
        backup = None
        if backup_needed:
            backup = state_path.with_name(f"{state_path.stem}.legacy-{tag}{state_path.suffix}")
            shutil.copy2(state_path, backup)
        save_state(state_path, state, stamp)
        new_names = [a.name for a in state.accounts if a.name not in set(before.account_names)]
        listed = add_to_accounts_list(accounts_list_path(state_path.parent), new_names)
    if listed:
        merge.bump("accounts.csv rows added", len(listed))
    files = tuple(f"{p.path} ({p.layout})" for p in bundle.progress) + tuple(
        str(s.path) for s in bundle.states
    )
    return ImportReport(
        files, merge.counts, quarantine, str(backup) if backup else None, len(plan.given), True
    )


def merge_bundle(merge: Merge, bundle: LegacyBundle) -> None:
    """Fold everything read into ``merge.state`` (pure apart from ``merge`` itself)."""
    merge.quarantined += bundle.quarantined
    for progress in bundle.progress:
        merge.quarantined += progress.quarantined
    names = [(n, src) for n, src in bundle.accounts]
    names += [(n, str(s.path.name)) for s in bundle.states for n in s.accounts]
    _merge_accounts(merge, names)
    _merge_ledger(merge, [PostedEntry(x.account, file_name(x.video), x.at, x.source) for x in bundle.ledger])
    candidates: list[Candidate] = []
    for progress in bundle.progress:
        for r in progress.rows:
            candidates.append(
                Candidate(
                    r.job_id,
                    r.video_path,
                    r.caption,
                    r.status,
                    r.account,
                    r.source,
                    r.completed_at,
                    progress.path.parent,
                )
            )
    for legacy in bundle.states:
        merge.quarantined += legacy.quarantined
        for j in legacy.jobs:
            candidates.append(
                Candidate(
                    j.job_id,
                    j.video_path,
                    j.caption,
                    j.status,
                    j.account,
                    j.source,
                    j.completed_at,
                    legacy.path.parent,
                )
            )
    _merge_finished(merge, candidates)
    _merge_waiting(merge, [c for c in candidates if c.status in WAITING_STATUSES])
    for c in candidates:
        if c.status not in WAITING_STATUSES | REVIEW_STATUSES | {"success"}:
            merge.quarantined.append(Quarantined(c.source, f"unknown status {c.status!r}", c.job_id))


def _merge_accounts(merge: Merge, names: Iterable[tuple[str, str]]) -> None:
    known = {n.casefold() for n in merge.state.account_names}
    new = []
    for name, source in names:
        if any(ch.isspace() or ch in ',|"#' for ch in name):
            merge.quarantined.append(Quarantined(source, "not a valid account name", name))
        elif name.casefold() not in known:
            known.add(name.casefold())
            new.append(Account(name, merge.now))
    merge.state = replace(merge.state, accounts=(*merge.state.accounts, *new))
    merge.bump("accounts added", len(new))


def _merge_ledger(merge: Merge, entries: Iterable[PostedEntry]) -> None:
    keys = set(merge.state.posted_keys())
    new = []
    for entry in entries:
        if entry.account and entry.key not in keys:
            keys.add(entry.key)
            new.append(entry)
    merge.state = replace(merge.state, posted=(*merge.state.posted, *new))
    merge.bump("ledger entries added", len(new))


def _merge_finished(merge: Merge, candidates: list[Candidate]) -> None:
    entries = []
    for c in candidates:
        if c.status == "success" and not c.account:
            merge.quarantined.append(
                Quarantined(c.source, "success without an account: not re-posted", c.job_id)
            )
        elif c.status == "success":
            entries.append(PostedEntry(c.account, file_name(c.video_path), c.completed_at, c.source))
        elif c.status in REVIEW_STATUSES:
            reason = REVIEW_REASON.format(account=c.account or "the account")
            merge.quarantined.append(Quarantined(c.source, reason, f"{c.job_id},{c.account},{c.video_path}"))
            merge.bump("review")
            if c.account:
                entries.append(PostedEntry(c.account, file_name(c.video_path), "", f"review:{c.source}"))
    _merge_ledger(merge, entries)


def _merge_waiting(merge: Merge, candidates: Iterable[Candidate]) -> None:
    """Unfinished jobs -> videos (once per video) and, for pending/retrying rows that name a known
    account allowed to post the video, assignments that keep the original job_id."""
    state = merge.state
    videos = {video_key(v.video_id): v for v in state.videos}
    taken = {a.video_id for a in state.assignments}
    job_ids = {a.job_id for a in state.assignments}
    posted, accounts = state.posted_keys(), set(state.account_names)
    new_videos: list[Video] = []
    new_assignments: list[Assignment] = []
    for c in candidates:
        if not c.caption:
            merge.quarantined.append(Quarantined(c.source, "no caption", c.job_id))
            continue
        key = video_key(c.video_path)
        video = videos.get(key)
        if video is None:
            path = _local_path(c.folder, c.video_path)
            video = Video(video_stem(c.video_path), path, c.caption, "(imported)", c.source, merge.now)
            videos[key] = video
            new_videos.append(video)
        keep = c.status in ("pending", "retrying") and c.account in accounts
        if (
            keep
            and (c.account, key) not in posted
            and video.video_id not in taken
            and c.job_id not in job_ids
        ):
            taken.add(video.video_id)
            job_ids.add(c.job_id)
            new_assignments.append(Assignment(c.job_id, video.video_id, c.account, merge.now))
    merge.state = replace(
        state, videos=(*state.videos, *new_videos), assignments=(*state.assignments, *new_assignments)
    )
    merge.bump("videos added", len(new_videos))
    merge.bump("assignments kept", len(new_assignments))


def _local_path(base: Path, original: str) -> str:
    """Forward slashes (valid on Windows too); a relative path is taken from ``base``."""
    text = original.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return text
    return (base / text).resolve().as_posix()


def _write_quarantine(path: Path, rows: list[Quarantined]) -> str | None:
    if not rows:
        return None
    data = safe_csv([["source", "reason", "raw"], *([q.source, q.reason, q.raw] for q in rows)])
    atomic_write(path, data)
    return str(path)
