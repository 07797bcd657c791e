"""One attempt at one claimed job: phone -> server -> video -> session -> flow -> outcome.

The attempt never records anything itself; it returns what happened (`AttemptResult`) and the loop
records it, fenced by the claim token. Failures are classified (worker.classify) and leave evidence
(screenshot + page source) beside the attempt's own log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.common.exceptions import WebDriverException

from geelark.client import GeeLarkClient
from geelark.errors import GeeLarkError, Interrupted
from jobqueue import Claim, JobStore, LostClaim, Outcome, OutcomeKind
from runtime.ports import PortInUse
from runtime.settings import appium_caps
from worker.adb import Adb
from worker.appium_server import ServerProcess
from worker.classify import classify, cloud_unreachable, describe, session_start_failed
from worker.config import WorkerConfig
from worker.device import AppiumDevice
from worker.errors import JobTimeout, StopRequested
from worker.evidence import AttemptLog
from worker.flow import FlowBook
from worker.flow_engine import FlowHooks, FlowRun
from worker.heartbeat import StopControl, WorkerStatus
from worker.phone import PhoneHandle, PhoneManager
from worker.recording import SessionRecorder
from worker.session import open_session, quit_session, session_options
from worker.video import (
    announce_to_gallery,
    arrived,
    check_caption,
    check_video,
    clear_downloads,
    goes_by_upload,
    push_via_adb,
    remove_from_phone,
    upload_via_geelark,
)

log = logging.getLogger(__name__)


@dataclass
class Rig:
    """Everything a worker holds for its whole life."""

    cfg: WorkerConfig
    store: JobStore
    client: GeeLarkClient
    adb: Adb
    phones: PhoneManager
    server: ServerProcess
    flows: FlowBook
    status: WorkerStatus
    stop: StopControl


@dataclass(frozen=True)
class AttemptResult:
    """How an attempt ended. `outcome` is None when the claim must be released (stop) or was lost."""

    outcome: Outcome | None
    checkpointed: bool = False
    lost_claim: bool = False
    cloud_down: str = ""  # GeeLark did not answer (before the checkpoint): released, the run waits
    evidence: tuple[Path, ...] = ()


def geelark_answers(client: GeeLarkClient) -> bool:
    """One cheap call (the first page of phones): does GeeLark answer at all?"""
    try:
        client.list_phones(page=1, page_size=1)
    except GeeLarkError as exc:
        return not cloud_unreachable(exc)
    return True


class JobAttempt:
    def __init__(self, rig: Rig, claim: Claim) -> None:
        self.rig = rig
        self.claim = claim
        self.job = claim.job
        self.deadline = time.monotonic() + rig.cfg.settings.worker.job_timeout_s
        self.driver: Any = None
        self.checkpointed = False
        self.flow = rig.flows.for_account(claim.job.account)
        self.recorder: SessionRecorder | None = None

    def run(self) -> AttemptResult:
        job = self.job
        attempt = job.attempts + job.infra_attempts + 1
        with AttemptLog(
            self.rig.cfg.logs_dir, job.job_id, attempt=attempt, tag=f"W{self.rig.cfg.worker_id}"
        ) as alog:
            log.info(
                "attempt %s of job %s (account %s, video %s)",
                alog.attempt,
                job.job_id,
                job.account,
                Path(job.video_path).name,
            )
            self.recorder = SessionRecorder(
                alog.folder / f"attempt_{alog.attempt}.session.jsonl",
                account=job.account,
                job_id=job.job_id,
                flow=self.flow.name,
            )
            try:
                with self.rig.stop.during_job():
                    self._post()
                log.info("posted and confirmed on screen")
                self.recorder.finish("success")
                return AttemptResult(Outcome(OutcomeKind.SUCCESS), self.checkpointed)
            except (StopRequested, Interrupted) as exc:
                log.info("attempt abandoned at a safe point: %s", exc)
                self.recorder.finish("released", str(exc))
                return AttemptResult(None, self.checkpointed)
            except PortInUse:
                raise  # not the job's fault: the worker cannot run at all (exit code PORT_IN_USE)
            except LostClaim:
                log.error("claim lost (recovered by someone else): dropping the job at once")
                return AttemptResult(None, self.checkpointed, lost_claim=True)
            except Exception as exc:
                if cloud_unreachable(exc) and not self.checkpointed:
                    log.warning(
                        "GeeLark does not answer: %s; the job waits for it, no attempt used", describe(exc)
                    )
                    return AttemptResult(None, cloud_down=describe(exc))
                outcome = classify(exc)
                log.warning(
                    "attempt failed: %s/%s: %s", outcome.kind.value, outcome.error_type, outcome.message
                )
                self.recorder.finish(outcome.kind.value, f"{outcome.error_type}: {outcome.message}")
                evidence = tuple(alog.capture(self.driver)) if self.driver is not None else ()
                if evidence:
                    log.info("evidence saved: %s", ", ".join(p.name for p in evidence))
                return AttemptResult(outcome, self.checkpointed, evidence=evidence)
            finally:
                self.recorder.close()
                quit_session(self.driver)
                self.driver = None

    def _step(self, name: str) -> None:
        self.rig.status.update(step=name)
        log.info("step %s", name)
        if not self.checkpointed and time.monotonic() > self.deadline:
            raise JobTimeout(
                f"job timeout ({self.rig.cfg.settings.worker.job_timeout_s:.0f} s) before step {name}",
                job_id=self.job.job_id,
                account=self.job.account,
            )

    def _post(self) -> None:
        rig, job = self.rig, self.job
        self._step("check_video")
        video = Path(job.video_path)
        check_video(video)
        check_caption(job.caption, rig.cfg.app_of(job.account))
        rig.stop.check()
        self._step("phone")
        rig.server.launch()  # it starts while the phone boots; the server step waits for it
        phone = rig.phones.acquire(job.account)
        rig.status.update(phone_id=phone.phone_id)
        rig.stop.check()
        self._step("server")
        rig.status.update(appium=rig.server.ensure_running())
        self._step("video")
        device_path = self._transfer(phone, video)
        try:
            self._drive(phone, device_path)
        finally:
            remove_from_phone(rig.adb, phone, device_path)

    def _drive(self, phone: PhoneHandle, device_path: str) -> None:
        rig, job = self.rig, self.job
        rig.stop.check()
        self._step("session")
        extra = {"sim:jobTag": job.job_id} if rig.cfg.simulate else appium_caps(rig.cfg.settings)
        options = session_options(rig.cfg.ports, phone.serial, self.flow, extra_caps=extra)
        tries = rig.cfg.settings.worker.session_tries
        for attempt in range(1, tries + 1):
            try:
                self.driver = open_session(rig.server.url, options)
                break
            except WebDriverException as exc:
                if attempt == tries or not session_start_failed(exc):
                    raise
                log.warning(
                    "session start %d of %d failed (%s); trying again in place", attempt, tries, describe(exc)
                )
                rig.stop.check()
        if self.recorder is not None:
            self.recorder.note_video(device_path.rsplit("/", 1)[-1])
        variables = {
            "caption": job.caption,
            "video_name": device_path.rsplit("/", 1)[-1],
            "account": job.account,
            "job_id": job.job_id,
        }
        hooks = FlowHooks(
            on_step=self._step,
            before_publish=self._checkpoint,
            check_stop=rig.stop.check,
            record=self.recorder.record if self.recorder else FlowHooks().record,
        )
        FlowRun(
            AppiumDevice(self.driver),
            self.flow,
            variables,
            self.deadline,
            hooks,
            ids={"job_id": job.job_id, "account": job.account},
        ).run()

    def _transfer(self, phone: PhoneHandle, video: Path) -> str:
        cfg, adb = self.rig.cfg, self.rig.adb
        timeout_s = cfg.scaled(cfg.settings.worker.transfer_timeout_s)
        clear_downloads(adb, phone)
        if goes_by_upload(video, cfg.settings.worker.video_transfer):
            upload_via_geelark(self.rig.client, phone, video, timeout_s=timeout_s, poll_s=cfg.poll_s)
        else:
            if cfg.settings.worker.video_transfer == "upload":
                log.info(
                    "%s is not mp4/webm (GeeLark's upload refuses it): sending it by adb push", video.name
                )
            push_via_adb(adb, phone, video, timeout_s)
        remote = arrived(adb, phone, video)
        log.info("the video is on the phone: %s (%s bytes, as sent)", remote, f"{video.stat().st_size:,}")
        announce_to_gallery(adb, phone, remote)
        return remote

    def _checkpoint(self) -> None:
        self.rig.store.checkpoint(self.claim, self.rig.cfg.now())
        self.checkpointed = True
        log.info("checkpoint recorded: publishing now")
