"""An incremental per-account view of a job list that answers the claim rule without a full scan.

``ClaimIndex.next_claim`` returns exactly what ``claim.next_claim`` returns for the same jobs (a
property test holds them equal); the stores keep one index per cached table and update it per row.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from jobqueue.claim import NEVER, is_due
from jobqueue.daily import local_day
from jobqueue.gate import POSTED, AccountFacts, account_gate
from jobqueue.model import AccountsState, Job, JobStatus
from jobqueue.policy import QueuePolicy

_CANDIDATE = (JobStatus.PENDING, JobStatus.RETRYING)


class _Latest:
    """A multiset of datetimes per account that answers "the latest one" after adds and removals."""

    def __init__(self) -> None:
        self._times: defaultdict[str, Counter[datetime]] = defaultdict(Counter)
        self._latest: dict[str, datetime] = {}  # cached max; dropped when that max is removed

    def change(self, account: str, moment: datetime, sign: int) -> None:
        times = self._times[account]
        times[moment] += sign
        if times[moment] <= 0:
            del times[moment]
        latest = self._latest.get(account)
        if sign < 0 and latest == moment:
            del self._latest[account]
        elif sign > 0 and latest is not None and moment > latest:
            self._latest[account] = moment

    def latest(self, account: str) -> datetime | None:
        latest = self._latest.get(account)
        if latest is None:
            times = self._times.get(account)
            if not times:
                return None
            latest = self._latest[account] = max(times)
        return latest


class ClaimIndex:
    """Per account: claimed count, posts per local day, last post, claim times, claimable rows."""

    def __init__(self, jobs: Sequence[Job], policy: QueuePolicy) -> None:
        self.policy = policy
        self.busy: Counter[str] = Counter()
        self.post_days: Counter[tuple[str, date]] = Counter()
        self.posts = _Latest()
        self.claims = _Latest()
        self.candidates: defaultdict[str, list[int]] = defaultdict(list)
        for position, job in enumerate(jobs):
            self.add(position, job)

    def add(self, position: int, job: Job) -> None:
        """Count ``job`` at ``position``."""
        self._count(position, job, +1)

    def replace(self, position: int, old: Job, new: Job) -> None:
        """The row at ``position`` changed from ``old`` to ``new``."""
        if old is not new:
            self._count(position, old, -1)
            self._count(position, new, +1)

    def _count(self, position: int, job: Job, sign: int) -> None:
        account = job.account
        if not account:
            return
        completed = job.completed_at
        if job.status is JobStatus.CLAIMED:
            self.busy[account] += sign
        elif job.status in POSTED and completed is not None:
            self.post_days[(account, self._day(account, completed))] += sign
            self.posts.change(account, completed, sign)
        elif job.status in _CANDIDATE:
            positions = self.candidates[account]
            if sign > 0:
                bisect.insort(positions, position)
            else:
                del positions[bisect.bisect_left(positions, position)]
        if job.claimed_at is not None:
            self.claims.change(account, job.claimed_at, sign)

    def _day(self, account: str, moment: datetime) -> date:
        return local_day(moment, self.policy.rules_for(account).timezone)

    def last_claim(self, account: str) -> datetime:
        """The latest ``claimed_at`` among the account's rows (``NEVER`` if none)."""
        return self.claims.latest(account) or NEVER

    def _first_due(self, jobs: Sequence[Job], account: str, now: datetime) -> int | None:
        return next((p for p in self.candidates[account] if is_due(jobs[p], now)), None)

    def facts(self, account: str, now: datetime) -> AccountFacts:
        """The gate's facts about ``account`` at ``now``."""
        return AccountFacts(
            claimed=max(0, self.busy[account]),
            posts_today=self.post_days[(account, self._day(account, now))],
            last_post_at=self.posts.latest(account),
        )

    def _open(self, account: str, accounts: AccountsState, now: datetime, policy: QueuePolicy) -> bool:
        return account_gate(account, self.facts(account, now), accounts, now, policy).open

    def next_claim(
        self,
        jobs: Sequence[Job],
        accounts: AccountsState,
        now: datetime,
        policy: QueuePolicy,
        *,
        prefer_account: str | None = None,
    ) -> Job | None:
        """Same contract and result as ``jobqueue.claim.next_claim``."""
        best: tuple[int, datetime, int] | None = None
        chosen = 0
        for account, positions in self.candidates.items():
            if not positions or not self._open(account, accounts, now, policy):
                continue
            first = self._first_due(jobs, account, now)
            if first is None:
                continue
            if account == prefer_account:
                return jobs[first]
            key = (self.post_days[(account, self._day(account, now))], self.last_claim(account), positions[0])
            if best is None or key < best:
                best, chosen = key, first
        return None if best is None else jobs[chosen]

    def has_due_job(
        self,
        jobs: Sequence[Job],
        accounts: AccountsState,
        account: str,
        now: datetime,
        *,
        policy: QueuePolicy,
    ) -> bool:
        """Same contract and result as ``jobqueue.claim.has_due_job``."""
        if not account or not self.candidates.get(account):
            return False
        return self._open(account, accounts, now, policy) and self._first_due(jobs, account, now) is not None
