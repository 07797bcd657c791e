"""The seam to the queue: state -> NewJobs, and the orchestrator's idempotent seeding call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from jobqueue import NewJob, QueueSnapshot, SeedResult
from scheduler.errors import QueueLost
from scheduler.limits import DailyLimits, daily_limits
from scheduler.model import SchedulerState
from scheduler.planning import QueueJob, assign, mark_seeded, record_successes
from scheduler.spread import plan_jobs
from scheduler.state_io import load_state, save_state, state_lock, utc_now_text


class SeedTarget(Protocol):
    """The two ``jobqueue.JobStore`` methods seeding uses."""

    def seed(self, jobs: Iterable[NewJob]) -> SeedResult: ...

    def snapshot(self) -> QueueSnapshot: ...


@dataclass(frozen=True)
class SeedReport:
    """``added`` jobs went into the queue; ``already_present`` were there; a second seed adds 0."""

    added: int
    already_present: int
    newly_assigned: int
    newly_posted: int
    unassigned: int
    state_saved: bool


def jobs_to_seed(state: SchedulerState) -> list[NewJob]:
    """One NewJob per assignment not yet seeded, in assignment order (pure)."""
    videos = state.video_by_id()
    return [
        NewJob(
            a.job_id,
            a.account,
            videos[a.video_id].path,
            videos[a.video_id].caption,
            state.settings.max_attempts,
        )
        for a in state.assignments
        if a.seeded_at is None and a.video_id in videos
    ]


def queue_jobs(snapshot: QueueSnapshot) -> list[QueueJob]:
    return [
        QueueJob(
            j.job_id,
            j.account,
            j.video_path,
            str(j.status),
            j.completed_at.isoformat() if j.completed_at else "",
        )
        for j in snapshot.jobs
    ]


def seed_progress(
    state_path: Path, store: SeedTarget, now: str | None = None, limits: DailyLimits | None = None
) -> SeedReport:
    """Bring the queue up to date with the state, idempotently.

    Under the state lock: learn successes from the queue (posted ledger), assign waiting videos within
    each account's open-job allowance, add the not-yet-seeded jobs to ``store``, mark them seeded and
    save the state (only if it changed). ``limits``: the daily limits the queue enforces (default:
    those of the state file's folder). Raises StateError subclasses; the queue's own errors pass.
    """
    limits = limits or daily_limits(state_path.parent)
    stamp = now or utc_now_text()
    with state_lock(state_path):
        before = load_state(state_path)
        snapshot = store.snapshot()
        jobs = queue_jobs(snapshot)
        seeded = sum(1 for a in before.assignments if a.seeded_at is not None)
        if seeded and not jobs:
            path, backup = getattr(store, "path", None), getattr(store, "backup_path", None)
            raise QueueLost(path, seeded, backup)
        state, newly_posted = record_successes(before, jobs, "progress")
        state, plan = assign(state, {j.job_id: j.status for j in jobs}, stamp, limits)
        new_jobs = jobs_to_seed(state)
        if new_jobs and limits.policy is not None:
            moment = datetime.fromisoformat(stamp)
            moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            new_jobs = plan_jobs(new_jobs, snapshot.jobs, limits.policy, moment, state.settings.seed)
        result = store.seed(new_jobs) if new_jobs else SeedResult(0, 0)
        state = mark_seeded(state, [j.job_id for j in new_jobs], stamp)
        changed = state != before
        if changed:
            save_state(state_path, state, stamp)
    return SeedReport(
        result.added, result.already_present, len(plan.given), newly_posted, len(plan.unassigned), changed
    )
