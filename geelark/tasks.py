"""GeeLark publishing tasks as plain data: what to post (``TikTokPost``, ``ReelsPost``), what
GeeLark reports (``Task``, ``TaskDetail``, ``TaskPage``), files in GeeLark storage
(``StoredFile``) and the task name that carries a job id.

Limits are GeeLark's documented ones (Add_video_image_warmup_task.md,
Instagram_publish_Reels_video.md, Upload_temporary_files_to_GeeLark.md); a post that breaks one
raises ``InvalidPost`` before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geelark.errors import InvalidPost, UnsupportedFile
from geelark.status import TaskStatus

# /upload/getUrl fileType values; anything else is refused with 40004.
UPLOAD_FILE_TYPES = frozenset(
    {"jpg", "jpeg", "png", "gif", "bmp", "webp", "heif", "heic", "mp4", "webm", "xml", "apk", "xapk"}
)
STORAGE_LIFETIME_S = 3 * 24 * 3600.0  # "Upload temporary files to GeeLark (Expires in 3 days)"
UPLOAD_URL_LIFETIME_S = 30 * 60.0  # the PUT target is valid for 30 minutes

TASK_NAME_PREFIX = "po:"
TASK_NAME_MAX = 128  # the Instagram task's documented name limit; used for TikTok plans too
_DIGEST_CHARS = 16
TIKTOK_DESC_MAX = 4000
REELS_DESC_MAX = 2200
REELS_VIDEOS_MAX = 10
TIMEOUT_MIN_RANGE = (30, 80)


def task_name(job_id: str) -> str:
    """The task name (TikTok ``planName`` / Instagram ``name``) that identifies ``job_id``:
    ``po:<job_id>``. A job id too long for 128 characters is cut and followed by ``#`` and a
    digest of the whole id, so the name stays unique and the same on every call."""
    if not job_id:
        raise InvalidPost(job_id, "a task needs a job id to name it")
    name = TASK_NAME_PREFIX + job_id
    if len(name) <= TASK_NAME_MAX:
        return name
    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    keep = TASK_NAME_MAX - len(TASK_NAME_PREFIX) - 1 - _DIGEST_CHARS
    return f"{TASK_NAME_PREFIX}{job_id[:keep]}#{digest}"


def job_id_from_task_name(name: str) -> str:
    """The job id a task name carries (for a shortened name: its shortened form); a name
    without the ``po:`` prefix is returned unchanged."""
    return name.removeprefix(TASK_NAME_PREFIX)


def upload_file_type(path: Path) -> str:
    """The ``fileType`` for ``path`` (its lower-cased extension); UnsupportedFile otherwise."""
    file_type = path.suffix.lstrip(".").lower()
    if file_type not in UPLOAD_FILE_TYPES:
        allowed = ", ".join("." + t for t in sorted(UPLOAD_FILE_TYPES))
        raise UnsupportedFile(path.name, f"the name must end in one of {allowed} (convert or rename it)")
    return file_type


@dataclass(frozen=True)
class StoredFile:
    """A file in GeeLark's temporary storage: hand ``resource_url`` to a task. It is deleted
    ``STORAGE_LIFETIME_S`` after the upload; ``usable(now, margin_s)`` says whether it will
    still exist ``margin_s`` from now (``now`` and ``uploaded_at`` on the client's clock)."""

    resource_url: str
    file_type: str
    uploaded_at: float

    @property
    def expires_at(self) -> float:
        return self.uploaded_at + STORAGE_LIFETIME_S

    def usable(self, now: float, margin_s: float = 3600.0) -> bool:
        return now + margin_s < self.expires_at


@dataclass(frozen=True)
class TikTokPost:
    """One TikTok video task (``/task/add``, taskType 1, one item). ``schedule_at`` is a Unix
    time in seconds (``None``: now). ``maxTryTimes`` is always sent as 0 so GeeLark never posts
    again by itself."""

    job_id: str
    phone_id: str
    video_url: str
    description: str = ""
    schedule_at: int | None = None
    timeout_min: int = 80
    need_share_link: bool = True
    mark_ai: bool = False
    cover_url: str = ""

    def __post_init__(self) -> None:
        _require_common(self.job_id, self.phone_id, (self.video_url,))
        if len(self.description) > TIKTOK_DESC_MAX:
            raise InvalidPost(
                self.job_id,
                f"the caption has {len(self.description)} characters; TikTok tasks take at most "
                f"{TIKTOK_DESC_MAX}: shorten it",
            )
        low, high = TIMEOUT_MIN_RANGE
        if not low <= self.timeout_min <= high:
            raise InvalidPost(self.job_id, f"timeout_min must be {low}..{high}, not {self.timeout_min}")

    @property
    def name(self) -> str:
        return task_name(self.job_id)

    def body(self, now: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "scheduleAt": self.schedule_at if self.schedule_at is not None else now,
            "envId": self.phone_id,
            "video": self.video_url,
            "videoDesc": self.description,
            "maxTryTimes": 0,
            "timeoutMin": self.timeout_min,
            "markAI": self.mark_ai,
            "needShareLink": self.need_share_link,
        }
        if self.cover_url:
            item["cover"] = self.cover_url
        return {"planName": self.name, "taskType": 1, "list": [item]}


@dataclass(frozen=True)
class ReelsPost:
    """One Instagram Reels task (``/rpa/task/instagramPubReels``). GeeLark documents no retry
    setting for it."""

    job_id: str
    phone_id: str
    video_urls: tuple[str, ...]
    description: str = ""
    schedule_at: int | None = None
    ai_tag: bool = False

    def __post_init__(self) -> None:
        _require_common(self.job_id, self.phone_id, self.video_urls)
        if len(self.video_urls) > REELS_VIDEOS_MAX:
            raise InvalidPost(self.job_id, f"a Reels task takes at most {REELS_VIDEOS_MAX} videos")
        if len(self.description) > REELS_DESC_MAX:
            raise InvalidPost(
                self.job_id,
                f"the caption has {len(self.description)} characters; Instagram Reels tasks take at "
                f"most {REELS_DESC_MAX}: shorten it",
            )

    @property
    def name(self) -> str:
        return task_name(self.job_id)

    def body(self, now: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "scheduleAt": self.schedule_at if self.schedule_at is not None else now,
            "id": self.phone_id,
            "description": self.description,
            "video": list(self.video_urls),
            "aiTag": self.ai_tag,
        }


TaskPost = TikTokPost | ReelsPost


def _require_common(job_id: str, phone_id: str, videos: tuple[str, ...]) -> None:
    if not job_id:
        raise InvalidPost(job_id, "a task needs a job id")
    if not phone_id:
        raise InvalidPost(job_id, "a task needs the cloud phone's id")
    if not videos or not all(videos):
        raise InvalidPost(job_id, "a task needs the video's resource URL (upload it first)")


@dataclass(frozen=True)
class Task:
    """One task as ``/task/query`` and ``/task/historyRecords`` describe it. ``fail_code`` is
    None unless GeeLark gave one; ``status_code`` keeps the raw number."""

    id: str
    name: str
    task_type: int
    phone_id: str
    serial_name: str
    schedule_at: int
    status: TaskStatus
    status_code: int
    fail_code: int | None = None
    fail_desc: str = ""
    cost_s: int = 0
    share_link: str = ""

    @property
    def job_id(self) -> str:
        return job_id_from_task_name(self.name)

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Task:
        code = int(raw.get("status") or 0)
        fail_code = int(raw.get("failCode") or 0)
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("planName") or ""),
            task_type=int(raw.get("taskType") or 0),
            phone_id=str(raw.get("envId") or ""),
            serial_name=str(raw.get("serialName") or ""),
            schedule_at=int(raw.get("scheduleAt") or 0),
            status=TaskStatus.parse(code),
            status_code=code,
            fail_code=fail_code or None,
            fail_desc=str(raw.get("failDesc") or ""),
            cost_s=int(raw.get("cost") or 0),
            share_link=str(raw.get("shareLink") or ""),
        )


