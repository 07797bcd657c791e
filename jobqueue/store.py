"""The store interface (``JobStore``) and the in-memory store used by tests and simulations."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from jobqueue.model import (
    AccountsState,
    Claim,
    Job,
    JobStatus,
    NewJob,
    Outcome,
    QueueSnapshot,
    SeedResult,
    Settlement,
)
from jobqueue.policy import QueuePolicy
from jobqueue.table import JobTable

DEFAULT_REQUEUE = (JobStatus.FAILED,)


@runtime_checkable
class JobStore(Protocol):
    """Every method is one atomic operation on the queue (see docs/design.md for the contract).

    ``policy`` is the rule set the store claims by; readers of a snapshot judge it with the same one.
    """

    @property
    def policy(self) -> QueuePolicy: ...

    def claim_next(
        self, worker_id: int, worker_pid: int, now: datetime, prefer_account: str | None = None
    ) -> Claim | None: ...

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None: ...

    def attach_external_id(self, claim: Claim, external_id: str, now: datetime) -> Job: ...

    def withdraw_checkpoint(self, claim: Claim, now: datetime) -> Job: ...

    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None: ...

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job: ...

    def release(self, claim: Claim, now: datetime, reason: str) -> Job: ...

    def recover_orphans(self, is_alive: Callable[[int, int], bool], now: datetime) -> list[Job]: ...

    def has_due_job(self, account: str, now: datetime) -> bool: ...

    def seed(self, jobs: Iterable[NewJob]) -> SeedResult: ...

    def requeue(
        self, job_ids: Sequence[str] | None, statuses: Collection[JobStatus] = DEFAULT_REQUEUE
    ) -> list[Job]: ...

    def cancel_account(self, account: str, reason: str, now: datetime) -> list[Job]: ...

    def update_captions(self, captions: Mapping[str, str]) -> tuple[list[Job], list[Job]]: ...

    def block_account(self, account: str, reason: str, job_id: str, now: datetime) -> None: ...

    def unblock_account(self, account: str) -> bool: ...

    def snapshot(self) -> QueueSnapshot: ...


class MemoryJobStore:
    """A ``JobStore`` in process memory (thread-safe); the rules' reference for contract tests."""

    def __init__(self, policy: QueuePolicy | None = None, rng: random.Random | None = None) -> None:
        self._table = JobTable([], AccountsState(), policy or QueuePolicy(), rng or random.Random())
        self._lock = threading.Lock()

    @property
    def policy(self) -> QueuePolicy:
        return self._table.policy

    def claim_next(
        self, worker_id: int, worker_pid: int, now: datetime, prefer_account: str | None = None
    ) -> Claim | None:
        """Claim the next job under the claim rule (``jobqueue.claim``), or None."""
        with self._lock:
            return self._table.claim_next(worker_id, worker_pid, now, prefer_account)

    def checkpoint(self, claim: Claim, now: datetime, external_id: str = "") -> None:
        """Record that the claim reached the irreversible step (``external_id``: what it will make,
        when that has a name); LostClaim if the claim is gone."""
        with self._lock:
            self._table.checkpoint(claim, now, external_id)

    def attach_external_id(self, claim: Claim, external_id: str, now: datetime) -> Job:
        """Store the id of what the claim's irreversible step made; LostClaim if the claim is gone."""
        with self._lock:
            return self._table.attach_external_id(claim, external_id)

    def withdraw_checkpoint(self, claim: Claim, now: datetime) -> Job:
        """The executor knows nothing was published: the claim is as before its checkpoint."""
        with self._lock:
            return self._table.withdraw_checkpoint(claim)

    def settle_review(
        self, job_id: str, settlement: Settlement, now: datetime, *, expect_external_id: str
    ) -> Job | None:
        """Settle a review job from its executor's final word (``Settlement``); None if the job is
        no longer in review with ``expect_external_id`` (nothing changed). UnknownJob if absent."""
        with self._lock:
            return self._table.settle_review(job_id, settlement, now, expect_external_id=expect_external_id)

    def record(self, claim: Claim, outcome: Outcome, now: datetime) -> Job:
        """Apply an attempt's outcome to the claimed job; LostClaim if the claim is gone."""
        with self._lock:
            return self._table.record(claim, outcome, now)

    def release(self, claim: Claim, now: datetime, reason: str) -> Job:
        """Give the claim back without using an attempt (review if past the checkpoint)."""
        with self._lock:
            return self._table.release(claim, now, reason)

    def recover_orphans(self, is_alive: Callable[[int, int], bool], now: datetime) -> list[Job]:
        """Recover claims whose (worker_id, worker_pid) is not alive; returns the recovered jobs."""
        with self._lock:
            return self._table.recover_orphans(is_alive, now)

    def has_due_job(self, account: str, now: datetime) -> bool:
        """True if the account could be claimed now and has a due job."""
        with self._lock:
            return self._table.has_due_job(account, now)

    def seed(self, jobs: Iterable[NewJob]) -> SeedResult:
        """Add jobs whose job_id is unknown; never modifies existing rows."""
        with self._lock:
            return self._table.seed(jobs)

    def requeue(
        self, job_ids: Sequence[str] | None, statuses: Collection[JobStatus] = DEFAULT_REQUEUE
    ) -> list[Job]:
        """Move the named (or all) jobs in ``statuses`` (failed/review) back to pending."""
        with self._lock:
            return self._table.requeue(job_ids, statuses)

    def cancel_account(self, account: str, reason: str, now: datetime) -> list[Job]:
        """Cancel the account's waiting jobs (failed ``cancelled``); claimed ones are left alone."""
        with self._lock:
            return self._table.cancel_account(account, reason, now)

    def update_captions(self, captions: Mapping[str, str]) -> tuple[list[Job], list[Job]]:
        """New captions by video path for jobs not yet claimed; returns (changed, left)."""
        with self._lock:
            return self._table.update_captions(captions)

    def block_account(self, account: str, reason: str, job_id: str, now: datetime) -> None:
        """Block the account until ``unblock_account``."""
        with self._lock:
            self._table.block_account(account, reason, job_id, now)

    def unblock_account(self, account: str) -> bool:
        """Lift a block or cooldown; False if the account had neither."""
        with self._lock:
            return self._table.unblock_account(account)

    def snapshot(self) -> QueueSnapshot:
        """A read-only copy of the jobs and accounts' state."""
        with self._lock:
            return QueueSnapshot(tuple(self._table.jobs), self._table.accounts)
