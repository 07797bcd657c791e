"""The Appium executor: phone -> server -> video -> session -> flow, with the checkpoint right
before the flow's publish tap and success only when the flow sees it on screen."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jobqueue import Outcome, OutcomeKind
from worker.evidence import AttemptLog
from worker.executors import AttemptContext
from worker.flow_engine import FlowHooks, FlowRun
from worker.phone import PhoneHandle
from worker.rig import Rig
from worker.session import open_session, quit_session, session_options
from worker.video import (
    announce_to_gallery,
    check_video,
    push_via_adb,
    remove_from_phone,
    upload_via_geelark,
)

log = logging.getLogger(__name__)


class AppiumExecutor:
    name = "appium"

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.driver: Any = None

    def post(self, ctx: AttemptContext) -> Outcome:
        rig, job = self.rig, ctx.job
        ctx.step("check_video")
        video = Path(job.video_path)
        check_video(video)
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

    def evidence(self, alog: AttemptLog) -> tuple[Path, ...]:
        return tuple(alog.capture(self.driver)) if self.driver is not None else ()

    def close(self) -> None:
        quit_session(self.driver)
        self.driver = None

    def _drive(self, ctx: AttemptContext, phone: PhoneHandle, device_path: str) -> None:
        rig, job = self.rig, ctx.job
        rig.stop.check()
        ctx.step("session")
        extra = {"sim:jobTag": job.job_id} if rig.cfg.simulate else {}
        self.driver = open_session(
            rig.server.url, session_options(rig.cfg.ports, phone.serial, rig.flow, extra_caps=extra)
        )
        variables = {
            "caption": job.caption,
            "video_name": device_path.rsplit("/", 1)[-1],
            "account": job.account,
            "job_id": job.job_id,
        }
        hooks = FlowHooks(on_step=ctx.step, before_publish=ctx.checkpoint, check_stop=rig.stop.check)
        FlowRun(
            self.driver,
            rig.flow,
            variables,
            ctx.deadline,
            hooks,
            ids={"job_id": job.job_id, "account": job.account},
        ).run()

    def _transfer(self, phone: PhoneHandle, video: Path) -> str:
        cfg = self.rig.cfg
        timeout_s = cfg.scaled(120.0)
        if cfg.settings.worker.video_transfer == "adb_push":
            remote = push_via_adb(self.rig.adb, phone, video, timeout_s)
        else:
            remote = upload_via_geelark(self.rig.client, phone, video, timeout_s=timeout_s, poll_s=cfg.poll_s)
        announce_to_gallery(self.rig.adb, phone, remote)
        return remote
