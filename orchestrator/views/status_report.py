"""`--status` as data: a `StatusReport` built by pure functions from one queue snapshot.

The shell (`status_probe.py`) gathers the snapshot, the heartbeats, which processes are alive and
what GeeLark says; `build_status` only combines them, so it is fast at 10k rows and easy to test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from jobqueue.edits import EditNotice
from jobqueue.gate import WaitReason
from jobqueue.model import JobStatus, QueueSnapshot
from jobqueue.outlook import AccountOutlook, accounts_outlook
from jobqueue.policy import QueuePolicy
from orchestrator.views.fleet_view import FleetView, fleet_view
from orchestrator.views.phone_use import PhoneUse
from orchestrator.views.usage import AttemptTotals, GeeLarkUse, attempt_totals
from runtime.logs import job_dir
from runtime.state import Heartbeat, RunInfo

FAILURES_PER_TYPE = 5
EARLIEST = datetime.min.replace(
    tzinfo=UTC
)  # sorts before any real time (datetime.min.astimezone() can overflow)


class AccountState(StrEnum):
    """An account as `--status` names it."""

    READY = "ready"  # has a due job and its gate is open
    IDLE = "idle"  # nothing waiting
    BUSY = "busy"
    BLOCKED = "blocked"
    COOLING = "cooling"
    DAILY_LIMIT = "daily limit"
    WINDOW = "outside window"
    SPACING = "spacing"


_STATE_OF_REASON = {
    WaitReason.BLOCKED: AccountState.BLOCKED,
    WaitReason.COOLDOWN: AccountState.COOLING,
    WaitReason.BUSY: AccountState.BUSY,
    WaitReason.DAILY_LIMIT: AccountState.DAILY_LIMIT,
    WaitReason.WINDOW: AccountState.WINDOW,
    WaitReason.SPACING: AccountState.SPACING,
}


@dataclass(frozen=True)
class AccountStatus:
    account: str
    done_today: int
    daily_limit: int
    waiting: int  # pending + retrying
    state: AccountState
    why: str  # the block / cooldown reason
    next_eligible_at: datetime | None  # when its first waiting job can be claimed
    waiting_for: WaitReason | None  # why no post is allowed now (None: allowed)
    next_allowed_at: datetime | None  # when a post is allowed (now if it is; None: only after an event)
    executor: str = "appium"  # who posts its jobs: "appium" or "geelark_task" (the accounts list)


@dataclass(frozen=True)
class ClaimStatus:
    worker_id: int | None
    job_id: str
    account: str
    age_s: float
    heartbeat_age_s: float | None
    step: str
    past_checkpoint: bool
    host: str = ""  # the PC whose worker holds it (a shared PostgreSQL queue)


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
class WorkerView:
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
    phones_started: int = 0  # by this run (phones ledger)
    phones_auto_stop: int = 0  # of those, with GeeLark's energySavingMode


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
class HostStatus:
    """One PC working a shared PostgreSQL queue, as the database last heard of it."""

    host: str
    folder: str
    pid: int
    seen_s: float  # seconds since its last heartbeat
    silent: bool  # not heard of for the lease: any other host recovers its claims


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
    workers: tuple[WorkerView, ...]
    run: RunStatus
    phones: PhonesView | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    outside_edits: tuple[EditNotice, ...] = ()  # rows the queue kept against edits of the file
    fleet: FleetView | None = None  # the live table: workers, totals, phones, expected end
    attempts: AttemptTotals | None = None
    geelark: GeeLarkUse | None = None
    queue_read_s: float | None = None  # how long reading the queue took for this report
    hosts: tuple[HostStatus, ...] = ()  # a shared PostgreSQL queue: every PC working it


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then else 0.0


def account_state(outlook: AccountOutlook) -> AccountState:
    """The one word `--status` shows for an account."""
    reason = outlook.waiting_for
    if reason is not None:
        return _STATE_OF_REASON[reason]
    return AccountState.READY if outlook.waiting else AccountState.IDLE


def build_accounts(
    snapshot: QueueSnapshot,
    now: datetime,
    policy: QueuePolicy,
    executors: Mapping[str, str] | None = None,
    default_executor: str = "appium",
    outlook: Mapping[str, AccountOutlook] | None = None,
) -> tuple[AccountStatus, ...]:
    """Per account: done today / limit, what holds it back, when it can next post (the queue's
    `outlook`, computed here unless given), and its executor (`executors` by account, else
    `default_executor`)."""
    executors = executors or {}
    out = []
    if outlook is None:
        outlook = accounts_outlook(snapshot, now, policy)
    for account, view in outlook.items():
        block = snapshot.blocked.get(account)
        cooldown = snapshot.cooldowns.get(account)
        if block is not None:
            why = f"{block.reason} (job {block.job_id}); run: unblock {account}"
        elif view.waiting_for is WaitReason.COOLDOWN and cooldown is not None:
            why = cooldown.reason
        else:
            why = ""
        gate = view.gate
        out.append(
            AccountStatus(
                account=account,
                done_today=view.facts.posts_today,
                daily_limit=policy.rules_for(account).daily_limit,
                waiting=view.waiting,
                state=account_state(view),
                why=why,
                next_eligible_at=view.next_due_at,
                waiting_for=gate.waiting_for,
                next_allowed_at=now if gate.open else gate.opens_at,
                executor=executors.get(account, default_executor),
            )
        )
    return tuple(out)


def build_claims(
    snapshot: QueueSnapshot, heartbeats: dict[int, Heartbeat], now: datetime, host: str = ""
) -> tuple[ClaimStatus, ...]:
    """Claimed jobs with their worker's last heartbeat (a stale heartbeat means a stuck or dead
    worker). `host`: this PC on a shared queue; another PC's workers have no heartbeat here."""
    claims = []
    for job in snapshot.jobs:
        if job.status is not JobStatus.CLAIMED:
            continue
        local = not job.host or not host or job.host == host
        hb = heartbeats.get(job.worker_id) if job.worker_id is not None and local else None
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
                host=job.host,
            )
        )
    return tuple(sorted(claims, key=lambda c: -c.age_s))


