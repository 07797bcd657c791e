"""Pure transitions of the scheduler state: add videos and accounts, learn from the queue, assign.

No I/O here: the shell reads folders, files and the progress file, calls these, and saves the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from scheduler.assign import AssignmentPlan, plan_assignments
from scheduler.folders import FolderScan, Skipped
from scheduler.limits import DailyLimits
from scheduler.model import (
    Account,
    Assignment,
    Folder,
    PostedEntry,
    SchedulerState,
    Video,
    file_name,
    job_id_for,
    video_key,
)

OPEN_STATUSES = frozenset({"pending", "claimed", "retrying", "review", "verification_pending"})


@dataclass(frozen=True)
class QueueJob:
    """What the scheduler needs to know about one row of the progress file."""

    job_id: str
    account: str
    video_path: str
    status: str
    completed_at: str = ""
    not_before: str = ""  # the plan's earliest time (ISO 8601) or ""


def add_videos(
    state: SchedulerState, scan: FolderScan, now: str
) -> tuple[SchedulerState, tuple[Skipped, ...], tuple[Video, ...]]:
    """Add the scan's videos that the state does not hold yet; the others are returned as
    skipped, except that a known video (same file) whose caption was corrected at its source takes
    the new caption (returned as updated)."""
    known = {video_key(v.video_id): v for v in state.videos}
    added: list[Video] = []
    skipped: list[Skipped] = []
    updated: dict[str, Video] = {}
    folder = str(scan.folder.resolve())
    for found in scan.videos:
        key = video_key(found.video_id)
        if key in known:
            old = known[key]
            if old.path == found.path and old.caption != found.caption:
                updated[key] = replace(old, caption=found.caption, caption_source=found.caption_source)
                continue
            skipped.append(Skipped(found.path, f"duplicate: already in the state from {known[key].folder}"))
            continue
        video = Video(found.video_id, found.path, found.caption, folder, found.caption_source, now)
        known[key] = video
        added.append(video)
    folders = state.folders
    if all(f.path != folder for f in folders):
        folders = (*folders, Folder(folder, now))
    videos = tuple(updated.get(video_key(v.video_id), v) for v in state.videos)
    return replace(state, videos=(*videos, *added), folders=folders), tuple(skipped), tuple(updated.values())


def add_accounts(state: SchedulerState, names: Iterable[str], now: str) -> SchedulerState:
    return replace(state, accounts=(*state.accounts, *(Account(n, now) for n in names)))


def remove_account(state: SchedulerState, name: str) -> tuple[SchedulerState, tuple[Assignment, ...]]:
    """Drop the account and its not-yet-seeded assignments (their videos become unassigned again).

    Jobs already in the progress file stay there: the queue belongs to the orchestrator.
    """
    dropped = tuple(a for a in state.assignments if a.account == name and a.seeded_at is None)
    return (
        replace(
            state,
            accounts=tuple(a for a in state.accounts if a.name != name),
            assignments=tuple(a for a in state.assignments if a not in dropped),
        ),
        dropped,
    )


def record_successes(
    state: SchedulerState, jobs: Iterable[QueueJob], source: str
) -> tuple[SchedulerState, int]:
    """Add every success in the queue to the posted ledger (once); returns the number added."""
    keys = set(state.posted_keys())
    new: list[PostedEntry] = []
    for job in jobs:
        entry = PostedEntry(job.account, file_name(job.video_path), job.completed_at, source)
        if job.status == "success" and job.account and entry.key not in keys:
            keys.add(entry.key)
            new.append(entry)
    if not new:
        return state, 0
    return replace(state, posted=(*state.posted, *new)), len(new)


def open_load(state: SchedulerState, queue_status: Mapping[str, str]) -> Counter[str]:
    """Open jobs per account: not yet seeded, or in the queue and not finished.

    A seeded job missing from the progress file (archived by hand) no longer counts.
    """
    load: Counter[str] = Counter()
    for a in state.assignments:
        if a.seeded_at is None or queue_status.get(a.job_id) in OPEN_STATUSES:
            load[a.account] += 1
    return load


def unassigned_video_ids(state: SchedulerState) -> list[str]:
    taken = {a.video_id for a in state.assignments}
    return [v.video_id for v in state.videos if v.video_id not in taken]


def plan_for(
    state: SchedulerState, queue_status: Mapping[str, str], limits: DailyLimits | None = None
) -> AssignmentPlan:
    """What ``assign`` would do now (also used to explain why videos wait). ``limits``: the daily
    limit per account the queue enforces (default: one a day)."""
    limits = limits or DailyLimits()
    days = state.settings.days_ahead
    return plan_assignments(
        unassigned_video_ids(state),
        state.account_names,
        open_load(state, queue_status),
        state.posted_keys(),
        {a: days * limits.of(a) for a in state.account_names},
        state.settings.seed,
    )


def assign(
    state: SchedulerState, queue_status: Mapping[str, str], now: str, limits: DailyLimits | None = None
) -> tuple[SchedulerState, AssignmentPlan]:
    """Give unassigned videos to accounts under the rules of ``scheduler.assign``."""
    plan = plan_for(state, queue_status, limits)
    if not plan.given:
        return state, plan
    new = tuple(Assignment(job_id_for(v, a), v, a, now) for v, a in plan.given)
    return replace(state, assignments=(*state.assignments, *new)), plan


def mark_seeded(state: SchedulerState, job_ids: Collection[str], now: str) -> SchedulerState:
    if not job_ids:
        return state
    wanted = set(job_ids)
    return replace(
        state,
        assignments=tuple(
            replace(a, seeded_at=now) if a.job_id in wanted and a.seeded_at is None else a
            for a in state.assignments
        ),
    )
