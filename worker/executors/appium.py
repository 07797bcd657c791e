"""The Appium executor: phone -> server -> video -> session -> flow, with the checkpoint right
before the flow's publish tap and success only when the flow sees it on screen."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jobqueue import Outcome, OutcomeKind
from runtime.settings import appium_caps
from worker.classify import session_start_failed
from worker.device import AppiumDevice
from worker.evidence import AttemptLog
from worker.executors import AttemptContext
from worker.flow_engine import FlowHooks, FlowRun
from worker.phone import PhoneHandle
from worker.recording import SessionRecorder
from worker.rig import Rig
from worker.session import open_session, open_with_tries, quit_session, session_options
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


class AppiumExecutor:
    name = "appium"

    def __init__(self, rig: Rig, *, account: str) -> None:
        self.rig = rig
        self.flow = rig.flows.for_account(account)
        self.driver: Any = None
        self.recorder: SessionRecorder | None = None

    def post(self, ctx: AttemptContext) -> Outcome:
        rig, job = self.rig, ctx.job
        if ctx.alog is not None:
            self.recorder = SessionRecorder(
                ctx.alog.folder / f"attempt_{ctx.alog.attempt}.session.jsonl",
                account=job.account,
                job_id=job.job_id,
                flow=self.flow.name,
            )
        ctx.step("check_video")
        video = Path(job.video_path)
        check_video(video)
        check_caption(job.caption, rig.cfg.app_of(job.account))
        rig.stop.check()
        ctx.step("phone")
        rig.server.launch()  # it starts while the phone boots; the server step waits for it
        phone = rig.phones.acquire(job.account)
        rig.status.update(phone_id=phone.phone_id)
        rig.stop.check()
        ctx.step("server")
        rig.status.update(appium=rig.server.ensure_running())
        ctx.step("video")
        device_path = self._transfer(phone, video)
        try:
            self._drive(ctx, phone, device_path)
        finally:
            remove_from_phone(rig.adb, phone, device_path)
        log.info("posted and confirmed on screen")
        return Outcome(OutcomeKind.SUCCESS)

    def ended(self, outcome: str, detail: str = "") -> None:
        if self.recorder is not None:
            self.recorder.finish(outcome, detail)

    def evidence(self, alog: AttemptLog) -> tuple[Path, ...]:
        return tuple(alog.capture(self.driver)) if self.driver is not None else ()

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        quit_session(self.driver)
        self.driver = None

    def _drive(self, ctx: AttemptContext, phone: PhoneHandle, device_path: str) -> None:
        rig, job = self.rig, ctx.job
        rig.stop.check()
        ctx.step("session")
        extra = {"sim:jobTag": job.job_id} if rig.cfg.simulate else appium_caps(rig.cfg.settings)
        options = session_options(rig.cfg.ports, phone.serial, self.flow, extra_caps=extra)
        self.driver = open_with_tries(
            lambda: open_session(rig.server.url, options),
            rig.cfg.settings.worker.session_tries,
            retry_in_place=session_start_failed,
            check_stop=rig.stop.check,
        )
        if self.recorder is not None:
            self.recorder.note_video(device_path.rsplit("/", 1)[-1])
        variables = {
            "caption": job.caption,
            "video_name": device_path.rsplit("/", 1)[-1],
            "account": job.account,
            "job_id": job.job_id,
        }
        hooks = FlowHooks(
            on_step=ctx.step,
            before_publish=ctx.checkpoint,
            check_stop=rig.stop.check,
            record=self.recorder.record if self.recorder else FlowHooks().record,
        )
        FlowRun(
            AppiumDevice(self.driver),
            self.flow,
            variables,
            ctx.deadline,
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
