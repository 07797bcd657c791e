"""GeeLark storage and publishing tasks: the part of ``GeeLarkClient`` a task executor uses.

Task creation is not idempotent and GeeLark has no request key to make it so. A create is never
repeated blindly: one that failed after it was sent raises ``CreateAmbiguous``, and the task is
looked up by its name (which carries the job id) before anything creates again.
``create_or_find_task`` does exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from geelark.errors import (
    BadResponse,
    BatchFailed,
    CreateAmbiguous,
    DuplicateTasks,
    GeeLarkError,
    Interrupted,
    OutcomeUnknown,
    TaskNotFound,
    UnsupportedFile,
    WaitTimeout,
)
from geelark.models import BatchResult, UploadUrl, chunks
from geelark.settings import GeeLarkSettings
from geelark.status import Code, TaskStatus
from geelark.tasks import (
    ReelsPost,
    StoredFile,
    Task,
    TaskDetail,
    TaskPage,
    TaskPost,
    TaskRef,
    TikTokPost,
    upload_file_type,
)
from geelark.transport import Safety, Transport
from geelark.verdict import TaskVerdict, judge_task

log = logging.getLogger("geelark.client")

TIKTOK_ADD = "/task/add"
REELS_ADD = "/rpa/task/instagramPubReels"
TASK_BATCH = 100
HISTORY_PAGE = 100
MAX_LOG_PAGES = 50


class TaskMethods:
    """Mixed into ``GeeLarkClient``; relies on its transport, settings, clock, timer and sleep."""

    settings: GeeLarkSettings
    transport: Transport
    clock: Callable[[], float]
    timer: Callable[[], float]
    sleep: Callable[[float], None]

    def get_upload_url(self, file_type: str = "mp4") -> UploadUrl:
        data = self.transport.call("/upload/getUrl", {"fileType": file_type}, Safety.READ) or {}
        return UploadUrl(str(data["uploadUrl"]), str(data["resourceUrl"]))

    def put_file(self, upload_url: str, path: Path) -> None:
        """PUT the file's bytes to ``upload_url`` (no extra headers; idempotent, retried once)."""
        self.transport.put_file(upload_url, path)

    # -- storage -----------------------------------------------------------------------------
    def upload_to_storage(self, path: Path) -> StoredFile:
        """Put a local file into GeeLark's temporary storage (``/upload/getUrl`` + PUT); the
        result's ``resource_url`` is what a task takes, for three days. UnsupportedFile (before
        any request) for a missing file or an extension GeeLark does not accept."""
        file_type = upload_file_type(path)
        if not path.is_file():
            raise UnsupportedFile(path.name, "no such file")
        target = self.get_upload_url(file_type)
        self.put_file(target.upload_url, path)
        return StoredFile(target.resource_url, file_type, self.clock())

    # -- creating ----------------------------------------------------------------------------
    def create_task(self, post: TaskPost) -> str:
        """Create one publishing task; returns its id. Never retried after it may have reached
        GeeLark: CreateAmbiguous then (look the task up by ``post.name``). 41000 / 41001 raise
        AccountError; InvalidPost is raised before sending for fields over GeeLark's limits."""
        path = TIKTOK_ADD if isinstance(post, TikTokPost) else REELS_ADD
        try:
            data = self.transport.call(path, post.body(int(self.clock())), Safety.WRITE) or {}
        except OutcomeUnknown as exc:
            raise CreateAmbiguous(
                task_name=post.name, job_id=post.job_id, phone_id=post.phone_id, cause=exc.cause
            ) from exc
        ids = data.get("taskIds") if isinstance(post, TikTokPost) else [data.get("taskId")]
        if not ids or not ids[0]:
            raise CreateAmbiguous(
                task_name=post.name,
                job_id=post.job_id,
                phone_id=post.phone_id,
                cause=BadResponse(f"GeeLark {path} answered success without a task id"),
            )
        task_id = str(ids[0])
        log.info("task %s created for job %s on phone %s", task_id, post.job_id, post.phone_id)
        return task_id

    def create_tiktok_task(self, post: TikTokPost) -> str:
        """``/task/add`` with taskType 1, one item, ``maxTryTimes`` 0; see ``create_task``."""
        return self.create_task(post)

    def create_reels_task(self, post: ReelsPost) -> str:
        """``/rpa/task/instagramPubReels``; see ``create_task``."""
        return self.create_task(post)

    def create_or_find_task(
        self,
        post: TaskPost,
        *,
        look_first: bool = True,
        settle_s: float | None = None,
        ignore: Collection[str] = (),
    ) -> TaskRef:
        """The job's one task: found by name (``look_first``: an earlier attempt may have made
        it), else created. After an ambiguous create it waits ``settle_s`` (default: the read
        timeout, so a slow create has landed) and looks again; if the task is still not there,
        or the look-up itself fails, CreateAmbiguous is raised and nothing is created twice.
        DuplicateTasks if the name is already on more than one task; Interrupted if the caller's
        stop cuts the wait short (the task may exist: look it up by name before creating again).
        Tasks whose id is in ``ignore`` (earlier attempts' tasks, known to have posted nothing)
        are not looked at."""
        if look_first:
            found = self.find_task_by_name(post.name, ignore=ignore)
            if found is not None:
                return TaskRef(found.id, post.name, found_by_lookup=True)
        try:
            return TaskRef(self.create_task(post), post.name)
        except CreateAmbiguous as ambiguous:
            log.warning("%s; looking the task up by name", ambiguous)
            try:
                self.sleep(self.settings.read_timeout_s if settle_s is None else settle_s)
                found = self.find_task_by_name(post.name, ignore=ignore)
            except (DuplicateTasks, Interrupted):
                raise  # a stop during the wait: recovery looks the task up (this create is the context)
            except GeeLarkError as exc:
                raise ambiguous from exc
            if found is None:
                raise
            return TaskRef(found.id, post.name, found_by_lookup=True)

    # -- reading -----------------------------------------------------------------------------
    def query_tasks(self, ids: Sequence[str]) -> dict[str, Task]:
        """``/task/query`` for any number of ids (sent in batches of 100); unknown ids are absent."""
        found: dict[str, Task] = {}
        for chunk in chunks(ids, TASK_BATCH):
            data = self.transport.call("/task/query", {"ids": chunk}, Safety.READ) or {}
            for raw in data.get("items") or ():
                task = Task.from_api(raw)
                found[task.id] = task
        return found

    def task(self, task_id: str) -> Task:
        """One task; TaskNotFound if GeeLark does not return it."""
        found = self.query_tasks([task_id]).get(str(task_id))
        if found is None:
            raise TaskNotFound(str(task_id))
        return found

    def task_detail(self, task_id: str, search_after: Sequence[int] = ()) -> TaskDetail:
        """One page of ``/task/detail``: the task and a page of its log."""
        body: dict[str, Any] = {"id": str(task_id)}
        if search_after:
            body["searchAfter"] = [int(v) for v in search_after]
        return TaskDetail.from_api(self.transport.call("/task/detail", body, Safety.READ) or {})

    def task_logs(self, task_id: str, *, max_pages: int = MAX_LOG_PAGES) -> TaskDetail:
        """``/task/detail`` with every log page (following ``searchAfter`` while ``logContinue``),
        at most ``max_pages`` pages."""
        detail = self.task_detail(task_id)
        for _ in range(max_pages - 1):
            if not detail.log_continue or not detail.search_after:
                break
            page = self.task_detail(task_id, detail.search_after)
            stalled = page.search_after == detail.search_after and not page.logs
            detail = detail.with_more_logs(page)
            if stalled:
                break
        return detail

    def task_history(
        self, *, size: int = HISTORY_PAGE, last_id: str | None = None, ids: Sequence[str] = ()
    ) -> TaskPage:
        """One page of ``/task/historyRecords`` (tasks scheduled in the last 7 days)."""
        body: dict[str, Any] = {"size": size}
        if last_id:
            body["lastId"] = str(last_id)
        if ids:
            body["ids"] = [str(i) for i in ids]
        data = self.transport.call("/task/historyRecords", body, Safety.READ) or {}
        items = tuple(Task.from_api(raw) for raw in data.get("items") or ())
        return TaskPage(items, int(data.get("total", len(items))))

    def iter_task_history(self, *, size: int = HISTORY_PAGE) -> Iterator[Task]:
        """Every task of the last 7 days, page after page."""
        last_id: str | None = None
        while True:
            page = self.task_history(size=size, last_id=last_id)
            yield from page.items
            if len(page.items) < size or page.last_id is None or page.last_id == last_id:
                return
            last_id = page.last_id

    def find_tasks_by_name(self, name: str, *, ignore: Collection[str] = ()) -> tuple[Task, ...]:
        """Every task of the last 7 days whose name is exactly ``name`` (all pages searched),
        but those whose id is in ``ignore``."""
        return tuple(t for t in self.iter_task_history() if t.name == name and t.id not in ignore)

    def find_task_by_name(self, name: str, *, ignore: Collection[str] = ()) -> Task | None:
        """The one task named ``name`` (not in ``ignore``), None if there is none; DuplicateTasks
        if several."""
        found = self.find_tasks_by_name(name, ignore=ignore)
        if len(found) > 1:
            raise DuplicateTasks(name, tuple(t.id for t in found))
        return found[0] if found else None

    # -- waiting and judging -------------------------------------------------------------------
    def wait_for_task(
        self, task_id: str, *, timeout_s: float, poll_s: float = 5.0, max_poll_s: float = 60.0
    ) -> Task:
        """Poll ``/task/query`` until the task is completed, failed or cancelled; the pause grows
        by half each time up to ``max_poll_s``. WaitTimeout after ``timeout_s`` (the task keeps
        its state: cancel it or look again later)."""
        deadline = self.timer() + timeout_s
        pause = poll_s
        while True:
            task = self.task(task_id)
            if task.status.is_final:
                return task
            left = deadline - self.timer()
            if left <= 0:
                raise WaitTimeout(f"task {task_id} still {task.status.name} after {timeout_s:.0f}s")
            self.sleep(min(pause, left))
            pause = min(pause * 1.5, max_poll_s)

    def task_verdict(self, task: Task, *, allow_empty_logs: bool = False) -> TaskVerdict:
        """What ``task`` (as last queried) means for its job; a completed task's log is read and
        checked for failed publishing steps first (see ``geelark.verdict``)."""
        if task.status is not TaskStatus.COMPLETED:
            return judge_task(task)
        logs = self.task_logs(task.id).logs
        return judge_task(task, logs, allow_empty_logs=allow_empty_logs)

    # -- cancelling ----------------------------------------------------------------------------
    def cancel_tasks(self, ids: Sequence[str]) -> BatchResult[str]:
        """``/task/cancel`` (waiting or running tasks); per-item refusals (48001: already
        finished) land in ``failed``. Safe to repeat."""
        result: BatchResult[str] = BatchResult()
        for chunk in chunks(ids, TASK_BATCH):
            try:
                data = self.transport.call("/task/cancel", {"ids": chunk}, Safety.IDEMPOTENT) or {}
            except BatchFailed as exc:
                if not isinstance(exc.data, dict) or "failDetails" not in exc.data:
                    raise
                data = exc.data
            failed = BatchResult.from_details({"failDetails": data.get("failDetails")}, lambda r: "").failed
            ok = {i: i for i in chunk if i not in failed}
            result = result.merged(BatchResult(ok=ok, failed=failed))
        return result

    def cancel_task(self, task_id: str) -> Task:
        """Cancel one task if it has not finished, then return its state (CANCELLED, or the
        final state it reached first: a task may complete between a look and the cancel)."""
        result = self.cancel_tasks([task_id])
        item = result.failed.get(str(task_id))
        if item is not None and item.code not in (Code.TASK_STATUS_FORBIDS, Code.UNKNOWN):
            log.warning("cancel of task %s refused: %s (code %s)", task_id, item.msg, item.code)
        return self.task(task_id)
