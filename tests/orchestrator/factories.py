"""Plain jobs and snapshots for the pure tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobqueue import AccountBlock, AccountCooldown, AccountsState, Job, JobStatus, QueueSnapshot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def job(job_id: str, account: str = "a1", status: JobStatus = JobStatus.PENDING, **kw: Any) -> Job:
    return Job(
        job_id=job_id, account=account, video_path=f"/v/{job_id}.mp4", caption="c", status=status, **kw
    )


def claimed(job_id: str, account: str, worker: int, age_s: float, **kw: Any) -> Job:
    return job(
        job_id, account, JobStatus.CLAIMED, worker_id=worker, claimed_at=NOW - timedelta(seconds=age_s), **kw
    )


def done(
    job_id: str, account: str, status: JobStatus = JobStatus.SUCCESS, ago_s: float = 60, **kw: Any
) -> Job:
    return job(
        job_id,
        account,
        status,
        claimed_at=NOW - timedelta(seconds=ago_s + 30),
        completed_at=NOW - timedelta(seconds=ago_s),
        **kw,
    )


def snapshot(
    *jobs: Job, blocked: dict[str, str] | None = None, cooling: dict[str, float] | None = None
) -> QueueSnapshot:
    blocks = {a: AccountBlock(a, why, "j0", NOW) for a, why in (blocked or {}).items()}
    cools = {
        a: AccountCooldown(a, "phone keeps failing", NOW + timedelta(seconds=s))
        for a, s in (cooling or {}).items()
    }
    return QueueSnapshot(tuple(jobs), AccountsState(blocked=blocks, cooldowns=cools))
