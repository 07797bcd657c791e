"""The fleet at a glance: one row per worker, the run's totals, phones, and when it expects to end.

A pure function of plain data. The console's live table (`--run`, `--status --watch`), the web
dashboard and `--status --json` all show this one view; the run engine hands its observer the
inputs each tick (`RunTick`), `--status` gathers them from disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from jobqueue.gate import Gate
from jobqueue.model import Job, JobStatus, QueueSnapshot
from jobqueue.policy import QueuePolicy
from orchestrator.views.phone_use import PhoneUse
from orchestrator.views.progress import (
    ProgressView,
    WaitKind,
    progress_line,
    progress_view,
    wait_groups_text,
)
from runtime.state import Heartbeat

# Waiting jobs that keep a run alive (the others wait for midnight or for the operator).
KEEPS_RUN_ALIVE = frozenset({WaitKind.DUE, WaitKind.QUEUED, WaitKind.RETRY, WaitKind.COOLING})
ERROR_SHOWN = 160
ALIVE_SUPERVISION = frozenset({"starting", "running", "stopping"})  # supervision states with a process


class WorkerActivity(StrEnum):
    """A worker as the table names it."""

    WORKING = "working"  # on a job
    IDLE = "idle"  # alive, between jobs
    WAITING = "waiting"  # alive, waiting for GeeLark to come back
    STARTING = "starting"
    RESTARTING = "restarting"  # crashed; restarts after a backoff
    STOPPING = "stopping"
    DONE = "done"  # exited: nothing due for it
    GIVEN_UP = "given up"  # crashed too often; not restarted in this run
    GONE = "gone"  # its process is not running


@dataclass(frozen=True)
class SupervisedWorker:
    """What the run engine knows of one worker slot (its supervision state, as plain data)."""

    worker_id: int
    state: str  # orchestrator.run.supervision.WorkerState value
    reason: str = ""  # why it exited, crashed or was given up
    restart_in_s: float | None = None


@dataclass(frozen=True)
class RunTick:
    """What the run engine hands its observer every tick (the observer builds the views from it)."""

    now: datetime
    started_at: datetime
    snapshot: QueueSnapshot
    policy: QueuePolicy
    workers: tuple[SupervisedWorker, ...]
    simulate: bool
    simulator_url: str | None
    follow: bool


@dataclass(frozen=True)
class WorkerRow:
    worker_id: int
    activity: WorkerActivity
    pid: int | None
    account: str
    phone_id: str
    step: str
    job_id: str
    elapsed_s: float | None  # on the current job
    attempt: str  # "2/3": the attempt being made of the job's allowance
    last_error: str


@dataclass(frozen=True)
class Totals:
    total: int
    done: int
    ok: int
    failed: int
    review: int
    claimed: int
    waiting: int
    waiting_why: str  # "2 retry in 4m 10s (14:05), 1 daily limit in 11h 50m (00:00)"


@dataclass(frozen=True)
class ExpectedEnd:
    at: datetime | None
    note: str  # how it was estimated, or why it cannot be


@dataclass(frozen=True)
class FleetView:
    generated_at: datetime
    run_active: bool
    started_at: datetime | None
    simulate: bool
    rows: tuple[WorkerRow, ...]
    totals: Totals
    phones: PhoneUse
    expected_end: ExpectedEnd
    progress_line: str  # the same counts as one plain line (the console without a live table)


_SUPERVISION = {
    "starting": WorkerActivity.STARTING,
    "backoff": WorkerActivity.RESTARTING,
    "stopping": WorkerActivity.STOPPING,
    "exited": WorkerActivity.DONE,
    "fatal": WorkerActivity.GIVEN_UP,
    "stopped": WorkerActivity.GONE,
}


def activity(
    hb: Heartbeat | None, alive: bool, supervised: SupervisedWorker | None, holds_job: bool = False
) -> WorkerActivity:
    """The one word for a worker: supervision says starting/restarting/..., then the queue (it holds
    a claim: working), then its heartbeat (idle, or waiting for GeeLark)."""
    if supervised is not None and supervised.state in _SUPERVISION:
        state = _SUPERVISION[supervised.state]
        if not (state is WorkerActivity.STARTING and hb is not None and alive):
            return state
    if not alive:
        return WorkerActivity.GONE
    if holds_job:
        return WorkerActivity.WORKING
    if hb is None:
        return WorkerActivity.STARTING
    return WorkerActivity.WAITING if hb.step == "waiting_for_geelark" else WorkerActivity.IDLE


def _newer(job: Job, than: Job | None) -> bool:
    mine, theirs = (
        job.completed_at or job.claimed_at,
        None if than is None else than.completed_at or than.claimed_at,
    )
    return than is None or theirs is None or (mine is not None and mine > theirs)


def jobs_by_worker(jobs: Iterable[Job]) -> tuple[dict[int, Job], dict[int, Job]]:
    """Per worker id: the job it holds (claimed), and the latest job of its that carries an error."""
    holding: dict[int, Job] = {}
    erred: dict[int, Job] = {}
    for job in jobs:
        if job.worker_id is None:
            continue
        if job.status is JobStatus.CLAIMED:
            holding[job.worker_id] = job
        elif job.error and _newer(job, erred.get(job.worker_id)):
            erred[job.worker_id] = job
    return holding, erred


def _error_of(job: Job | None, supervised: SupervisedWorker | None) -> str:
    if supervised is not None and supervised.state in ("backoff", "fatal") and supervised.reason:
        return supervised.reason[:ERROR_SHOWN]
    if job is None:
        return ""
    kind = f"{job.error_type}: " if job.error_type else ""
    return (kind + job.error)[:ERROR_SHOWN]


def worker_row(
    worker_id: int,
    *,
    hb: Heartbeat | None,
    alive: bool,
    supervised: SupervisedWorker | None,
    holding: Job | None,
    erred: Job | None,
    now: datetime,
) -> WorkerRow:
    live = hb if (hb is not None and alive) else None
    # The queue is the truth for claims; the heartbeat (every ~2 s) tells the step, and only while it
    # speaks of the job the queue says this worker holds (else it is a beat behind).
    job = holding
    held_id = job.job_id if job is not None else None
    step = "claimed" if job is not None else ""
    if live is not None and (live.job_id or None) == held_id:
        step = live.step
    return WorkerRow(
        worker_id=worker_id,
        activity=activity(hb, alive, supervised, holds_job=job is not None),
        pid=hb.process.pid if hb is not None else None,
        account=job.account if job is not None else "",
        phone_id=(live.phone_id or "") if live is not None else "",
        step=step,
        job_id=job.job_id if job is not None else "",
        elapsed_s=max(0.0, (now - job.claimed_at).total_seconds()) if job and job.claimed_at else None,
        attempt=f"{job.attempts + 1}/{job.max_attempts}" if job is not None else "",
        last_error=_error_of(erred, supervised),
    )


def expected_end(
    progress: ProgressView, *, started_at: datetime | None, now: datetime, follow: bool
) -> ExpectedEnd:
    """When the run should end at the pace so far: the jobs that keep it alive / jobs done per second,
    never before the last of them comes due."""
    if started_at is None:
        return ExpectedEnd(None, "no run active")
    if follow:
        return ExpectedEnd(None, "runs until stopped (--follow)")
    alive = [g for g in progress.waiting_groups if g.kind in KEEPS_RUN_ALIVE]
    remaining = len(progress.active) + sum(g.count for g in alive)
    if remaining == 0:
        return ExpectedEnd(now, "nothing left for this run")
    elapsed_s = (now - started_at).total_seconds()
    if progress.done == 0 or elapsed_s <= 0:
        return ExpectedEnd(None, "estimated once the first job has ended")
    at = now + timedelta(seconds=remaining * elapsed_s / progress.done)
    last_due = max((g.until for g in alive if g.until is not None), default=None)
    if last_due is not None and last_due > at:
        return ExpectedEnd(last_due, "when the last retry or cooldown comes due")
    return ExpectedEnd(at, "at the pace so far")


def totals(progress: ProgressView, waiting_why: str) -> Totals:
    return Totals(
        total=progress.total,
        done=progress.done,
        ok=progress.success,
        failed=progress.failed,
        review=progress.review,
        claimed=len(progress.active),
        waiting=progress.waiting,
        waiting_why=waiting_why,
    )


def fleet_view(
    snapshot: QueueSnapshot,
    *,
    now: datetime,
    policy: QueuePolicy,
    started_at: datetime | None,
    heartbeats: Mapping[int, Heartbeat],
    alive: set[int],
    supervised: Mapping[int, SupervisedWorker] | None = None,
    phones: PhoneUse | None = None,
    simulate: bool = False,
    follow: bool = False,
    gates: Mapping[str, Gate] | None = None,
) -> FleetView:
    """The whole view. `started_at`: the active run's start (None: no run; every job counts).
    `supervised`: the run engine's slots (only the run itself knows them). `gates`: the accounts'
    gates at `now`, when the caller has them already."""
    progress = progress_view(snapshot, now, policy=policy, started_at=started_at, gates=gates)
    holding, erred = jobs_by_worker(snapshot.jobs)
    slots = supervised or {}
    ids = sorted(set(slots) | set(heartbeats))
    rows = tuple(
        worker_row(
            wid,
            hb=heartbeats.get(wid),
            alive=wid in alive,
            supervised=slots.get(wid),
            holding=holding.get(wid),
            erred=erred.get(wid),
            now=now,
        )
        for wid in ids
    )
    why = wait_groups_text(progress.waiting_groups, now)
    return FleetView(
        generated_at=now,
        run_active=started_at is not None,
        started_at=started_at,
        simulate=simulate,
        rows=rows,
        totals=totals(progress, why),
        phones=phones or PhoneUse(),
        expected_end=expected_end(progress, started_at=started_at, now=now, follow=follow),
        progress_line=progress_line(progress),
    )
