"""The GeeLark task executor: GeeLark's own publishing automation posts the job; no ADB, no Appium.

    video -> GeeLark storage -> the account's phone running -> CHECKPOINT (named po:<job_id>)
    -> one task, created once (its id stored in the job) -> polled with a growing pause within the
    job timeout -> its end judged (a "completed" task only counts once its log shows every
    publishing step) -> the outcome (the post's link with a success)

GeeLark does not say whether a task starts a stopped phone, so the phone is started first and
kept until the task ended (GeeLark refuses to stop a phone during a task: 43005); the loop then
stops it or keeps it for the account's next job, as for Appium.

Never two tasks for one job: a create is never repeated blindly (``create_or_find_task``), and a
job whose earlier attempt made a task (its ``external_id`` is set) follows that task when it still
runs or may have posted; only tasks that certainly posted nothing are passed over. What the end of
a task means for the job is the worker contract's ``task_settlement``, the same the orchestrator
applies to a job whose worker died while its task ran.

Stops: a task GeeLark has not started is cancelled and the claim goes back (no attempt used); a
running task is left to finish and its end recorded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

from geelark.errors import (
    CreateAmbiguous,
    DuplicateTasks,
    GeeLarkError,
    Interrupted,
    OutcomeUnknown,
    TaskNotFound,
)
from geelark.status import TaskStatus
from geelark.tasks import ReelsPost, Task, TaskPost, TikTokPost
from geelark.verdict import TaskOutcome, classify_create_error, deciding_task, may_have_posted
from jobqueue import Job, Outcome, OutcomeKind
from runtime.outage import OutageRecord
from worker.classify import cloud_unreachable, describe
from worker.contract import TASK_CREATE_AMBIGUOUS, TASK_UNSETTLED, task_settlement
from worker.errors import ClaimingRefused, GiveBack
from worker.evidence import AttemptLog
from worker.executors import AttemptContext
from worker.phone import PhoneHandle
from worker.rig import Rig
from worker.video import check_caption, check_video

log = logging.getLogger(__name__)

# Pauses between two looks at a task (GeeLark-side seconds), growing by half each time: a post takes
# a few minutes, so ~7 looks for a 2-minute task, and the phone (billed per started minute) is
# stopped at most 30 s after its task ended.
POLL_FIRST_S = 5.0
POLL_MAX_S = 30.0


class TaskExecutor:
    name = "geelark_task"

    def __init__(self, rig: Rig, *, app: str) -> None:
        self.rig = rig
        self.app = app

    def ended(self, outcome: str, detail: str = "") -> None:
        return None  # the task's own record of the attempt is its GeeLark log

    def evidence(self, alog: AttemptLog) -> tuple[Path, ...]:
        return ()  # the task's own log and screenshots stay with GeeLark (/task/detail)

    def close(self) -> None:
        return None

    def post(self, ctx: AttemptContext) -> Outcome:
        rig, job = self.rig, ctx.job
        ctx.step("check_video")
        video = Path(job.video_path)
        check_video(video)
        check_caption(job.caption, self.app)
        rig.stop.check()
        ctx.step("upload")
        stored = rig.client.upload_to_storage(video)
        rig.stop.check()
        ctx.step("phone")
        phone = rig.phones.acquire(job.account, connect=False)
        rig.status.update(phone_id=phone.phone_id)
        rig.stop.check()
        post = self._post_for(job, phone.phone_id, stored.resource_url)
        ctx.step("create_task")
        earlier = rig.client.find_tasks_by_name(post.name) if job.external_id else ()
        task_id = self._follow(ctx, earlier)
        if task_id is None:
            created = self._create(ctx, post, ignore={t.id for t in earlier})
            if isinstance(created, Outcome):
                return created
            task_id = created
        ctx.attach_external_id(task_id)
        task = self._await(ctx, task_id, phone)
        return task if isinstance(task, Outcome) else self._judge(ctx, task)

    def _post_for(self, job: Job, phone_id: str, video_url: str) -> TaskPost:
        if self.app == "tiktok":
            return TikTokPost(job.job_id, phone_id, video_url, description=job.caption)
        return ReelsPost(job.job_id, phone_id, (video_url,), description=job.caption)

    def _follow(self, ctx: AttemptContext, earlier: tuple[Task, ...]) -> str | None:
        """The task of an earlier attempt that is the job's task (still running, or it may have
        posted), checkpointed; None when every earlier task certainly posted nothing."""
        task = deciding_task(earlier)
        if task is None or not may_have_posted(task):
            return None
        ctx.checkpoint(task.id)
        log.warning(
            "GeeLark task %s of an earlier attempt (%s) is this job's task: following it, creating none",
            task.id,
            task.status.name.lower(),
        )
        return task.id

    def _create(self, ctx: AttemptContext, post: TaskPost, ignore: set[str]) -> str | Outcome:
        """The new task's id, or the outcome of a create GeeLark refused or left unclear."""
        ctx.checkpoint(post.name)
        try:
            ref = self.rig.client.create_or_find_task(post, look_first=False, ignore=ignore)
        except (CreateAmbiguous, DuplicateTasks) as exc:
            log.warning("the task may exist: %s", describe(exc))
            return Outcome(OutcomeKind.RETRYABLE, TASK_CREATE_AMBIGUOUS, describe(exc))
        except Interrupted:
            raise  # a stop in the wait after an ambiguous create: review; the orchestrator looks it up
        except GeeLarkError as exc:
            if cloud_unreachable(exc) and not isinstance(exc, OutcomeUnknown):
                ctx.withdraw_checkpoint("GeeLark did not answer the create, which was never sent")
                raise  # the loop gives the claim back and the run waits for GeeLark
            verdict = classify_create_error(exc)
            code = exc.code
            return self._settle(
                ctx,
                verdict,
                code=code,
                reason=describe(exc),
                ran=False,
                error_type=f"task_create_{code or 'error'}",
            )
        how = "found after an unclear create" if ref.found_by_lookup else "created"
        log.info("GeeLark task %s %s for phone %s", ref.id, how, post.phone_id)
        return ref.id

    def _await(self, ctx: AttemptContext, task_id: str, phone: PhoneHandle) -> Task | Outcome:
        """Poll until the task ended; at a stop, cancel it if it has not started, else ride it out."""
        rig, cfg = self.rig, self.rig.cfg
        # within the job timeout (on GeeLark's clock when simulated), counted from the attempt's start
        timeout_s = cfg.scaled(cfg.settings.worker.job_timeout_s)
        deadline = min(ctx.deadline, time.monotonic() + timeout_s)
        pause, cap = max(cfg.poll_s, cfg.scaled(POLL_FIRST_S)), max(cfg.poll_s, cfg.scaled(POLL_MAX_S))
        shown: TaskStatus | None = None
        riding_out = False
        with contextlib.ExitStack() as riding:
            while True:
                self._pause(pause)
                pause = min(pause * 1.5, cap)
                task = self._look(task_id)
                if task is not None and task.status.is_final:
                    return task
                if task is not None and task.status is not shown:
                    shown = task.status
                    ctx.step(f"task_{shown.name.lower()}")
                stopping, late = rig.stop.requested, time.monotonic() > deadline
                if task is not None and task.status is TaskStatus.WAITING and (stopping or late):
                    ended = self._cancel_unstarted(ctx, task_id, stopping, timeout_s)
                    if ended is not None:
                        return ended
                elif stopping and not riding_out:
                    log.warning(
                        "GeeLark task %s is running on phone %s: left to finish (GeeLark cannot stop a "
                        "phone during a task); its end is recorded",
                        task_id,
                        phone.serial_name,
                    )
                    riding.enter_context(rig.stop.riding_out())
                    riding_out = True
                if late:
                    status = task.status.name.lower() if task is not None else "unknown to GeeLark"
                    message = f"GeeLark task {task_id} still {status} after {timeout_s:.0f}s"
                    log.warning("%s: left in review; the orchestrator settles it once it ends", message)
                    return Outcome(OutcomeKind.RETRYABLE, TASK_UNSETTLED, message)

    def _pause(self, seconds: float) -> None:
        """Wait between two looks; a stop ends the wait, unless the task is being ridden out."""
        if self.rig.stop.requested:
            time.sleep(seconds)
        else:
            self.rig.stop.wait(seconds)

    def _look(self, task_id: str) -> Task | None:
        """The task as GeeLark reports it now; None when GeeLark does not say (not yet listed, or
        not answering: the task runs on regardless, so the wait goes on and the run is told)."""
        try:
            return self.rig.client.task(task_id)
        except TaskNotFound:
            log.info("GeeLark does not list task %s yet", task_id)
        except Interrupted:
            raise
        except GeeLarkError as exc:
            if not (cloud_unreachable(exc) or exc.retryable):
                raise
            log.warning("cannot read task %s now (%s); asking again", task_id, describe(exc))
            if cloud_unreachable(exc):
                cfg = self.rig.cfg
                OutageRecord(cfg.run_dir).report(describe(exc), f"W{cfg.worker_id}", cfg.now())
        return None

    def _cancel_unstarted(
        self, ctx: AttemptContext, task_id: str, stopping: bool, timeout_s: float
    ) -> Task | Outcome | None:
        """Cancel a task GeeLark has not started (a stop, or the job timeout). The task's end if it
        ended meanwhile; None if GeeLark did not answer (the caller looks again)."""
        try:
            after = self.rig.client.cancel_task(task_id)
        except GeeLarkError as exc:
            log.warning("could not cancel task %s: %s", task_id, describe(exc))
            return None
        if after.status is not TaskStatus.CANCELLED or after.cost_s > 0:
            return after if after.status.is_final else None
        if stopping:
            ctx.withdraw_checkpoint(f"task {task_id} cancelled before it started")
            raise GiveBack(f"stopped before GeeLark started task {task_id}: cancelled, nothing posted")
        reason = f"GeeLark had not started task {task_id} after {timeout_s:.0f}s: cancelled, nothing posted"
        log.warning("%s", reason)
        return self._settle(
            ctx,
            TaskOutcome.INFRASTRUCTURE,
            code=None,
            reason=reason,
            ran=False,
            error_type="task_not_started",
        )

    def _judge(self, ctx: AttemptContext, task: Task) -> Outcome:
        verdict = self.rig.client.task_verdict(task)
        if verdict.outcome is TaskOutcome.SUCCESS:
            link = f": {verdict.share_link}" if verdict.share_link else ""
            log.info(
                "posted: GeeLark task %s completed and its log shows every publishing step%s", task.id, link
            )
        else:
            log.warning("GeeLark task %s: %s (%s)", task.id, verdict.outcome.value, verdict.reason)
        return self._settle(
            ctx,
            verdict.outcome,
            code=verdict.code,
            reason=verdict.reason,
            ran=task.cost_s > 0,
            post_url=verdict.share_link,
        )

    def _settle(
        self,
        ctx: AttemptContext,
        verdict: TaskOutcome,
        *,
        code: int | None,
        reason: str,
        ran: bool,
        post_url: str = "",
        error_type: str = "",
    ) -> Outcome:
        """Apply what the task's end means (the contract's `task_settlement`) to this claim."""
        settlement = task_settlement(
            verdict.value, code=code, reason=reason, ran=ran, post_url=post_url, error_type=error_type
        )
        if not settlement.posted and ctx.checkpointed:
            ctx.withdraw_checkpoint(reason)
        if verdict is TaskOutcome.RUN_STOPPING:
            raise ClaimingRefused(reason)
        if settlement.outcome is None:
            raise GiveBack(reason)
        return settlement.outcome
