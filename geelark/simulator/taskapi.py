"""``/open/v1`` handlers of publishing tasks: create (TikTok, Instagram Reels), query,
history, detail, cancel. Limits follow GeeLark's docs (Add_video_image_warmup_task.md,
Instagram_publish_Reels_video.md, Task Management/*.md); a create takes one task credit per
task (41000 when short) and needs money (41001).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geelark.simulator.cloud import Cloud
from geelark.simulator.quota import Refusal
from geelark.simulator.taskbook import SimTask
from geelark.status import Code, PhoneStatus, TaskType


@dataclass(frozen=True)
class Delayed:
    """A handler's data to be answered ``delay_s`` real seconds late (the work is already done)."""

    data: Any
    delay_s: float


def _invalid(msg: str) -> Refusal:
    return Refusal(Code.INVALID_PARAMS, msg)


def _int(body: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"{key} must be an integer {low}..{high}")
    return value


def _text(body: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = body.get(key, None if required else "")
    if not isinstance(value, str) or len(value) > limit:
        raise _invalid(f"{key} must be a string of at most {limit} characters")
    return value


def _phone(cloud: Cloud, phone_id: str) -> str:
    phone = cloud.phone(phone_id)
    if phone.status is PhoneStatus.EXPIRED:
        raise Refusal(Code.PHONE_EXPIRED)
    return phone.id


def _ids(body: dict[str, Any], *, required: bool = True) -> list[str]:
    ids = body.get("ids")
    if ids is None and not required:
        return []
    if not isinstance(ids, list) or (required and not ids) or len(ids) > 100:
        raise _invalid("ids must be a list of 1..100 task ids")
    return [str(i) for i in ids]


def _maybe_slow(cloud: Cloud, tasks: list[SimTask], data: Any) -> Any:
    """Answer late when the fault mix says this create is slow (the tasks exist already)."""
    phone = cloud.phones[tasks[0].phone_id]
    if cloud.chance("task_slow_create", cloud.phone_faults(phone).task_slow_create):
        return Delayed(data, cloud.faults.api.slow_s)
    return data


def task_add(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    if body.get("taskType") != TaskType.TIKTOK_VIDEO:
        raise _invalid("the simulator supports taskType 1 (publish video) only")
    items = body.get("list")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise _invalid("list must hold 1..100 tasks")
    plan = _text(body, "planName", 10_000) or f"plan{cloud.rng.randrange(10**8, 10**9)}"
    _text(body, "remark", 200)
    checked = [_tiktok_item(cloud, item) for item in items]
    cloud.taskbook.charge(len(checked))
    tasks = [
        cloud.taskbook.create(
            name=plan, task_type=TaskType.TIKTOK_VIDEO, phone_id=phone_id, schedule_at=at, item=item
        )
        for phone_id, at, item in checked
    ]
    return _maybe_slow(cloud, tasks, {"taskIds": [t.id for t in tasks]})


def _tiktok_item(cloud: Cloud, item: Any) -> tuple[str, int, dict[str, Any]]:
    if not isinstance(item, dict):
        raise _invalid("each list entry must be an object")
    phone_id = _phone(cloud, _text(item, "envId", 40, required=True))
    at = _int(item, "scheduleAt", 0, 2**62)
    video = _text(item, "video", 2000, required=True)
    if not video:
        raise _invalid("video is required")
    checked = {
        "video": video,
        "caption": _text(item, "videoDesc", 4000),
        "maxTryTimes": _int(item, "maxTryTimes", 0, 3, default=3),
        "timeoutMin": _int(item, "timeoutMin", 30, 80, default=80),
        "needShareLink": bool(item.get("needShareLink", False)),
    }
    return phone_id, at, checked


def instagram_pub_reels(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    name = _text(body, "name", 128) or f"task{cloud.rng.randrange(10**8, 10**9)}"
    _text(body, "remark", 200)
    at = _int(body, "scheduleAt", 0, 2**62)
    phone_id = _phone(cloud, _text(body, "id", 40, required=True))
    caption = _text(body, "description", 2200, required=True)
    videos = body.get("video")
    if (
        not isinstance(videos, list)
        or not 1 <= len(videos) <= 10
        or not all(isinstance(v, str) for v in videos)
    ):
        raise _invalid("video must be a list of 1..10 URLs")
    cloud.taskbook.charge(1)
    # Reels tasks document no retry setting; API-made tasks are not retried (Retry_Task.md).
    item = {"video": videos[0], "caption": caption, "maxTryTimes": 0}
    task = cloud.taskbook.create(
        name=name, task_type=TaskType.CUSTOM, phone_id=phone_id, schedule_at=at, item=item
    )
    return _maybe_slow(cloud, [task], {"taskId": task.id})


def task_query(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    cloud.now()
    found = [t for i in _ids(body) if (t := cloud.taskbook.get(i)) is not None]
    return {"total": len(found), "items": [t.to_api() for t in found]}


def task_history(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    size = _int(body, "size", 1, 100, default=10)
    last_id = body.get("lastId")
    if last_id is not None and not isinstance(last_id, str):
        raise _invalid("lastId must be a string")
    items, total = cloud.taskbook.history(size, last_id, _ids(body, required=False))
    return {"total": total, "items": [t.to_api() for t in items]}


def task_detail(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    cloud.now()
    task = cloud.taskbook.get(_text(body, "id", 40, required=True))
    if task is None:
        raise Refusal(Code.TASK_NOT_FOUND)
    after = body.get("searchAfter") or [0]
    if not isinstance(after, list) or len(after) != 1 or not isinstance(after[0], int) or after[0] < 0:
        raise _invalid("searchAfter must be the list the previous page returned")
    logs, end, more = cloud.taskbook.log_page(task, after[0], cloud.config.task_log_page)
    return {**task.to_api(), "resultImages": [], "logs": logs, "searchAfter": [end], "logContinue": more}


def task_cancel(cloud: Cloud, body: dict[str, Any], base_url: str) -> Any:
    ids = _ids(body)
    failed = []
    for task_id in ids:
        try:
            cloud.taskbook.cancel(task_id)
        except Refusal as refusal:
            failed.append({"id": task_id, "code": refusal.code, "msg": refusal.msg})
    data: dict[str, Any] = {
        "totalAmount": len(ids),
        "successAmount": len(ids) - len(failed),
        "failAmount": len(failed),
    }
    if failed:
        data["failDetails"] = failed
        raise Refusal(Code.BATCH_FAILED if len(failed) == len(ids) else Code.PARTIAL_SUCCESS, data=data)
    return data


TASK_HANDLERS = {
    "/open/v1/task/add": task_add,
    "/open/v1/rpa/task/instagramPubReels": instagram_pub_reels,
    "/open/v1/task/query": task_query,
    "/open/v1/task/historyRecords": task_history,
    "/open/v1/task/detail": task_detail,
    "/open/v1/task/cancel": task_cancel,
}
