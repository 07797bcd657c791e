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
from jobqueue.gate import AccountFacts, account_gate
from jobqueue.model import AccountsState, Job, JobStatus
from jobqueue.policy import QueuePolicy

_CANDIDATE = (JobStatus.PENDING, JobStatus.RETRYING)


class ClaimIndex:
    """Per account: claimed count, successes per local day, claim times, claimable rows in order."""

    def __init__(self, jobs: Sequence[Job], timezone: str | None) -> None:
        self.timezone = timezone
        self.busy: Counter[str] = Counter()
        self.success_days: Counter[tuple[str, date]] = Counter()
        self.claim_times: defaultdict[str, Counter[datetime]] = defaultdict(Counter)
        self.candidates: defaultdict[str, list[int]] = defaultdict(list)
        self._last_claim: dict[str, datetime] = {}  # max of claim_times, dropped when that max goes
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
        if job.status is JobStatus.CLAIMED:
            self.busy[account] += sign
        elif job.status is JobStatus.SUCCESS and job.completed_at is not None:
            self.success_days[(account, local_day(job.completed_at, self.timezone))] += sign
        elif job.status in _CANDIDATE:
            positions = self.candidates[account]
            if sign > 0:
                bisect.insort(positions, position)
            else:
                del positions[bisect.bisect_left(positions, position)]
        if job.claimed_at is not None:
            times = self.claim_times[account]
            times[job.claimed_at] += sign
            if times[job.claimed_at] <= 0:
                del times[job.claimed_at]
            last = self._last_claim.get(account)
            if sign < 0 and last == job.claimed_at:
                del self._last_claim[account]
            elif sign > 0 and last is not None and job.claimed_at > last:
                self._last_claim[account] = job.claimed_at

    def last_claim(self, account: str) -> datetime:
        """The latest ``claimed_at`` among the account's rows (``NEVER`` if none)."""
        last = self._last_claim.get(account)
        if last is None:
            times = self.claim_times.get(account)
            last = self._last_claim[account] = max(times) if times else NEVER
        return last

    def _first_due(self, jobs: Sequence[Job], account: str, now: datetime) -> int | None:
        return next((p for p in self.candidates[account] if is_due(jobs[p], now)), None)

    def facts(self, account: str, today: date) -> AccountFacts:
        """The gate's facts about ``account`` on the local day ``today``."""
        return AccountFacts(
            claimed=max(0, self.busy[account]), successes_today=self.success_days[(account, today)]
        )

    def _eligible(
        self, account: str, today: date, accounts: AccountsState, now: datetime, policy: QueuePolicy
    ) -> bool:
        return account_gate(account, self.facts(account, today), accounts, now, policy).open

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
        today = local_day(now, self.timezone)
        best: tuple[int, datetime, int] | None = None
        for account, positions in self.candidates.items():
            if not positions or not self._eligible(account, today, accounts, now, policy):
                continue
            first = self._first_due(jobs, account, now)
            if first is None:
                continue
            if account == prefer_account:
                return jobs[first]
            key = (self.success_days[(account, today)], self.last_claim(account), first)
            if best is None or key < best:
                best = key
        return None if best is None else jobs[best[2]]

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
        today = local_day(now, self.timezone)
        eligible = self._eligible(account, today, accounts, now, policy)
        return eligible and self._first_due(jobs, account, now) is not None
