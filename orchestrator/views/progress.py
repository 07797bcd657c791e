"""The run's progress line, a pure function of one queue snapshot.

`Progress: 3/22 done (2 ok, 1 failed), 4 waiting (2 retry in 4m 10s, 2 daily limit in 11h 50m),
2 active: W0 DMx123 @phone1 (5m 12s), W1 ...`

The line, the live table and the batch report count the same jobs: those of the run (`in_run`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from jobqueue.gate import Gate, WaitReason
from jobqueue.model import Job, JobStatus, QueueSnapshot
from jobqueue.outlook import account_gates
from jobqueue.policy import QueuePolicy

MAX_ACTIVE_SHOWN = 4
OPEN = frozenset({JobStatus.PENDING, JobStatus.RETRYING, JobStatus.CLAIMED})
WAITING = frozenset({JobStatus.PENDING, JobStatus.RETRYING})


class WaitKind(StrEnum):
    """Why a waiting job is not being worked on, in the order the console lists them."""

    DUE = "due"  # a claim would succeed now: the next free worker takes it
    QUEUED = "queued"  # its account is busy with another job (one phone, one job at a time)
    RETRY = "retry"  # retrying, due at its retry time
    COOLING = "cooling"  # its account's phone failed several times in a row
    DAILY_LIMIT = "daily limit"  # its account posted its daily limit today
    WINDOW = "posting window"  # outside its account's posting window
    SPACING = "spacing"  # too soon after its account's last post
    SCHEDULED = "scheduled"  # not before its planned time (not_before)
    BLOCKED = "blocked"  # an account problem: only `unblock` opens it
    UNASSIGNED = "unassigned"  # no account yet


_KIND_OF_REASON = {
    WaitReason.BLOCKED: WaitKind.BLOCKED,
    WaitReason.COOLDOWN: WaitKind.COOLING,
    WaitReason.BUSY: WaitKind.QUEUED,
    WaitReason.DAILY_LIMIT: WaitKind.DAILY_LIMIT,
    WaitReason.WINDOW: WaitKind.WINDOW,
    WaitReason.SPACING: WaitKind.SPACING,
}


@dataclass(frozen=True)
class WaitGroup:
    kind: WaitKind
    count: int
    until: datetime | None  # the earliest moment one of them can go; None: now, or only on an event


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
    waiting_groups: tuple[WaitGroup, ...] = ()  # empty when no policy was given
    at: datetime | None = None  # the moment of the snapshot

    @property
    def done(self) -> int:
        return self.success + self.failed + self.review

    @property
    def waiting(self) -> int:
        return self.pending + self.retrying


def in_run(job: Job, started_at: datetime | None) -> bool:
    """Touched by the run that started at `started_at` (claimed or finished since) or still open.

    Without a run (None) every job counts."""
    if started_at is None or job.status in OPEN:
        return True
    return any(t is not None and t >= started_at for t in (job.claimed_at, job.completed_at))


def wait_kind(job: Job, gate: Gate | None, now: datetime) -> tuple[WaitKind, datetime | None]:
    """Why one waiting job waits, and until when (None: it may go now, or only an event opens it)."""
    if gate is None:
        return WaitKind.UNASSIGNED, None
    if gate.waiting_for is not None:
        return _KIND_OF_REASON[gate.waiting_for], gate.opens_at
    if job.status is JobStatus.RETRYING and job.retry_at is not None and job.retry_at > now:
        return WaitKind.RETRY, job.retry_at
    if job.not_before is not None and job.not_before > now:
        return WaitKind.SCHEDULED, job.not_before
    return WaitKind.DUE, None


def wait_groups(jobs: list[Job], gates: Mapping[str, Gate], now: datetime) -> tuple[WaitGroup, ...]:
    """The waiting jobs grouped by why they wait, each group with its earliest opening."""
    counts: Counter[WaitKind] = Counter()
    until: dict[WaitKind, datetime] = {}
    last: tuple[Job, WaitKind] | None = None
    for job in jobs:
        if job.status not in WAITING:
            continue
        if last is not None and job is last[0]:  # the same job object again (``jobqueue.digest``)
            counts[last[1]] += 1
            continue
        kind, at = wait_kind(job, gates.get(job.account) if job.account else None, now)
        counts[kind] += 1
        last = (job, kind)
        if at is not None and (kind not in until or at < until[kind]):
            until[kind] = at
    return tuple(WaitGroup(kind, counts[kind], until.get(kind)) for kind in WaitKind if counts[kind])


def progress_view(
    snapshot: QueueSnapshot,
    now: datetime,
    *,
    policy: QueuePolicy | None = None,
    started_at: datetime | None = None,
    gates: Mapping[str, Gate] | None = None,
) -> ProgressView:
    """Counts and the claimed jobs (oldest first) of the run's jobs; with `policy`, why jobs wait.
    `gates`: the accounts' gates at `now` when the caller has them already."""
    jobs = [j for j in snapshot.jobs if in_run(j, started_at)]
    counts = Counter(j.status for j in jobs)
    active = sorted(
        (
            ActiveJob(
                worker_id=job.worker_id,
                job_id=job.job_id,
                account=job.account,
                age_s=max(0.0, (now - job.claimed_at).total_seconds()) if job.claimed_at else 0.0,
            )
            for job in jobs
            if job.status is JobStatus.CLAIMED
        ),
        key=lambda a: -a.age_s,
    )
    if gates is None and policy is not None:
        gates = account_gates(snapshot, now, policy)
    groups = wait_groups(jobs, gates, now) if gates is not None else ()
    return ProgressView(
        total=len(jobs),
        success=counts[JobStatus.SUCCESS],
        failed=counts[JobStatus.FAILED],
        review=counts[JobStatus.REVIEW],
        retrying=counts[JobStatus.RETRYING],
        pending=counts[JobStatus.PENDING],
        active=tuple(active),
        waiting_groups=groups,
        at=now,
    )


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


