"""The run's progress line, a pure function of one queue snapshot.

`Progress: 3/22 done (2 ok, 1 failed), 4 waiting, 2 active: W0 DMx123 @phone1 (5.2m), W1 ...`
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobqueue.model import JobStatus, QueueSnapshot

MAX_ACTIVE_SHOWN = 4


@dataclass(frozen=True)
class ActiveJob:
    worker_id: int | None
    job_id: str
    account: str
    age_s: float


@dataclass(frozen=True)
class ProgressView:
    total: int
    success: int
    failed: int
    review: int
    retrying: int
    pending: int
    active: tuple[ActiveJob, ...]

    @property
    def done(self) -> int:
        return self.success + self.failed + self.review


def progress_view(snapshot: QueueSnapshot, now: datetime) -> ProgressView:
    """Counts and the claimed jobs (oldest first) of the snapshot."""
    counts = snapshot.counts()
    active = sorted(
        (
            ActiveJob(
                worker_id=job.worker_id,
                job_id=job.job_id,
                account=job.account,
                age_s=max(0.0, (now - job.claimed_at).total_seconds()) if job.claimed_at else 0.0,
            )
            for job in snapshot.jobs
            if job.status is JobStatus.CLAIMED
        ),
        key=lambda a: -a.age_s,
    )
    return ProgressView(
        total=len(snapshot.jobs),
        success=counts[JobStatus.SUCCESS],
        failed=counts[JobStatus.FAILED],
        review=counts[JobStatus.REVIEW],
        retrying=counts[JobStatus.RETRYING],
        pending=counts[JobStatus.PENDING],
        active=tuple(active),
    )


def format_minutes(seconds: float) -> str:
    """`42s` under a minute, else `5.2m` (the unit the operators know from the batch supervisor)."""
    return f"{seconds:.0f}s" if seconds < 60 else f"{seconds / 60:.1f}m"


def format_duration(seconds: float) -> str:
    """`42s`, `5m 12s`, `3h 05m`, `2d 4h`: how long, readable at a glance (never `1250.3m`)."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def job_label(job_id: str, account: str) -> str:
    """`job @account`, or just the job id when it already names the account (`clip_01@phone1`)."""
    return job_id if not account or job_id.endswith(f"@{account}") else f"{job_id} @{account}"


def progress_line(view: ProgressView) -> str:
    """One line, plain ASCII (safe on any Windows console code page)."""
    outcome = [f"{view.success} ok"]
    if view.failed:
        outcome.append(f"{view.failed} failed")
    if view.review:
        outcome.append(f"{view.review} review")
    line = f"Progress: {view.done}/{view.total} done ({', '.join(outcome)})"
    waiting = view.pending + view.retrying
    if waiting:
        line += f", {waiting} waiting" + (f" ({view.retrying} retrying)" if view.retrying else "")
    line += f", {len(view.active)} active"
    if view.active:
        shown = [
            f"W{'?' if a.worker_id is None else a.worker_id} {job_label(a.job_id, a.account)}"
            f" ({format_minutes(a.age_s)})"
            for a in view.active[:MAX_ACTIVE_SHOWN]
        ]
        more = len(view.active) - MAX_ACTIVE_SHOWN
        line += ": " + ", ".join(shown) + (f" +{more} more" if more > 0 else "")
    return line
