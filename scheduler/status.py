"""A read-only picture of the scheduler: accounts, videos, assignments, what waits and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scheduler.limits import daily_limits
from scheduler.model import Settings
from scheduler.operations import folder_queue_url, read_queue
from scheduler.planning import open_load, plan_for, record_successes
from scheduler.state_io import load_state

STILL_TO_POST = frozenset({"pending", "retrying", "claimed"})


@dataclass(frozen=True)
class AccountLine:
    name: str
    open_jobs: int
    assigned_total: int
    posted: int


@dataclass(frozen=True)
class StatusReport:
    state_path: str
    progress_path: str
    settings: Settings
    folders: tuple[str, ...]
    videos: int
    assigned: int
    seeded: int
    accounts: tuple[AccountLine, ...]
    queue_counts: dict[str, int]
    posted_entries: int
    successes_not_in_ledger: int
    waiting: tuple[tuple[str, str], ...]  # (video_id, why it has no account yet)
    assignable_now: int  # videos the next seed or change would assign
    daily_limits: str = ""  # where the daily limit per account comes from, and its value


def build_status(state_path: Path, progress_path: Path) -> StatusReport:
    """Everything ``status`` shows; reads the state and the progress file, writes nothing."""
    state = load_state(state_path)
    jobs = read_queue(progress_path, folder_queue_url(state_path))
    statuses = {j.job_id: j.status for j in jobs}
    _, unseen = record_successes(state, jobs, "")
    load = open_load(state, statuses)
    assigned = Counter(a.account for a in state.assignments)
    posted = Counter(p.account for p in state.posted)
    limits = daily_limits(state_path.parent)
    plan = plan_for(state, statuses, limits)
    return StatusReport(
        str(state_path),
        str(progress_path),
        state.settings,
        tuple(f.path for f in state.folders),
        len(state.videos),
        len(state.assignments),
        sum(1 for a in state.assignments if a.seeded_at is not None),
        tuple(AccountLine(n, load[n], assigned[n], posted[n]) for n in state.account_names),
        dict(Counter(j.status for j in jobs)),
        len(state.posted),
        unseen,
        plan.unassigned,
        len(plan.given),
        limits.source,
    )


@dataclass(frozen=True)
class VideoLine:
    video_id: str
    account: str  # "" while waiting
    job_id: str
    status: str  # queue status, "assigned" (not seeded yet), "waiting", or "gone" (seeded, not in the file)
    caption_start: str
    path: str
    not_before: str = ""  # the plan's earliest time for a job still to post (ISO 8601), else ""


def list_videos(state_path: Path, progress_path: Path) -> list[VideoLine]:
    """One line per video (and per assignment), in the order videos were added; writes nothing."""
    state = load_state(state_path)
    queued = {j.job_id: j for j in read_queue(progress_path, folder_queue_url(state_path))}
    statuses = {job_id: j.status for job_id, j in queued.items()}
    by_video: dict[str, list[tuple[str, str, str]]] = {}
    for a in state.assignments:
        status = "assigned" if a.seeded_at is None else statuses.get(a.job_id, "gone")
        by_video.setdefault(a.video_id, []).append((a.account, a.job_id, status))
    lines = []
    for v in state.videos:
        first = v.caption.split("\n", 1)[0][:60]
        for account, job_id, status in by_video.get(v.video_id, [("", "", "waiting")]):
            job = queued.get(job_id)
            plan = job.not_before if job is not None and status in STILL_TO_POST else ""
            lines.append(VideoLine(v.video_id, account, job_id, status, first, v.path, plan))
    return lines
