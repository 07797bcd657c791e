"""Plain data of the queue: statuses, outcomes, jobs, claims and account state (no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

ERROR_TEXT_LIMIT = 500


class JobStatus(StrEnum):
    """Where a job is in its life; the values are what the CSV holds."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SUCCESS = "success"
    RETRYING = "retrying"
    FAILED = "failed"
    REVIEW = "review"


class OutcomeKind(StrEnum):
    """What a worker's attempt came to; decides the job's next state (see docs/design.md)."""

    SUCCESS = "success"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    ACCOUNT = "account"
    INFRASTRUCTURE = "infrastructure"


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt: kind, a short machine code and a human message (no secrets)."""

    kind: OutcomeKind
    error_type: str = ""
    message: str = ""
    post_url: str = ""  # a SUCCESS's link to the post, when the executor learns one (GeeLark's shareLink)


@dataclass(frozen=True)
class Job:
    """One posting job, one CSV row. Datetimes are timezone-aware.

    ``attempts`` counts attempts that were the job's fault; ``infra_attempts`` counts
    INFRASTRUCTURE outcomes (bounded by the policy's infra budget). ``claim_token``,
    ``worker_pid`` and ``checkpoint_at`` describe the current claim and are store-only columns.
    ``external_id`` names what the irreversible step made outside (a GeeLark task: its name until
    its id is known, then the id); ``post_url`` is the published post's link when known. ``host``
    names the PC whose worker claimed it (several PCs on one PostgreSQL queue).
    """

    job_id: str
    account: str
    video_path: str
    caption: str
    status: JobStatus = JobStatus.PENDING
    worker_id: int | None = None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    error: str = ""
    attempts: int = 0
    max_attempts: int = 3
    retry_at: datetime | None = None
    error_type: str = ""
    claim_token: str = ""
    worker_pid: int | None = None
    checkpoint_at: datetime | None = None
    infra_attempts: int = 0
    not_before: datetime | None = None  # the plan's earliest time (posting-scheduler spreads posts)
    external_id: str = ""
    post_url: str = ""
    host: str = ""  # the PC whose worker claimed it last ([queue] host; "" for a one-PC CSV queue)


@dataclass(frozen=True)
class Claim:
    """A worker's fenced hold on one job; present it to checkpoint, record or release."""

    job: Job
    token: str
    worker_id: int


@dataclass(frozen=True)
class Settlement:
    """What an executor's final word means for a job in review (``JobStore.settle_review``).

    ``posted`` False: the executor says nothing was published, so the job is judged as if its
    checkpoint had never been reached: ``outcome`` applies as to any attempt, or, when None, the
    job is given back like a stopped claim (no attempt used; ``reason`` is its error text).
    ``posted`` True: the post may exist; a SUCCESS ends the review, anything else keeps the job in
    review with the new reason. ``external_id`` replaces the job's (a task id learned by name).
    """

    outcome: Outcome | None
    posted: bool
    external_id: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.outcome is None and self.posted:
            raise ValueError("a settlement that may have posted needs an outcome")


@dataclass(frozen=True)
class NewJob:
    """A job to add with ``seed``; an empty account means unassigned (never claimable)."""

    job_id: str
    account: str
    video_path: str
    caption: str
    max_attempts: int = 3
    not_before: datetime | None = None  # the plan's earliest time (posting-scheduler spreads posts)


@dataclass(frozen=True)
class SeedResult:
    """How many seeded jobs were new and how many job_ids were already present."""

    added: int
    already_present: int


@dataclass(frozen=True)
class AccountBlock:
    """An account blocked by an ACCOUNT outcome (or the operator) until ``unblock_account``."""

    account: str
    reason: str
    job_id: str
    blocked_at: datetime


@dataclass(frozen=True)
class AccountCooldown:
    """An account resting after consecutive INFRASTRUCTURE failures, until ``until``."""

    account: str
    reason: str
    until: datetime


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class AccountsState:
    """Per-account state beside the jobs: blocks, cooldowns, consecutive infra failures."""

    blocked: Mapping[str, AccountBlock] = field(default_factory=dict)
    cooldowns: Mapping[str, AccountCooldown] = field(default_factory=dict)
    infra_streaks: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocked", _frozen(self.blocked))
        object.__setattr__(self, "cooldowns", _frozen(self.cooldowns))
        object.__setattr__(self, "infra_streaks", _frozen(self.infra_streaks))

    def is_available(self, account: str, now: datetime) -> bool:
        """True if the account is neither blocked nor cooling down at ``now``."""
        if account in self.blocked:
            return False
        cooldown = self.cooldowns.get(account)
        return cooldown is None or cooldown.until <= now


@dataclass(frozen=True)
class QueueSnapshot:
    """A read-only picture of the queue: jobs in file order and the accounts' state."""

    jobs: tuple[Job, ...]
    accounts: AccountsState = field(default_factory=AccountsState)

    @property
    def blocked(self) -> Mapping[str, AccountBlock]:
        return self.accounts.blocked

    @property
    def cooldowns(self) -> Mapping[str, AccountCooldown]:
        return self.accounts.cooldowns

    def counts(self) -> dict[JobStatus, int]:
        """Number of jobs per status (every status present, zero included)."""
        found = Counter(job.status for job in self.jobs)
        return {status: found.get(status, 0) for status in JobStatus}

    def job(self, job_id: str) -> Job | None:
        """The job with that id, or None."""
        return next((job for job in self.jobs if job.job_id == job_id), None)
