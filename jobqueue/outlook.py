"""When is there work? Pure answers from one queue snapshot, on the claim rule's own gate.

``work_outlook`` is the run loop's view (its exit rule and how many workers have work);
``accounts_outlook`` is ``--status``'s view per account. Both judge accounts with
``jobqueue.gate.account_gate``, the predicate the claim rule uses, so "due now" here means exactly
"a claim would succeed now" (a property test holds them equal).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from jobqueue.daily import day_bounds
from jobqueue.gate import AccountFacts, Gate, WaitReason, account_facts, account_gate
from jobqueue.model import Job, JobStatus, QueueSnapshot
from jobqueue.policy import QueuePolicy

WAITING = frozenset({JobStatus.PENDING, JobStatus.RETRYING})
DONE = frozenset({JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.REVIEW})


# Gates a run does not wait for unless it follows (`--follow`): they open hours later, by plan.
PLANNED = frozenset({WaitReason.DAILY_LIMIT, WaitReason.WINDOW, WaitReason.SPACING})


@dataclass(frozen=True)
class Outlook:
    """What the queue holds for the run, at one instant."""

    due_now: int
    due_accounts: frozenset[str]  # accounts a claim would be given now
    claimed: int
    next_due_at: datetime | None  # earliest retry or cooldown end today; None if none will come
    held_by_daily_limit: int
    blocked: int
    unassigned: int
    held_by_window: int = 0
    held_by_spacing: int = 0
    next_allowed_at: datetime | None = None  # when the next post held by the posting rules may go
    next_allowed_account: str = ""

    def finished(self) -> bool:
        """Nothing is due, nothing is claimed and nothing will become due within the run."""
        return self.due_now == 0 and self.claimed == 0 and self.next_due_at is None


@dataclass(frozen=True)
class AccountOutlook:
    """One account at one instant: its gate, its waiting jobs and when it can next post."""

    account: str
    facts: AccountFacts
    gate: Gate
    waiting: int  # pending or retrying jobs
    next_due_at: datetime | None  # when its first waiting job can be claimed; None: not by itself

    @property
    def waiting_for(self) -> WaitReason | None:
        return self.gate.waiting_for


def job_due_at(job: Job, gate: Gate, now: datetime) -> datetime | None:
    """When this waiting job becomes claimable (``now`` if it is); None if only an event opens it."""
    if job.status not in WAITING or not job.account:
        return None
    if not gate.open and gate.opens_at is None:
        return None
    due = now
    if job.status is JobStatus.RETRYING and job.retry_at is not None and job.retry_at > due:
        due = job.retry_at
    if job.not_before is not None and job.not_before > due:
        due = job.not_before
    if gate.opens_at is not None and gate.opens_at > due:
        due = gate.opens_at
    return due


def account_gates(snapshot: QueueSnapshot, now: datetime, policy: QueuePolicy) -> dict[str, Gate]:
    """The gate of every assigned account that appears in the snapshot."""
    facts = account_facts(snapshot.jobs, now, policy)
    return {a: account_gate(a, f, snapshot.accounts, now, policy) for a, f in facts.items()}


def work_outlook(snapshot: QueueSnapshot, now: datetime, policy: QueuePolicy) -> Outlook:
    """Counts and the next due time; one pass over the jobs (fast at 10k rows)."""
    gates = account_gates(snapshot, now, policy)
    _, day_end = day_bounds(now, policy.timezone)
    due_accounts: set[str] = set()
    counts: Counter[str] = Counter()
    next_due: datetime | None = None
    planned: tuple[datetime, str] | None = None
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
        reason = gate.waiting_for
        if reason is WaitReason.BLOCKED:
            counts["blocked"] += 1
            continue
        if reason is WaitReason.BUSY:
            continue  # its account is working; the claim's end decides (the claim keeps the run alive)
        at = job_due_at(job, gate, now)
        if at is None:
            continue
        if reason in PLANNED or (job.not_before is not None and job.not_before > now):
            counts[reason.value if reason else "not_before"] += 1
            if planned is None or at < planned[0]:
                planned = (at, job.account)
        elif at <= now:
            counts["due"] += 1
            due_accounts.add(job.account)
        elif at < day_end and (next_due is None or at < next_due):
            next_due = at
    return Outlook(
        due_now=counts["due"],
        due_accounts=frozenset(due_accounts),
        claimed=counts["claimed"],
        next_due_at=next_due,
        held_by_daily_limit=counts[WaitReason.DAILY_LIMIT.value],
        blocked=counts["blocked"],
        unassigned=counts["unassigned"],
        held_by_window=counts[WaitReason.WINDOW.value],
        held_by_spacing=counts[WaitReason.SPACING.value] + counts["not_before"],
        next_allowed_at=planned[0] if planned else None,
        next_allowed_account=planned[1] if planned else "",
    )


def accounts_outlook(
    snapshot: QueueSnapshot, now: datetime, policy: QueuePolicy
) -> Mapping[str, AccountOutlook]:
    """Every assigned account of the snapshot, sorted by name."""
    facts = account_facts(snapshot.jobs, now, policy)
    gates = {a: account_gate(a, f, snapshot.accounts, now, policy) for a, f in facts.items()}
    waiting: Counter[str] = Counter()
    next_due: dict[str, datetime] = {}
    last: Job | None = None
    for job in snapshot.jobs:
        if job.status not in WAITING or job.account not in gates:
            continue
        waiting[job.account] += 1
        if job is last:  # the same job object again (``jobqueue.digest``): judged already
            continue
        last = job
        at = job_due_at(job, gates[job.account], now)
        if at is not None and (job.account not in next_due or at < next_due[job.account]):
            next_due[job.account] = at
    return {a: AccountOutlook(a, facts[a], gates[a], waiting[a], next_due.get(a)) for a in sorted(gates)}
