"""`--status` as data: a `StatusReport` built by pure functions from one queue snapshot.

The shell (`status_probe.py`) gathers the snapshot, the heartbeats, which processes are alive and
what GeeLark says; `build_status` only combines them, so it is fast at 10k rows and easy to test.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jobqueue.daily import day_bounds, successes_on_day
from jobqueue.model import JobStatus, QueueSnapshot
from orchestrator.outlook import WAITING, account_gates, job_due_at
from runtime.state import Heartbeat, RunInfo

FAILURES_PER_TYPE = 5


@dataclass(frozen=True)
class AccountStatus:
    account: str
    done_today: int
    daily_limit: int
    waiting: int  # pending + retrying
    state: str  # "ready", "busy", "blocked", "cooling", "daily limit", "idle"
    why: str  # the block / cooldown reason
    next_eligible_at: datetime | None


@dataclass(frozen=True)
class ClaimStatus:
    worker_id: int | None
    job_id: str
    account: str
    age_s: float
    heartbeat_age_s: float | None
    step: str
    past_checkpoint: bool


@dataclass(frozen=True)
class RetryStatus:
    job_id: str
    account: str
    due_at: datetime | None
    attempts: int
    max_attempts: int
    error_type: str
    held_by: str = ""  # the account's state when it, not the retry time, holds the job back


@dataclass(frozen=True)
class FailureStatus:
    job_id: str
    account: str
    status: str
    error: str
    evidence: str  # the job's evidence folder (logs, screenshot, page source)


@dataclass(frozen=True)
class FailureGroup:
    error_type: str
    count: int
    recent: tuple[FailureStatus, ...]


@dataclass(frozen=True)
class WorkerStatus:
    worker_id: int
    pid: int
    alive: bool
    step: str
    job_id: str | None
    heartbeat_age_s: float


@dataclass(frozen=True)
class RunStatus:
    active: bool
    pid: int | None
    started_at: datetime | None
    simulate: bool


@dataclass(frozen=True)
class PhoneLine:
    phone_id: str
    serial_name: str
    status: str
    billed_minutes: float | None
    ours: bool  # started by this project's run (phones ledger) or one of its accounts


@dataclass(frozen=True)
class PhonesView:
    """What GeeLark says, or why it could not be asked (status never hangs on it)."""

    reachable: bool
    error: str = ""
    running: tuple[PhoneLine, ...] = ()
    billed_minutes: float | None = None


@dataclass(frozen=True)
class StatusReport:
    generated_at: datetime
    progress_file: str
    total: int
    counts: dict[str, int]
    accounts: tuple[AccountStatus, ...]
    claims: tuple[ClaimStatus, ...]
    retries: tuple[RetryStatus, ...]
    failures: tuple[FailureGroup, ...]
    workers: tuple[WorkerStatus, ...]
    run: RunStatus
    phones: PhonesView | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then else 0.0


def build_accounts(
    snapshot: QueueSnapshot, now: datetime, daily_limit: int, timezone: str | None
) -> tuple[AccountStatus, ...]:
    """Per account: done today / limit, what holds it back, when it can next post."""
    done_today = successes_on_day(snapshot.jobs, now, timezone)
    gates = account_gates(snapshot, now, daily_limit, timezone)
    _, tomorrow = day_bounds(now, timezone)
    waiting: dict[str, int] = defaultdict(int)
    next_due: dict[str, datetime] = {}
    for job in snapshot.jobs:
        if job.status in WAITING and job.account:
            waiting[job.account] += 1
            at = job_due_at(job, gates.get(job.account), now)
            if at is not None and (job.account not in next_due or at < next_due[job.account]):
                next_due[job.account] = at
    out = []
    for account in sorted(gates):
        gate = gates[account]
        block = snapshot.blocked.get(account)
        cooldown = snapshot.cooldowns.get(account)
        eligible: datetime | None = next_due.get(account)
        if block is not None:
            state, why, eligible = (
                "blocked",
                f"{block.reason} (job {block.job_id}); run: unblock {account}",
                None,
            )
        elif gate.busy:
            state, why = "busy", ""
        elif gate.cooling_until is not None:
            state, why = "cooling", cooldown.reason if cooldown else ""
        elif gate.limit_reached:
            state, why, eligible = "daily limit", "", (tomorrow if waiting[account] else None)
        elif waiting[account]:
            state, why = "ready", ""
        else:
            state, why = "idle", ""
        out.append(
            AccountStatus(account, done_today[account], daily_limit, waiting[account], state, why, eligible)
        )
    return tuple(out)


def build_claims(
    snapshot: QueueSnapshot, heartbeats: dict[int, Heartbeat], now: datetime
) -> tuple[ClaimStatus, ...]:
    """Claimed jobs with their worker's last heartbeat (a stale heartbeat means a stuck or dead worker)."""
    claims = []
    for job in snapshot.jobs:
        if job.status is not JobStatus.CLAIMED:
            continue
        hb = heartbeats.get(job.worker_id) if job.worker_id is not None else None
        beat_matches = hb is not None and hb.job_id == job.job_id
        claims.append(
            ClaimStatus(
                worker_id=job.worker_id,
                job_id=job.job_id,
                account=job.account,
                age_s=_age(now, job.claimed_at),
                heartbeat_age_s=_age(now, hb.heartbeat_at) if hb is not None else None,
                step=hb.step if hb is not None and beat_matches else "",
                past_checkpoint=job.checkpoint_at is not None,
            )
        )
    return tuple(sorted(claims, key=lambda c: -c.age_s))