@dataclass(frozen=True)
class TaskDetail:
    """``/task/detail``: the task, its log lines (GeeLark returns them once the task completed
    or failed) and screenshots. ``log_continue`` says more log pages follow: ask again with
    ``search_after``."""

    task: Task
    logs: tuple[str, ...] = ()
    result_images: tuple[str, ...] = field(default=(), repr=False)
    search_after: tuple[int, ...] = ()
    log_continue: bool = False

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> TaskDetail:
        return cls(
            task=Task.from_api(raw),
            logs=tuple(str(line) for line in raw.get("logs") or ()),
            result_images=tuple(str(u) for u in raw.get("resultImages") or ()),
            search_after=tuple(int(v) for v in raw.get("searchAfter") or ()),
            log_continue=bool(raw.get("logContinue")),
        )

    def with_more_logs(self, page: TaskDetail) -> TaskDetail:
        """This detail followed by the next log page (the task fields of the later page win)."""
        return TaskDetail(
            task=page.task,
            logs=self.logs + page.logs,
            result_images=page.result_images or self.result_images,
            search_after=page.search_after,
            log_continue=page.log_continue,
        )


@dataclass(frozen=True)
class TaskPage:
    """One page of ``/task/historyRecords``; ask for the next with ``last_id``."""

    items: tuple[Task, ...]
    total: int

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None


@dataclass(frozen=True)
class TaskRef:
    """A job's task: its id and name, and whether ``create_or_find_task`` found it by name
    (after an ambiguous create, or made by an earlier attempt) rather than creating it."""

    id: str
    name: str
    found_by_lookup: bool = False
