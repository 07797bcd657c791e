"""Executors: how one attempt posts its job, behind one interface.

- `appium`: our flow drives the app on the phone (ADB, this worker's Appium server, a session).
- `geelark_task`: GeeLark's own publishing task posts it (storage upload, the phone running, a task
  created once and awaited); no ADB, no Appium server.

The attempt around an executor (`worker.job.JobAttempt`) is the same for both: its log, the stop
rules, the checkpoint, classification of errors and evidence; the loop claims, settles and keeps or
stops the phone for both. An account's executor is its `executor` in the accounts list (default:
`[accounts] executor`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jobqueue import Claim, Job, Outcome
from worker.contract import GEELARK_TASK
from worker.evidence import AttemptLog

if TYPE_CHECKING:
    from worker.rig import Rig


class AttemptContext(Protocol):
    """What an executor may use of its attempt (`worker.job.JobAttempt` implements it)."""

    rig: Rig
    claim: Claim
    job: Job
    deadline: float  # time.monotonic() by which the job must be done
    checkpointed: bool
    alog: AttemptLog | None  # the attempt's own log folder (set while the attempt runs)

    def step(self, name: str) -> None:
        """Announce a step (heartbeat, log); JobTimeout if the deadline passed before the checkpoint."""

    def checkpoint(self, external_id: str = "") -> None:
        """Record the publish checkpoint (and what the irreversible step will make) in the queue."""

    def attach_external_id(self, external_id: str) -> None:
        """Store the id of what the irreversible step made (a GeeLark task id) in the job."""

    def withdraw_checkpoint(self, why: str) -> None:
        """The executor knows nothing was published: the job is judged as before its checkpoint."""


class Executor(Protocol):
    """Posts one job. `post` returns the attempt's outcome (or raises: classified like any error);
    `ended` hears how the attempt ended (the outcome's kind, or "released"); `evidence` saves what
    a failed attempt can show; `close` ends what the attempt opened."""

    name: str

    def post(self, ctx: AttemptContext) -> Outcome: ...

    def ended(self, outcome: str, detail: str = "") -> None: ...

    def evidence(self, alog: AttemptLog) -> tuple[Path, ...]: ...

    def close(self) -> None: ...


def executor_for(rig: Rig, job: Job) -> Executor:
    """The executor of the job's account (a fresh one per attempt)."""
    entry = rig.cfg.account(job.account)
    if entry.executor == GEELARK_TASK:
        from worker.executors.geelark_task import TaskExecutor

        return TaskExecutor(rig, app=entry.app)
    from worker.executors.appium import AppiumExecutor  # the Appium client loads with the first such job

    return AppiumExecutor(rig, account=job.account)