def build_retries(snapshot: QueueSnapshot, accounts: tuple[AccountStatus, ...]) -> tuple[RetryStatus, ...]:
    """The retry queue, soonest first; a job held back by its account says so."""
    held = {a.account: a.state for a in accounts if a.state in ("blocked", "cooling", "daily limit")}
    retries = [
        RetryStatus(
            j.job_id, j.account, j.retry_at, j.attempts, j.max_attempts, j.error_type, held.get(j.account, "")
        )
        for j in snapshot.jobs
        if j.status is JobStatus.RETRYING
    ]
    return tuple(sorted(retries, key=lambda r: (r.due_at is not None, r.due_at or datetime.min.astimezone())))


def evidence_dir(logs_dir: Path, job_id: str) -> str:
    """Where the worker keeps one job's logs, screenshot and page source."""
    return str(logs_dir / "jobs" / job_id)


def build_failures(snapshot: QueueSnapshot, logs_dir: Path) -> tuple[FailureGroup, ...]:
    """Failed and review jobs grouped by error type, biggest group first, most recent jobs first."""
    groups: dict[str, list[FailureStatus]] = defaultdict(list)
    recent = sorted(
        (j for j in snapshot.jobs if j.status in (JobStatus.FAILED, JobStatus.REVIEW)),
        key=lambda j: j.completed_at or j.claimed_at or datetime.min.astimezone(),
        reverse=True,
    )
    for job in recent:
        kind = job.error_type or ("review" if job.status is JobStatus.REVIEW else "unknown")
        groups[kind].append(
            FailureStatus(
                job.job_id, job.account, job.status.value, job.error, evidence_dir(logs_dir, job.job_id)
            )
        )
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return tuple(FailureGroup(kind, len(items), tuple(items[:FAILURES_PER_TYPE])) for kind, items in ordered)


def build_workers(
    heartbeats: dict[int, Heartbeat], alive: set[int], now: datetime
) -> tuple[WorkerStatus, ...]:
    """Every worker that left a heartbeat, alive or not (`alive`: ids whose recorded process runs)."""
    return tuple(
        WorkerStatus(wid, hb.process.pid, wid in alive, hb.step, hb.job_id, _age(now, hb.heartbeat_at))
        for wid, hb in sorted(heartbeats.items())
    )


def build_status(
    snapshot: QueueSnapshot,
    now: datetime,
    *,
    daily_limit: int,
    timezone: str | None,
    progress_file: Path,
    logs_dir: Path,
    heartbeats: dict[int, Heartbeat],
    alive_workers: set[int],
    run: RunInfo | None,
    run_active: bool,
    phones: PhonesView | None,
) -> StatusReport:
    """The whole report; every input is plain data gathered by the caller."""
    accounts = build_accounts(snapshot, now, daily_limit, timezone)
    return StatusReport(
        generated_at=now,
        progress_file=str(progress_file),
        total=len(snapshot.jobs),
        counts={status.value: n for status, n in snapshot.counts().items()},
        accounts=accounts,
        claims=build_claims(snapshot, heartbeats, now),
        retries=build_retries(snapshot, accounts),
        failures=build_failures(snapshot, logs_dir),
        workers=build_workers(heartbeats, alive_workers, now),
        run=RunStatus(
            active=run_active,
            pid=run.process.pid if run and run_active else None,
            started_at=run.started_at if run and run_active else None,
            simulate=bool(run and run.simulate and run_active),
        ),
        phones=phones,
    )
