"""One attempt at one claimed job, whichever executor posts it (`worker.executors`).

The attempt never records an outcome itself; it returns what happened (`AttemptResult`) and the loop
records it, fenced by the claim token. Around the executor it keeps what both executors share: the
attempt's own log, the stop rules, the checkpoint (and the external id of what the irreversible step
made), classification of failures (worker.classify) and the evidence a failed attempt leaves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from geelark.errors import GeeLarkError, Interrupted, WaitTimeout
from jobqueue import Claim, LostClaim, Outcome
from runtime.ports import PortInUse
from worker.classify import classify, cloud_unreachable, describe
from worker.errors import ClaimingRefused, GiveBack, JobTimeout, StopRequested
from worker.evidence import AttemptLog
from worker.executors import executor_for
from worker.rig import Rig

__all__ = ["AttemptResult", "JobAttempt", "Rig", "geelark_answers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptResult:
    """How an attempt ended. `outcome` is None when the claim must be released (stop, give-back)
    or was lost."""

    outcome: Outcome | None
    checkpointed: bool = False
    lost_claim: bool = False
    cloud_down: str = ""  # GeeLark did not answer (before the checkpoint): released, the run waits
    evidence: tuple[Path, ...] = ()
    release_reason: str = ""  # why the claim goes back without an attempt (empty: a stop)
    claiming_refused: str = ""  # GeeLark refused new work for the account: the run stops claiming


class Probe(Protocol):
    """What the outage probe uses of the GeeLark client."""

    def list_phones(self, page: int = ..., page_size: int = ...) -> Any: ...


def geelark_answers(client: Probe) -> bool:
    """One cheap call (the first page of phones): does GeeLark answer at all?"""
    try:
        client.list_phones(page=1, page_size=1)
    except GeeLarkError as exc:
        return not cloud_unreachable(exc)
    return True


def cloud_down(exc: BaseException, client: Probe) -> bool:
    """Did an attempt fail because GeeLark is unreachable? A transport failure says so; a GeeLark
    wait that ran out (an upload, a boot) may have watched an outage begin: one cheap request
    decides (a job is never charged for GeeLark's own outage)."""
    if cloud_unreachable(exc):
        return True
    return isinstance(exc, WaitTimeout) and not geelark_answers(client)


class JobAttempt:
    """One attempt; the `AttemptContext` its executor works with."""

    def __init__(self, rig: Rig, claim: Claim) -> None:
        self.rig = rig
        self.claim = claim
        self.job = claim.job
        self.deadline = time.monotonic() + rig.cfg.settings.worker.job_timeout_s
        self.checkpointed = False
        self.alog: AttemptLog | None = None

    def run(self) -> AttemptResult:
        job = self.job
        attempt = job.attempts + job.infra_attempts + 1
        executor = executor_for(self.rig, job)
        with AttemptLog(
            self.rig.cfg.logs_dir, job.job_id, attempt=attempt, tag=f"W{self.rig.cfg.worker_id}"
        ) as alog:
            self.alog = alog
            log.info(
                "attempt %s of job %s (account %s, video %s, executor %s)",
                alog.attempt,
                job.job_id,
                job.account,
                Path(job.video_path).name,
                executor.name,
            )
            try:
                with self.rig.stop.during_job():
                    outcome = executor.post(self)
                executor.ended(outcome.kind.value, f"{outcome.error_type}: {outcome.message}".strip(": "))
                return AttemptResult(outcome, self.checkpointed)
            except (StopRequested, Interrupted) as exc:
                log.info("attempt abandoned at a safe point: %s", exc)
                executor.ended("released", str(exc))
                return AttemptResult(None, self.checkpointed)
            except ClaimingRefused as exc:
                log.error("GeeLark refuses new work: %s", exc.reason)
                return AttemptResult(
                    None, self.checkpointed, release_reason=exc.reason, claiming_refused=exc.reason
                )
            except GiveBack as exc:
                log.info("claim given back: %s", exc.reason)
                executor.ended("released", exc.reason)
                return AttemptResult(None, self.checkpointed, release_reason=exc.reason)
            except PortInUse:
                raise  # not the job's fault: the worker cannot run at all (exit code PORT_IN_USE)
            except LostClaim:
                log.error("claim lost (recovered by someone else): dropping the job at once")
                return AttemptResult(None, self.checkpointed, lost_claim=True)
            except Exception as exc:
                if not self.checkpointed and cloud_down(exc, self.rig.client):
                    log.warning(
                        "GeeLark does not answer: %s; the job waits for it, no attempt used", describe(exc)
                    )
                    return AttemptResult(None, cloud_down=describe(exc))
                outcome = classify(exc)
                log.warning(
                    "attempt failed: %s/%s: %s", outcome.kind.value, outcome.error_type, outcome.message
                )
                executor.ended(outcome.kind.value, f"{outcome.error_type}: {outcome.message}")
                evidence = executor.evidence(alog)
                if evidence:
                    log.info("evidence saved: %s", ", ".join(p.name for p in evidence))
                return AttemptResult(outcome, self.checkpointed, evidence=evidence)
            finally:
                executor.close()

    def step(self, name: str) -> None:
        self.rig.status.update(step=name)
        log.info("step %s", name)
        if not self.checkpointed and time.monotonic() > self.deadline:
            raise JobTimeout(
                f"job timeout ({self.rig.cfg.settings.worker.job_timeout_s:.0f} s) before step {name}",
                job_id=self.job.job_id,
                account=self.job.account,
            )

    def checkpoint(self, external_id: str = "") -> None:
        self.rig.store.checkpoint(self.claim, self.rig.cfg.now(), external_id)
        self.checkpointed = True
        log.info("checkpoint recorded: publishing now")

    def attach_external_id(self, external_id: str) -> None:
        self.rig.store.attach_external_id(self.claim, external_id, self.rig.cfg.now())

    def withdraw_checkpoint(self, why: str) -> None:
        self.rig.store.withdraw_checkpoint(self.claim, self.rig.cfg.now())
        self.checkpointed = False
        log.info("checkpoint withdrawn: nothing was posted (%s)", why)
