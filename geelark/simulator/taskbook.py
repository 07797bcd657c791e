"""Publishing tasks of the simulated cloud, in simulated time.

    WAITING --due, phone RUNNING--> RUNNING --task_time_s--> COMPLETED | FAILED
    WAITING/RUNNING --cancel--> CANCELLED
    WAITING --phone not running by due + timeoutMin--> FAILED 20129 (device offline)
    WAITING --due while another task runs on the phone--> FAILED 20002

A task needs its phone RUNNING (status 0) to start: whether GeeLark would start a stopped phone
itself is not documented, so the simulator never does. Events are applied in time order up to
"now" whenever the cloud is touched, so results do not depend on how often a client polls.
A run's outcome is drawn when it starts (fault mix of the phone): ok, a failure code, or
"completed" with a failed step in the log and nothing posted. A task drawn "stuck" at creation
never leaves WAITING. A TikTok task with ``maxTryTimes`` > 0 is run again after a failure,
as GeeLark documents; a retry after 20003 (which posted) posts a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from geelark.simulator.quota import Refusal
from geelark.simulator.tasklog import render, run_lines
from geelark.status import Code, FailCode, TaskStatus, TaskType, fail_message_for
from geelark.tasks import job_id_from_task_name

if TYPE_CHECKING:
    from geelark.simulator.cloud import Cloud

HISTORY_S = 7 * 24 * 3600.0
STORAGE_S = 3 * 24 * 3600.0


@dataclass
class SimTask:
    id: str
    name: str
    task_type: TaskType
    phone_id: str
    serial_name: str
    schedule_at: int  # as the client sent it (Unix seconds)
    due: float  # simulated seconds
    created_at: float
    timeout_s: float
    video: str
    caption: str
    share_link_wanted: bool
    tries_left: int
    stuck: bool
    seq: int  # creation order (ties of created_at in history order)
    status: TaskStatus = TaskStatus.WAITING
    plan: str = ""  # outcome of the current run: ok | fail | false_complete
    plan_code: int = 0
    runs: int = 0
    started_at: float | None = None
    finish_at: float | None = None
    ended_at: float | None = None
    fail_code: int = 0
    fail_desc: str = ""
    share_link: str = ""
    published: int = 0
    logs: list[tuple[float, str]] = field(default_factory=list)

    @property
    def cost(self) -> int:
        if self.started_at is None or self.ended_at is None:
            return 0
        return round(self.ended_at - self.started_at)

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "planName": self.name,
            "taskType": int(self.task_type),
            "serialName": self.serial_name,
            "envId": self.phone_id,
            "scheduleAt": self.schedule_at,
            "status": int(self.status),
            "cost": self.cost,
            "shareLink": self.share_link,
        }
        if self.fail_code:
            item["failCode"], item["failDesc"] = self.fail_code, self.fail_desc
        return item

    def to_state(self) -> dict[str, Any]:
        return {
            **self.to_api(),
            "jobTag": job_id_from_task_name(self.name),
            "runs": self.runs,
            "plan": self.plan if not self.stuck else "stuck",
            "published": self.published,
        }


class TaskBook:
    """Every task of the account. Called under the cloud's lock."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.tasks: dict[str, SimTask] = {}
        self.credits = cloud.config.task_credits

    # -- creating ---------------------------------------------------------------------------
    def create(
        self, *, name: str, task_type: TaskType, phone_id: str, schedule_at: int, item: dict[str, Any]
    ) -> SimTask:
        cloud = self.cloud
        now = cloud.now()
        phone = cloud.phone(phone_id)  # the handler has checked it exists and has not expired
        faults = cloud.phone_faults(phone)
        task = SimTask(
            id=str(cloud.rng.randrange(10**17, 10**18)),
            name=name,
            task_type=task_type,
            phone_id=phone.id,
            serial_name=phone.serial_name,
            schedule_at=schedule_at,
            due=max(now, cloud.clock.sim_seconds(schedule_at)),
            created_at=now,
            timeout_s=60.0 * float(item.get("timeoutMin", 80)),
            video=str(item["video"]),
            caption=str(item.get("caption", "")),
            share_link_wanted=bool(item.get("needShareLink", False)),
            tries_left=int(item.get("maxTryTimes", 0)),
            stuck=cloud.chance("task_stuck", faults.task_stuck),
            seq=len(self.tasks),
        )
        task.logs.append((now, "Waiting for execution"))
        self.tasks[task.id] = task
        return task

    def charge(self, count: int) -> None:
        """Take ``count`` task credits (41000 when there are not enough; 41001 without money)."""
        if self.cloud.balance(self.cloud.now()) <= 0:
            raise Refusal(Code.BALANCE_LOW)
        if self.credits < count:
            raise Refusal(Code.TASK_CREDITS_LOW)
        self.credits -= count

    # -- time ---------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Apply every task event due by ``now``, earliest first."""
        while (event := self._next_event(now)) is not None:
            at, kind, task = event
            if kind == "finish":
                self._finish(task, at)
            elif kind == "start":
                self._start(task, at)
            else:
                self._fail(task, at, FailCode.DEVICE_OFFLINE)

    def _next_event(self, now: float) -> tuple[float, str, SimTask] | None:
        order = {"finish": 0, "start": 1, "offline": 2}
        best: tuple[float, int, str, SimTask] | None = None
        for task in self.tasks.values():
            event = self._event_of(task)
            if event is None or event[0] > now:
                continue
            key = (event[0], order[event[1]], event[1], task)
            if best is None or key[:2] < best[:2]:
                best = key
        return None if best is None else (best[0], best[2], best[3])

    def _event_of(self, task: SimTask) -> tuple[float, str] | None:
        if task.status is TaskStatus.RUNNING and task.finish_at is not None:
            return task.finish_at, "finish"
        if task.status is not TaskStatus.WAITING or task.stuck:
            return None
        phone = self.cloud.phones[task.phone_id]
        give_up = task.due + task.timeout_s
        if phone.accepts_work and phone.boot_done_at is not None:
            start = max(task.due, phone.boot_done_at)
            return (start, "start") if start <= give_up else (give_up, "offline")
        return give_up, "offline"

    def _start(self, task: SimTask, at: float) -> None:
        cloud = self.cloud
        phone = cloud.phones[task.phone_id]
        if phone.running_task and phone.running_task != task.id:
            self._fail(task, at, FailCode.PHONE_BUSY)
            return
        task.status, task.started_at, task.runs = TaskStatus.RUNNING, at, task.runs + 1
        task.finish_at = at + cloud.config.task_time_s
        phone.running_task = task.id
        faults = cloud.phone_faults(phone)
        if cloud.balance(at) <= 0:
            task.plan, task.plan_code = "fail", FailCode.BALANCE_LOW
        elif not cloud.storage.usable(task.video, at):
            task.plan, task.plan_code = "fail", FailCode.DOWNLOAD_FAILED
        elif faults.task_fail_codes and cloud.chance("task_fail", faults.task_fail):
            task.plan, task.plan_code = "fail", int(cloud.rng.choice(faults.task_fail_codes))
        elif cloud.chance("task_false_complete", faults.task_false_complete):
            task.plan, task.plan_code = "false_complete", 0
        else:
            task.plan, task.plan_code = "ok", 0
        task.logs.extend(run_lines(task.task_type, at, task.runs))

    def _finish(self, task: SimTask, at: float) -> None:
        cloud = self.cloud
        weak_spot = cloud.rng.choice(("Next", "Post")) if task.plan == "false_complete" else ""
        task.logs.extend(run_lines(task.task_type, at, task.runs, finish=task.plan, weak_spot=weak_spot))
        if task.plan == "ok" or task.plan_code == FailCode.EXECUTION_TIMEOUT:
            self._publish(task, at)  # 20003: the post went out, the task timed out afterwards
        if task.plan in ("ok", "false_complete"):
            self._end(task, at, TaskStatus.COMPLETED)
            if task.plan == "ok" and task.share_link_wanted and task.task_type is TaskType.TIKTOK_VIDEO:
                task.share_link = f"https://www.tiktok.com/@{task.serial_name}/video/{task.id}"
            return
        if task.tries_left > 0:  # GeeLark's own retry (maxTryTimes): the same task runs again
            task.tries_left -= 1
            task.logs.append((at, f"Task failed: {fail_message_for(task.plan_code)}; retrying"))
            cloud.phones[task.phone_id].running_task = ""
            self._start(task, at)
            return
        self._fail(task, at, task.plan_code)

    def _fail(self, task: SimTask, at: float, code: int) -> None:
        task.fail_code, task.fail_desc = int(code), fail_message_for(code)
        task.logs.append((at, f"Run failed: {task.fail_desc}"))
        self._end(task, at, TaskStatus.FAILED)

    def _end(self, task: SimTask, at: float, status: TaskStatus) -> None:
        task.status, task.ended_at, task.finish_at = status, at, None
        phone = self.cloud.phones[task.phone_id]
        if phone.running_task == task.id:
            phone.running_task = ""

    def _publish(self, task: SimTask, at: float) -> None:
        task.published += 1
        self.cloud.record_publish(
            self.cloud.phones[task.phone_id],
            video=task.video.rsplit("/", 1)[-1],
            caption=task.caption,
            job_tag=job_id_from_task_name(task.name),
            at=at,
            task_id=task.id,
        )

    def phone_lost(self, phone_id: str, at: float) -> None:
        """The phone went down underneath its running task: the task fails (device offline)."""
        for task in self.tasks.values():
            if task.phone_id == phone_id and task.status is TaskStatus.RUNNING:
                self._fail(task, at, FailCode.DEVICE_OFFLINE)

    # -- the API -----------------------------------------------------------------------------
    def get(self, task_id: str) -> SimTask | None:
        return self.tasks.get(str(task_id))

    def cancel(self, task_id: str) -> None:
        now = self.cloud.now()
        task = self.tasks.get(str(task_id))
        if task is None:
            raise Refusal(Code.TASK_NOT_FOUND)
        if task.status.is_final:
            raise Refusal(Code.TASK_STATUS_FORBIDS)
        task.logs.append((now, "Task cancelled"))
        self._end(task, now, TaskStatus.CANCELLED)

    def history(self, size: int, last_id: str | None, ids: list[str]) -> tuple[list[SimTask], int]:
        """Newest first; tasks scheduled in the last 7 simulated days; after ``last_id``."""
        now = self.cloud.now()
        tasks = [t for t in self.tasks.values() if t.due >= now - HISTORY_S and (not ids or t.id in ids)]
        tasks.sort(key=lambda t: (t.created_at, t.seq), reverse=True)
        start = 0
        if last_id:
            positions = [i for i, t in enumerate(tasks) if t.id == last_id]
            start = positions[0] + 1 if positions else len(tasks)
        return tasks[start : start + size], len(tasks)

    def log_page(self, task: SimTask, after: int, page: int) -> tuple[list[str], int, bool]:
        """Log lines ``after..after+page`` (only once the task has ended, as GeeLark documents)."""
        if not task.status.is_final:
            return [], after, False
        lines = task.logs[after : after + page]
        end = after + len(lines)
        return (
            [render(self.cloud.clock.real_seconds(t), text) for t, text in lines],
            end,
            end < len(task.logs),
        )

    def state(self) -> list[dict[str, Any]]:
        return [t.to_state() for t in self.tasks.values()]