def format_until(moment: datetime | None, now: datetime) -> str:
    """`in 21h 50m (09:50)` (the clock time in the machine's zone, with the date when not today)."""
    if moment is None:
        return ""
    if moment <= now:
        return "now"
    local = moment.astimezone()
    clock = f"{local:%H:%M}" if local.date() == now.astimezone().date() else f"{local:%Y-%m-%d %H:%M}"
    return f"in {format_duration((moment - now).total_seconds())} ({clock})"


def wait_group_text(group: WaitGroup, now: datetime) -> str:
    """`2 retry in 4m 10s (14:05)`, `1 blocked (unblock ACCOUNT)`, `3 due`."""
    text = f"{group.count} {group.kind}"
    if group.kind is WaitKind.BLOCKED:
        return text + " (run: unblock ACCOUNT)"
    when = format_until(group.until, now)
    return f"{text} {when}" if when and when != "now" else text


def waiting_text(view: ProgressView) -> str:
    """`4 waiting (1 due, 2 retry in 4m 10s (14:05), 1 daily limit in 11h 50m (00:00))`, or ``."""
    if not view.waiting:
        return ""
    if not view.waiting_groups or view.at is None:
        return f"{view.waiting} waiting" + (f" ({view.retrying} retrying)" if view.retrying else "")
    return f"{view.waiting} waiting ({wait_groups_text(view.waiting_groups, view.at)})"


def wait_groups_text(groups: tuple[WaitGroup, ...], now: datetime) -> str:
    """`1 due, 2 retry in 4m 10s (14:05)`."""
    return ", ".join(wait_group_text(g, now) for g in groups)


def job_label(job_id: str, account: str) -> str:
    """`job @account`, or just the job id when it already names the account (`clip_01@phone1`)."""
    return job_id if not account or job_id.endswith(f"@{account}") else f"{job_id} @{account}"


def ended_text(view: ProgressView) -> str:
    """`2 ok, 1 failed` (failed and review only when there are some)."""
    outcome = [f"{view.success} ok"]
    if view.failed:
        outcome.append(f"{view.failed} failed")
    if view.review:
        outcome.append(f"{view.review} review")
    return ", ".join(outcome)


def outcome_text(view: ProgressView) -> str:
    """`3/22 done (2 ok, 1 failed)`."""
    return f"{view.done}/{view.total} done ({ended_text(view)})"


def progress_line(view: ProgressView) -> str:
    """One line, plain ASCII (safe on any Windows console code page)."""
    line = f"Progress: {outcome_text(view)}"
    if view.waiting:
        line += f", {waiting_text(view)}"
    line += f", {len(view.active)} active"
    if view.active:
        shown = [
            f"W{'?' if a.worker_id is None else a.worker_id} {job_label(a.job_id, a.account)}"
            f" ({format_duration(a.age_s)})"
            for a in view.active[:MAX_ACTIVE_SHOWN]
        ]
        more = len(view.active) - MAX_ACTIVE_SHOWN
        line += ": " + ", ".join(shown) + (f" +{more} more" if more > 0 else "")
    return line


SAY_WAITING_EVERY_S = 60.0


def progress_key(view: ProgressView) -> tuple[object, ...]:
    """What the progress line says, without the clock: counts, why jobs wait, which jobs are active."""
    groups = tuple((g.kind, g.count) for g in view.waiting_groups)
    return (
        view.total,
        view.done,
        view.success,
        view.failed,
        view.waiting,
        groups,
        [a.job_id for a in view.active],
    )


def progress_line_due(
    view: ProgressView, *, line: str, last_key: object, last_line: str, since_last_s: float, interval_s: float
) -> bool:
    """Print the line now? At most every `interval_s`: when what it says changed, when an active job's
    age moved on, and at least every minute (a run that only waits says what for and until when)."""
    if since_last_s < interval_s:
        return False
    moved = progress_key(view) != last_key or (bool(view.active) and line != last_line)
    return moved or since_last_s >= SAY_WAITING_EVERY_S


def nothing_to_do_text(view: ProgressView) -> str:
    """Why a run has nothing to do today, from its progress view (counted with a policy)."""
    if view.total == 0:
        return "Nothing to do: the queue has no jobs"
    if not view.waiting:
        return f"Nothing to do: all {view.total} job(s) of the queue have ended ({ended_text(view)})"
    return f"Nothing to do today: {waiting_text(view)}"
