"""The account gate: may a job of this account be claimed now, and if not, why and until when (pure).

One predicate for every reader of the rule: the claim rule (``jobqueue.claim``), the incremental
claim index (``jobqueue.claimindex``) and the outlook (``jobqueue.outlook``: the run's exit rule,
``--status``). An account's gate is open when it is not blocked, not cooling down after
infrastructure failures, holds no claimed job, and has fewer successes than the daily limit on
today's calendar day in the policy timezone. The facts about the account's jobs (claims and
successes today) are counted by the caller, who reads the jobs in its own way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from jobqueue.daily import day_bounds, local_day
from jobqueue.model import AccountsState, Job, JobStatus
from jobqueue.policy import QueuePolicy


class WaitReason(StrEnum):
    """Why an account's due jobs cannot be claimed now, in the order the gate checks them."""

    BLOCKED = "blocked"  # an account problem: only the operator's `unblock` opens it
    COOLDOWN = "cooldown"  # consecutive infrastructure failures: opens at the cooldown's end
    BUSY = "busy"  # one of its jobs is claimed: opens when that claim ends
    DAILY_LIMIT = "daily_limit"  # opens at the next local midnight


@dataclass(frozen=True)
class AccountFacts:
    """What the jobs say about one account at one instant."""

    claimed: int = 0
    successes_today: int = 0


@dataclass(frozen=True)
class Gate:
    """The account's gate at one instant: open, or closed for ``waiting_for`` until ``opens_at``.

    ``opens_at`` is None when the gate is open or when only an event opens it (a claim ending, the
    operator's unblock).
    """

    waiting_for: WaitReason | None = None
    opens_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.waiting_for is None


OPEN = Gate()


def account_gate(
    account: str, facts: AccountFacts, accounts: AccountsState, now: datetime, policy: QueuePolicy
) -> Gate:
    """The gate of ``account`` at ``now`` (see the module docstring for the rule)."""
    if account in accounts.blocked:
        return Gate(WaitReason.BLOCKED)
    cooldown = accounts.cooldowns.get(account)
    if cooldown is not None and cooldown.until > now:
        return Gate(WaitReason.COOLDOWN, cooldown.until)
    if facts.claimed > 0:
        return Gate(WaitReason.BUSY)
    if facts.successes_today >= policy.daily_limit:
        return Gate(WaitReason.DAILY_LIMIT, day_bounds(now, policy.timezone)[1])
    return OPEN


def account_facts(jobs: Iterable[Job], now: datetime, policy: QueuePolicy) -> dict[str, AccountFacts]:
    """The facts of every assigned account that appears in ``jobs``."""
    today = local_day(now, policy.timezone)
    claimed: dict[str, int] = {}
    successes: dict[str, int] = {}
    for job in jobs:
        account = job.account
        if not account:
            continue
        claimed.setdefault(account, 0)
        successes.setdefault(account, 0)
        if job.status is JobStatus.CLAIMED:
            claimed[account] += 1
        elif (
            job.status is JobStatus.SUCCESS
            and job.completed_at is not None
            and local_day(job.completed_at, policy.timezone) == today
        ):
            successes[account] += 1
    return {a: AccountFacts(claimed=claimed[a], successes_today=successes[a]) for a in claimed}
