"""The account gate: may a job of this account be claimed now, and if not, why and until when (pure).

One predicate for every reader of the rule: the claim rule (``jobqueue.claim``), the incremental
claim index (``jobqueue.claimindex``) and the outlook (``jobqueue.outlook``: the run's exit rule,
``--status``). An account's gate is open when it is not blocked, not cooling down after
infrastructure failures, holds no claimed job, and its posting rules allow a post now
(``jobqueue.posting``: under its daily limit on today's calendar day in its own timezone, inside
its posting window, at least its minimum spacing after its last post). The facts about the
account's jobs are counted by the caller, who reads the jobs in its own way.

Posts are successes and review jobs (a review job may have been posted): both count towards the
daily limit and the spacing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from jobqueue.daily import local_day
from jobqueue.model import AccountsState, Job, JobStatus
from jobqueue.policy import QueuePolicy
from jobqueue.posting import PostFacts, next_post_allowed, post_gate

POSTED = frozenset({JobStatus.SUCCESS, JobStatus.REVIEW})


class WaitReason(StrEnum):
    """Why an account's due jobs cannot be claimed now, in the order the gate checks them."""

    BLOCKED = "blocked"  # an account problem: only the operator's `unblock` opens it
    COOLDOWN = "cooldown"  # consecutive infrastructure failures: opens at the cooldown's end
    BUSY = "busy"  # one of its jobs is claimed: opens when that claim ends
    DAILY_LIMIT = "daily_limit"  # opens on the next local day (in its window)
    WINDOW = "window"  # outside its posting window: opens at the window's next start
    SPACING = "spacing"  # too soon after its last post: opens at last post + spacing


@dataclass(frozen=True)
class AccountFacts:
    """What the jobs say about one account at one instant."""

    claimed: int = 0
    posts_today: int = 0  # successes and review jobs completed on today's local day
    last_post_at: datetime | None = None


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
    rules = policy.rules_for(account)
    posting = PostFacts(facts.posts_today, facts.last_post_at)
    cooldown = accounts.cooldowns.get(account)
    if cooldown is not None and cooldown.until > now:
        return Gate(WaitReason.COOLDOWN, next_post_allowed(rules, posting, cooldown.until))
    if facts.claimed > 0:
        return Gate(WaitReason.BUSY)
    held = post_gate(rules, posting, now)
    if held is not None:
        return Gate(WaitReason(held.value), next_post_allowed(rules, posting, now))
    return OPEN


def is_post(job: Job) -> bool:
    """A job that posted, or may have (review): it counts towards the daily limit and the spacing."""
    return job.status in POSTED and job.completed_at is not None


def account_facts(jobs: Iterable[Job], now: datetime, policy: QueuePolicy) -> dict[str, AccountFacts]:
    """The facts of every assigned account that appears in ``jobs``."""
    claimed: dict[str, int] = {}
    posts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    today: dict[str, date] = {}
    for job in jobs:
        account = job.account
        if not account:
            continue
        if account not in claimed:
            claimed[account], posts[account] = 0, 0
            today[account] = local_day(now, policy.rules_for(account).timezone)
        completed = job.completed_at
        if job.status is JobStatus.CLAIMED:
            claimed[account] += 1
        elif job.status in POSTED and completed is not None:
            if local_day(completed, policy.rules_for(account).timezone) == today[account]:
                posts[account] += 1
            if account not in last or completed > last[account]:
                last[account] = completed
    return {a: AccountFacts(claimed[a], posts[a], last.get(a)) for a in claimed}
