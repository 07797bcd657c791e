"""The queue operations on an in-memory table of jobs; both stores run them under their lock.

A ``JobTable`` is the working copy of one locked read-modify-write: it applies the pure rules
(claim rule, transitions, account updates) and remembers which rows and whether the accounts
changed, so a store writes back only what it must.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from jobqueue import accounts as account_rules
from jobqueue import states
from jobqueue.claimindex import ClaimIndex
from jobqueue.csvrow import MAX_CELL_CHARS
from jobqueue.daily import ensure_aware
from jobqueue.errors import DuplicateJobs, LostClaim, UnknownJob
from jobqueue.model import AccountsState, Claim, Job, JobStatus, NewJob, Outcome, SeedResult, Settlement
from jobqueue.policy import QueuePolicy

IsAlive = Callable[[int, int], bool]


def new_token() -> str:
    """A fresh claim token: 12 random hex characters."""
    return secrets.token_hex(6)


class JobTable:
    """Jobs in file order plus the accounts' state; mutated by the operations below."""

    def __init__(
        self,
        jobs: list[Job],
        accounts: AccountsState,
        policy: QueuePolicy,
        rng: random.Random,
        index: dict[str, int] | None = None,
        claim_index: ClaimIndex | None = None,
    ) -> None:
        """``index`` (job_id -> position) and ``claim_index`` may be passed in when already built."""
        self.jobs = jobs
        self.accounts = accounts
        self.policy = policy
        self.rng = rng
        self.index = index if index is not None else {job.job_id: p for p, job in enumerate(jobs)}
        self.claim_index = claim_index if claim_index is not None else ClaimIndex(jobs, policy)
        self.changed: set[int] = set()
        self.accounts_changed = False

    def _put(self, position: int, job: Job) -> Job:
        self.claim_index.replace(position, self.jobs[position], job)
        self.jobs[position] = job
        self.changed.add(position)
        return job

    def _set_accounts(self, new_state: AccountsState) -> None:
        if new_state != self.accounts:
            self.accounts = new_state
            self.accounts_changed = True

    def _held(self, claim: Claim) -> int:
        position = self.index.get(claim.job.job_id)
        job = None if position is None else self.jobs[position]
        if (
            job is None
            or position is None
            or job.status is not JobStatus.CLAIMED
            or job.claim_token != claim.token
        ):
            raise LostClaim(claim.job.job_id, claim.job.account)
        return position

    def claim_next(
        self,
        worker_id: int,
        worker_pid: int,
        now: datetime,
        prefer_account: str | None = None,
        host: str = "",
    ) -> Claim | None:
        now = ensure_aware(now)
        job = self.claim_index.next_claim(
            self.jobs, self.accounts, now, self.policy, prefer_account=prefer_account
        )
        if job is None:
            return None
        token = new_token()
        claimed = self._put(
            self.index[job.job_id],
            states.claim_job(job, worker_id, worker_pid, token=token, now=now, host=host),
        )
        return Claim(claimed, token, worker_id)

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None:
        position = self._held(claim)
        self._put(position, states.checkpoint_job(self.jobs[position], ensure_aware(now), external_id))

    def attach_external_id(self, claim: Claim, external_id: str) -> Job:
        position = self._held(claim)
        return self._put(position, states.attach_external_id(self.jobs[position], external_id))

    def withdraw_checkpoint(self, claim: Claim) -> Job:
        position = self._held(claim)
        return self._put(position, states.withdraw_checkpoint_job(self.jobs[position]))

    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None:
        position = self.index.get(job_id)
        if position is None:
            raise UnknownJob([job_id])
        job = self.jobs[position]
        if job.status is not JobStatus.REVIEW or job.external_id != expect_external_id:
            return None  # no longer the review the caller judged (requeued, settled meanwhile)
        now = ensure_aware(now)
        done = self._put(
            position,
            states.settle_review_job(job, settlement, now=now, policy=self.policy, rng=self.rng),
        )
        if settlement.outcome is not None:
            self._set_accounts(
                account_rules.after_outcome(
                    self.accounts,
                    job.account,
                    job.job_id,
                    outcome=settlement.outcome,
                    now=now,
                    policy=self.policy,
                )
            )
        return done

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job:
        now = ensure_aware(now)
        position = self._held(claim)
        job = self.jobs[position]
        done = self._put(
            position, states.apply_outcome(job, outcome, now=now, policy=self.policy, rng=self.rng)
        )
        self._set_accounts(
            account_rules.after_outcome(
                self.accounts, job.account, job.job_id, outcome=outcome, now=now, policy=self.policy
            )
        )
        return done

    def release(self, claim: Claim, now: datetime, reason: str) -> Job:
        position = self._held(claim)
        return self._put(position, states.release_job(self.jobs[position], ensure_aware(now), reason))

    def recover_orphans(self, is_alive: IsAlive, now: datetime, host: str = "") -> list[Job]:
        """Claims whose worker is not alive go back. With ``host``: only that PC's claims (and
        those that name no PC); another PC's workers are not ours to judge (``recover_host``)."""
        now = ensure_aware(now)
        recovered = []
        for position, job in enumerate(self.jobs):
            if job.status is not JobStatus.CLAIMED:
                continue
            if host and job.host and job.host != host:
                continue
            if (
                job.worker_id is not None
                and job.worker_pid is not None
                and is_alive(job.worker_id, job.worker_pid)
            ):
                continue
            recovered.append(self._put(position, states.orphan_job(job, now)))
        return recovered

    def recover_host(self, host: str, now: datetime) -> list[Job]:
        """Every claim of a PC that went silent goes back as its dead workers' would."""
        now = ensure_aware(now)
        return [
            self._put(position, states.orphan_job(job, now))
            for position, job in enumerate(self.jobs)
            if job.status is JobStatus.CLAIMED and job.host == host
        ]

    def has_due_job(self, account: str, now: datetime) -> bool:
        return self.claim_index.has_due_job(
            self.jobs, self.accounts, account, ensure_aware(now), policy=self.policy
        )

    def adopt(self, jobs: Sequence[Job], accounts: AccountsState) -> int:
        """Take over another queue's jobs as they are (``import-csv``), and its accounts' blocks,
        cooldowns and streaks where this queue has none for the account. Refused as a whole
        (``DuplicateJobs``, nothing added) if any job id is already here or twice in ``jobs``."""
        ids = Counter(job.job_id for job in jobs)
        clashes = sorted(i for i, n in ids.items() if n > 1 or i in self.index)
        if clashes:
            raise DuplicateJobs(clashes)
        for job in jobs:
            self.index[job.job_id] = len(self.jobs)
            self.jobs.append(job)
            self.claim_index.add(len(self.jobs) - 1, job)
            self.changed.add(len(self.jobs) - 1)
        mine = self.accounts
        self._set_accounts(
            AccountsState(
                blocked={**accounts.blocked, **mine.blocked},
                cooldowns={**accounts.cooldowns, **mine.cooldowns},
                infra_streaks={**accounts.infra_streaks, **mine.infra_streaks},
            )
        )
        return len(jobs)

    def seed(self, new_jobs: Iterable[NewJob]) -> SeedResult:
        batch = list(new_jobs)
        for new in batch:  # validate all first: a bad job adds nothing
            if not new.job_id.strip():
                raise ValueError("a job needs a non-empty job_id")
            if new.max_attempts < 1:
                raise ValueError(f"job {new.job_id!r}: max_attempts must be >= 1")
            if len(new.caption) > MAX_CELL_CHARS:
                raise ValueError(
                    f"job {new.job_id!r}: its caption has {len(new.caption):,} characters; a progress file"
                    f" cell holds at most {MAX_CELL_CHARS:,} (and no app takes more than 4,000)"
                )
        added = present = 0
        for new in batch:
            if new.job_id in self.index:
                present += 1
                continue
            job = Job(
                new.job_id,
                new.account,
                new.video_path,
                new.caption,
                max_attempts=new.max_attempts,
                not_before=new.not_before,
            )
            self.index[new.job_id] = len(self.jobs)
            self.jobs.append(job)
            self.claim_index.add(len(self.jobs) - 1, job)
            self.changed.add(len(self.jobs) - 1)
            added += 1
        return SeedResult(added, present)

    def requeue(self, job_ids: Sequence[str] | None, statuses: Collection[JobStatus]) -> list[Job]:
        wanted = set(statuses)
        if not wanted <= states.REQUEUEABLE:
            raise ValueError(f"only {sorted(states.REQUEUEABLE)} can be requeued, not {sorted(wanted)}")
        if job_ids is None:
            positions = list(range(len(self.jobs)))
        else:
            unknown = [job_id for job_id in job_ids if job_id not in self.index]
            if unknown:
                raise UnknownJob(unknown)
            positions = sorted({self.index[job_id] for job_id in job_ids})
        return [
            self._put(position, states.requeue_job(self.jobs[position]))
            for position in positions
            if self.jobs[position].status in wanted
        ]

    def cancel_account(self, account: str, reason: str, now: datetime) -> list[Job]:
        """Its pending and retrying jobs -> failed ``cancelled``; claimed ones are left to their workers."""
        return [
            self._put(position, states.cancel_job(job, ensure_aware(now), reason))
            for position, job in enumerate(self.jobs)
            if job.account == account and job.status in states.DUE
        ]

    def update_captions(self, captions: Mapping[str, str]) -> tuple[list[Job], list[Job]]:
        """New captions by video path for jobs not yet claimed (pending, retrying); returns the
        jobs changed and those left as they were (claimed or ended: their post is under way or done)."""
        changed: list[Job] = []
        left: list[Job] = []
        for position, job in enumerate(self.jobs):
            caption = captions.get(job.video_path)
            if caption is None or caption == job.caption:
                continue
            if job.status in states.DUE:
                changed.append(self._put(position, replace(job, caption=caption)))
            else:
                left.append(job)
        return changed, left

    def block_account(self, account: str, reason: str, job_id: str, now: datetime) -> None:
        self._set_accounts(
            account_rules.block(self.accounts, account, reason, job_id=job_id, now=ensure_aware(now))
        )

    def unblock_account(self, account: str) -> bool:
        new_state, was_blocked = account_rules.unblock(self.accounts, account)
        self._set_accounts(new_state)
        return was_blocked
