"""The claim rule: which job a worker takes next (pure).

A job is due if it is pending, or retrying with ``retry_at <= now``, has an account (an empty
account means unassigned: never claimable) and its ``not_before`` (the plan's time) has come. Its
account is eligible if its gate is open (``jobqueue.gate``: not blocked, not cooling down, no
claimed job, and the account's posting rules allow a post now).

Fairness order among eligible accounts: ``prefer_account`` first (a worker already running that
account's phone), then fewest posts today, then oldest last claim (never claimed first), then
the file position of the account's first waiting job (pending or retrying, due or not: a value
that holds between claims, so a database keeps it per account). Within an account, jobs go in file
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from jobqueue.gate import account_facts, account_gate
from jobqueue.model import AccountsState, Job, JobStatus
from jobqueue.policy import QueuePolicy

NEVER = datetime.min.replace(tzinfo=UTC)


def is_due(job: Job, now: datetime) -> bool:
    """True if the job may be claimed at ``now`` as far as the job itself is concerned."""
    if not job.account or (job.not_before is not None and job.not_before > now):
        return False
    if job.status is JobStatus.PENDING:
        return True
    return job.status is JobStatus.RETRYING and (job.retry_at is None or job.retry_at <= now)


def next_claim(
    jobs: Sequence[Job],
    accounts: AccountsState,
    now: datetime,
    policy: QueuePolicy,
    *,
    prefer_account: str | None = None,
) -> Job | None:
    """The job to claim next under the rule above, or None if nothing is claimable."""
    facts = account_facts(jobs, now, policy)
    last_claim: dict[str, datetime] = {}
    first_due: dict[str, int] = {}
    first_waiting: dict[str, int] = {}
    for position, job in enumerate(jobs):
        account = job.account
        if not account:
            continue
        if account not in first_waiting and job.status in (JobStatus.PENDING, JobStatus.RETRYING):
            first_waiting[account] = position
        if account not in first_due and is_due(job, now):
            first_due[account] = position
        claimed_at = job.claimed_at
        if claimed_at is not None and claimed_at > last_claim.get(account, NEVER):
            last_claim[account] = claimed_at
    eligible = [a for a in first_due if account_gate(a, facts[a], accounts, now, policy).open]
    if not eligible:
        return None
    if prefer_account in eligible:
        return jobs[first_due[prefer_account]]
    chosen = min(eligible, key=lambda a: (facts[a].posts_today, last_claim.get(a, NEVER), first_waiting[a]))
    return jobs[first_due[chosen]]


def has_due_job(
    jobs: Sequence[Job], accounts: AccountsState, account: str, now: datetime, *, policy: QueuePolicy
) -> bool:
    """True if ``account`` could be claimed now and has a due job (a worker keeps its phone then)."""
    if not account:
        return False
    return next_claim([job for job in jobs if job.account == account], accounts, now, policy) is not None


def lease_expired(heartbeat_at: datetime | None, now: datetime, policy: QueuePolicy) -> bool:
    """True if a worker's last heartbeat is older than the policy's claim lease (or missing)."""
    return heartbeat_at is None or (now - heartbeat_at).total_seconds() > policy.claim_lease_s
