"""When is there work? Pure answers from one queue snapshot: the run loop's exit rule and progress line.

A pending or retrying job is *due* when its account is assigned, not blocked, not cooling down, has
no job claimed right now, is under its daily limit, and (retrying) its `retry_at` has passed. Jobs
held back only by the daily limit become due tomorrow, which is outside a run unless `--follow`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from jobqueue.daily import day_bounds, successes_on_day
from jobqueue.model import Job, JobStatus, QueueSnapshot

WAITING = frozenset({JobStatus.PENDING, JobStatus.RETRYING})
DONE = frozenset({JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.REVIEW})


@dataclass(frozen=True)
class Outlook:
    """What the queue holds for the run, at one instant."""

    due_now: int
    due_accounts: frozenset[str]  # accounts with a job due now and none claimed
    claimed: int
    next_due_at: datetime | None  # earliest time a waiting job becomes due (today), None if none will
    held_by_daily_limit: int
    blocked: int
    unassigned: int

    def finished(self) -> bool:
        """Nothing is due, nothing is claimed and nothing will become due within the run."""
        return self.due_now == 0 and self.claimed == 0 and self.next_due_at is None


@dataclass(frozen=True)
class AccountGate:
    """Why an account's waiting jobs can or cannot be claimed at `now`."""

    blocked: bool
    cooling_until: datetime | None
    limit_reached: bool
    busy: bool  # a job of the account is claimed


def account_gates(
    snapshot: QueueSnapshot, now: datetime, daily_limit: int, timezone: str | None
) -> dict[str, AccountGate]:
    """The gate of every account that appears in the snapshot."""
    done_today = successes_on_day(snapshot.jobs, now, timezone)
    busy = {j.account for j in snapshot.jobs if j.status is JobStatus.CLAIMED}
    gates: dict[str, AccountGate] = {}
    for account in {j.account for j in snapshot.jobs if j.account}:
        cooldown = snapshot.cooldowns.get(account)
        in_flight = 1 if account in busy else 0
        gates[account] = AccountGate(
            blocked=account in snapshot.blocked,
            cooling_until=cooldown.until if cooldown and cooldown.until > now else None,
            limit_reached=done_today[account] + in_flight >= daily_limit,
            busy=account in busy,
        )
    return gates


def job_due_at(job: Job, gate: AccountGate | None, now: datetime) -> datetime | None:
    """When this waiting job becomes claimable (`now` if it is), None if not within the run."""
    if job.status not in WAITING or gate is None or gate.blocked or gate.limit_reached:
        return None
    due = now
    if job.status is JobStatus.RETRYING and job.retry_at is not None and job.retry_at > due:
        due = job.retry_at
    if gate.cooling_until is not None and gate.cooling_until > due:
        due = gate.cooling_until
    return due


def work_outlook(snapshot: QueueSnapshot, now: datetime, daily_limit: int, timezone: str | None) -> Outlook:
    """Counts and the next due time; one pass over the jobs (fast at 10k rows)."""
    gates = account_gates(snapshot, now, daily_limit, timezone)
    _, day_end = day_bounds(now, timezone)
    due_accounts: set[str] = set()
    counts: Counter[str] = Counter()
    next_due: datetime | None = None
    for job in snapshot.jobs:
        if job.status is JobStatus.CLAIMED:
            counts["claimed"] += 1
            continue
        if job.status not in WAITING:
            continue
        gate = gates.get(job.account)
        if gate is None:
            counts["unassigned"] += 1
            continue
        if gate.blocked:
            counts["blocked"] += 1
            continue
        if gate.limit_reached and not gate.busy:
            counts["limit"] += 1
            continue
        at = job_due_at(job, gate, now)
        if gate.busy or at is None:
            continue  # its account is working; the claim's end decides (the claim keeps the run alive)
        if at <= now:
            counts["due"] += 1
            due_accounts.add(job.account)
        elif at < day_end and (next_due is None or at < next_due):
            next_due = at
    return Outlook(
        due_now=counts["due"],
        due_accounts=frozenset(due_accounts),
        claimed=counts["claimed"],
        next_due_at=next_due,
        held_by_daily_limit=counts["limit"],
        blocked=counts["blocked"],
        unassigned=counts["unassigned"],
    )
