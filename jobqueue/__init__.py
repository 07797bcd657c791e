"""jobqueue: the work queue of parallel-orchestrator (pure rules + a file-locked CSV store).

Import everything from here; see docs/design.md ("jobqueue public API") for the contract.
"""

from jobqueue.backoff import backoff_ceiling_s, retry_delay
from jobqueue.claim import has_due_job, is_due, lease_expired, next_claim
from jobqueue.csvstore import CsvJobStore
from jobqueue.daily import day_bounds, local_day, successes_on_day
from jobqueue.errors import (
    CorruptProgressFile,
    DuplicateJobs,
    FileBusy,
    IllegalTransition,
    LockTimeout,
    LostClaim,
    QueueError,
    QueueUnavailable,
    UnknownJob,
)
from jobqueue.model import (
    AccountBlock,
    AccountCooldown,
    AccountsState,
    Claim,
    Job,
    JobStatus,
    NewJob,
    Outcome,
    OutcomeKind,
    QueueSnapshot,
    SeedResult,
    Settlement,
)
from jobqueue.policy import BackoffPolicy, QueuePolicy
from jobqueue.store import JobStore, MemoryJobStore

__all__ = [
    "AccountBlock",
    "AccountCooldown",
    "AccountsState",
    "BackoffPolicy",
    "Claim",
    "CorruptProgressFile",
    "CsvJobStore",
    "DuplicateJobs",
    "FileBusy",
    "IllegalTransition",
    "Job",
    "JobStatus",
    "JobStore",
    "LockTimeout",
    "LostClaim",
    "MemoryJobStore",
    "NewJob",
    "Outcome",
    "OutcomeKind",
    "QueueError",
    "QueuePolicy",
    "QueueSnapshot",
    "QueueUnavailable",
    "SeedResult",
    "Settlement",
    "UnknownJob",
    "backoff_ceiling_s",
    "day_bounds",
    "has_due_job",
    "is_due",
    "lease_expired",
    "local_day",
    "next_claim",
    "retry_delay",
    "successes_on_day",
]
