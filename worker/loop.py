"""The worker's loop: check stop -> claim -> attempt -> settle (fenced) -> keep or stop the phone
(after an infrastructure or account outcome the phone is stopped *before* settling, while the claim
still keeps other workers off the account).

Settling rules:
- stopped at a safe point -> release (no attempt used; review if past the checkpoint);
- otherwise record the classified outcome; the queue sends any failure recorded after the publish
  checkpoint to review (it may be posted: never retried automatically), and an account problem
  blocks the account in the same locked write;
- LostClaim anywhere -> drop the job and move on.
The phone is kept only while this worker has another due job for the same account.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from jobqueue import (
    Claim,
    CorruptProgressFile,
    FileBusy,
    JobStatus,
    LockTimeout,
    LostClaim,
    OutcomeKind,
    QueueUnavailable,
)
from runtime.logs import log_context
from runtime.outage import ClaimingStopped, OutageRecord
from runtime.ports import PortInUse
from worker.contract import WorkerExit
from worker.errors import ForcedStop
from worker.job import AttemptResult, JobAttempt, Rig, geelark_answers

log = logging.getLogger(__name__)

BUSY_RETRY_S = 5.0
BUSY_RETRIES = 6
OUTAGE_POLL_S = 1.0  # how often a waiting worker looks whether the orchestrator cleared the outage
PROBE_FIRST_S, PROBE_CAP_S = 5.0, 120.0  # a worker on its own probes GeeLark itself
T = TypeVar("T")


class WorkerLoop:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.pid = os.getpid()

    def run(self) -> WorkerExit:
        """Work until nothing is due or a stop is requested; always cleans up what it started."""
        try:
            return self._work()
        except CorruptProgressFile as exc:
            log.error("the progress file cannot be used: %s", exc)
            return WorkerExit.QUEUE_CORRUPT
        except PortInUse as exc:
            log.error("%s", exc)
            return WorkerExit.PORT_IN_USE
        except ForcedStop:
            log.warning("forced stop: job abandoned, claim released")
            return WorkerExit.FORCED_STOP
        finally:
            self.shutdown()

    def _work(self) -> WorkerExit:
        rig = self.rig
        while not rig.stop.requested:
            refused = ClaimingStopped(rig.cfg.run_dir).current()
            if refused is not None:
                log.error("claiming nothing more: GeeLark refused new work (%s)", refused.reason)
                return WorkerExit.DONE
            if not self._wait_while_geelark_is_down():
                break
            claim = self._claim()
            if claim is None:
                if rig.stop.requested:
                    break
                log.info("nothing is due for this worker: exiting")
                return WorkerExit.DONE
            self._process(claim)
        log.info("stopping: %s", rig.stop.reason)
        return WorkerExit.DONE

    def _wait_while_geelark_is_down(self) -> bool:
        """Claim nothing while the run records GeeLark as unreachable; False if a stop came meanwhile.

        The orchestrator probes and clears the record; a worker run on its own (no parent) probes
        GeeLark itself, with backoff."""
        rig, outage = self.rig, OutageRecord(self.rig.cfg.run_dir)
        if outage.current() is None:
            return True
        rig.status.update(step="waiting_for_geelark")
        log.warning("GeeLark is unreachable (%s): claiming nothing until it answers", outage.current())
        alone = rig.cfg.parent is None
        backoff = rig.cfg.scaled(PROBE_FIRST_S)
        while outage.current() is not None:
            if rig.stop.wait(backoff if alone else OUTAGE_POLL_S):
                return False
            if alone and geelark_answers(rig.client):
                outage.clear()
            backoff = min(backoff * 2, rig.cfg.scaled(PROBE_CAP_S))
        log.info("GeeLark answers again: claiming")
        rig.status.update(step="idle")
        return True

    def _claim(self) -> Claim | None:
        rig = self.rig
        while True:
            try:
                return rig.store.claim_next(
                    rig.cfg.worker_id, self.pid, rig.cfg.now(), prefer_account=rig.phones.account
                )
            except (FileBusy, LockTimeout, QueueUnavailable) as exc:
                log.warning("queue busy (%s); retrying in %.0f s", exc, BUSY_RETRY_S)
                if rig.stop.wait(BUSY_RETRY_S):
                    return None

    def _queue(self, call: Callable[[], T]) -> T:
        """A queue write that must not be lost to a busy file: retried for a while (even while
        stopping), then raised; a claim left behind is recovered by the orchestrator."""
        for attempt in range(1, BUSY_RETRIES + 1):
            try:
                return call()
            except (FileBusy, LockTimeout, QueueUnavailable) as exc:
                if attempt == BUSY_RETRIES:
                    raise
                log.warning("queue busy (%s); retry %s in %.0f s", exc, attempt, BUSY_RETRY_S)
                time.sleep(BUSY_RETRY_S)
        raise AssertionError("unreachable")

    def _process(self, claim: Claim) -> None:
        rig, job = self.rig, claim.job
        rig.status.update(
            job_id=job.job_id, account=job.account, step="claimed", job_started_at=self.rig.cfg.now()
        )
        with log_context(job=job.job_id, account=job.account):
            log.info("claimed job %s for account %s", job.job_id, job.account)
            try:
                result = JobAttempt(rig, claim).run()
            except (PortInUse, ForcedStop):
                # released without fault; the store makes it review if it was past the checkpoint
                self._settle(claim, AttemptResult(None))
                raise
            troubled = _troubled(result)
            try:
                if troubled:
                    # Stopped while our claim still holds the account: no other worker can claim
                    # it and adopt the phone between our "is it in use?" check and the stop.
                    self._keep_or_stop_phone(job.account, result)
            finally:
                try:
                    self._settle(claim, result)
                finally:
                    rig.status.job_done()
            if not troubled:
                self._keep_or_stop_phone(job.account, result)
            if rig.phones.current is None:
                rig.status.update(phone_id=None)

    def _settle(self, claim: Claim, result: AttemptResult) -> None:
        store, job, now = self.rig.store, claim.job, self.rig.cfg.now()
        outcome = result.outcome
        try:
            if result.lost_claim:
                return
            if result.cloud_down:
                self._queue(lambda: store.release(claim, now, f"GeeLark unreachable: {result.cloud_down}"))
                OutageRecord(self.rig.cfg.run_dir).report(
                    result.cloud_down, f"W{self.rig.cfg.worker_id}", now
                )
                log.warning("claim released, no attempt used: GeeLark is unreachable")
                return
            if outcome is None:
                reason = (
                    result.release_reason
                    or f"worker {self.rig.cfg.worker_id} stopping: {self.rig.stop.reason}"
                )
                self._queue(lambda: store.release(claim, now, reason))
                if result.claiming_refused:
                    ClaimingStopped(self.rig.cfg.run_dir).report(
                        result.claiming_refused, f"W{self.rig.cfg.worker_id}", now
                    )
                log.info(
                    "claim released (%s)",
                    "review: past the checkpoint" if result.checkpointed else "no attempt used",
                )
            else:
                settled = self._queue(lambda: store.record(claim, outcome, now))
                review = settled.status is JobStatus.REVIEW
                log.log(
                    logging.WARNING if review else logging.INFO,
                    "job %s -> %s (%s)%s",
                    job.job_id,
                    settled.status.value,
                    f"{outcome.kind.value} {outcome.error_type}".strip(),
                    ": failed after the publish tap, check whether it was posted"
                    if review and result.checkpointed
                    else "",
                )
        except LostClaim:
            log.error("claim on job %s was lost before its outcome was recorded: dropped", job.job_id)

    def _keep_or_stop_phone(self, account: str, result: AttemptResult) -> None:
        rig = self.rig
        if rig.phones.account != account:
            return
        keep = (
            rig.cfg.settings.worker.keep_phone_between_jobs
            and not _troubled(result)
            and not result.claiming_refused
            and not rig.stop.requested
            and self._queue(lambda: rig.store.has_due_job(account, self.rig.cfg.now()))
        )
        if keep:
            log.info("keeping the phone of %s: another job is due", account)
        else:
            rig.phones.release(stop=True)

    def shutdown(self) -> None:
        """Stop the phone we hold and our server; safe to call more than once."""
        rig = self.rig
        rig.status.update(step="stopping")
        try:
            rig.phones.release(stop=True)
        finally:
            rig.server.stop()


def _troubled(result: AttemptResult) -> bool:
    """An infrastructure or account outcome: the phone is stopped, never kept for the next job."""
    return result.outcome is not None and result.outcome.kind in (
        OutcomeKind.INFRASTRUCTURE,
        OutcomeKind.ACCOUNT,
    )