_HOLDING = frozenset(
    {
        AccountState.BLOCKED,
        AccountState.COOLING,
        AccountState.DAILY_LIMIT,
        AccountState.WINDOW,
        AccountState.SPACING,
    }
)


def build_retries(snapshot: QueueSnapshot, accounts: tuple[AccountStatus, ...]) -> tuple[RetryStatus, ...]:
    """The retry queue, soonest first; a job held back by its account says so."""
    held = {a.account: a.state.value for a in accounts if a.state in _HOLDING}
    retries = [
        RetryStatus(
            j.job_id, j.account, j.retry_at, j.attempts, j.max_attempts, j.error_type, held.get(j.account, "")
        )
        for j in snapshot.jobs
        if j.status is JobStatus.RETRYING
    ]
    return tuple(sorted(retries, key=lambda r: (r.due_at is not None, r.due_at or EARLIEST)))


def evidence_dir(logs_dir: Path, job_id: str) -> str:
    """Where the worker keeps one job's logs, screenshot and page source."""
    return str(job_dir(logs_dir, job_id))


def build_failures(snapshot: QueueSnapshot, logs_dir: Path) -> tuple[FailureGroup, ...]:
    """Failed and review jobs grouped by error type, biggest group first, most recent jobs first."""
    groups: dict[str, list[FailureStatus]] = defaultdict(list)
    recent = sorted(
        (j for j in snapshot.jobs if j.status in (JobStatus.FAILED, JobStatus.REVIEW)),
        key=lambda j: j.completed_at or j.claimed_at or EARLIEST,
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


def build_workers(heartbeats: dict[int, Heartbeat], alive: set[int], now: datetime) -> tuple[WorkerView, ...]:
    """Every worker that left a heartbeat, alive or not (`alive`: ids whose recorded process runs)."""
    return tuple(
        WorkerView(wid, hb.process.pid, wid in alive, hb.step, hb.job_id, _age(now, hb.heartbeat_at))
        for wid, hb in sorted(heartbeats.items())
    )


def build_status(
    snapshot: QueueSnapshot,
    now: datetime,
    *,
    policy: QueuePolicy,
    progress_file: Path | str,
    logs_dir: Path,
    heartbeats: dict[int, Heartbeat],
    alive_workers: set[int],
    run: RunInfo | None,
    run_active: bool,
    phones: PhonesView | None,
    phone_starts: tuple[int, int] = (0, 0),
    outside_edits: Sequence[EditNotice] = (),
    phone_use: PhoneUse | None = None,
    geelark: GeeLarkUse | None = None,
    queue_read_s: float | None = None,
    executors: Mapping[str, str] | None = None,
    default_executor: str = "appium",
    hosts: Sequence[HostStatus] = (),
    host: str = "",
) -> StatusReport:
    """The whole report; every input is plain data gathered by the caller."""
    outlook = accounts_outlook(snapshot, now, policy)
    accounts = build_accounts(snapshot, now, policy, executors, default_executor, outlook)
    started_at = run.started_at if run is not None and run_active else None
    return StatusReport(
        generated_at=now,
        progress_file=str(progress_file),
        total=len(snapshot.jobs),
        counts={status.value: n for status, n in snapshot.counts().items()},
        accounts=accounts,
        claims=build_claims(snapshot, heartbeats, now, host if hosts else ""),
        retries=build_retries(snapshot, accounts),
        failures=build_failures(snapshot, logs_dir),
        workers=build_workers(heartbeats, alive_workers, now),
        run=RunStatus(
            active=run_active,
            pid=run.process.pid if run and run_active else None,
            started_at=run.started_at if run and run_active else None,
            simulate=bool(run and run.simulate and run_active),
            phones_started=phone_starts[0] if run_active else 0,
            phones_auto_stop=phone_starts[1] if run_active else 0,
        ),
        phones=phones,
        outside_edits=tuple(outside_edits),
        fleet=fleet_view(
            snapshot,
            now=now,
            policy=policy,
            started_at=started_at,
            heartbeats=heartbeats,
            alive=alive_workers,
            phones=phone_use,
            simulate=bool(run and run.simulate and run_active),
            gates={account: view.gate for account, view in outlook.items()},
        ),
        attempts=attempt_totals(snapshot),
        geelark=geelark,
        queue_read_s=queue_read_s,
        hosts=tuple(hosts),
    )
