"""GeeLark Open API client: typed methods over :class:`geelark.transport.Transport`.

Batch methods return :class:`BatchResult` (``ok`` and ``failed`` by id) because GeeLark
reports per-item failures under envelope code 0; single-phone helpers raise ``ItemFailed``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from geelark.errors import BatchFailed, ItemFailed, OutcomeUnknown, PhoneNotFound, UploadFailed, WaitTimeout
from geelark.models import (
    AdbInfo,
    BatchResult,
    ItemError,
    Phone,
    PhonePage,
    PhoneState,
    StartedPhone,
    Wallet,
    chunks,
)
from geelark.ratelimit import RateLimiter
from geelark.settings import GeeLarkSettings
from geelark.status import Code, PhoneStatus, UploadStatus
from geelark.taskclient import TaskMethods
from geelark.transport import Safety, Transport, wall_and_timer

log = logging.getLogger("geelark.client")

STATUS_BATCH = 100
START_STOP_BATCH = 100


class GeeLarkClient(TaskMethods):
    """The GeeLark Open API (storage and publishing tasks: :class:`TaskMethods`). One
    ``requests.Session`` per client; use one client per process (or per thread).
    ``clock`` (the wall clock: GeeLark's minute windows, records), ``timer`` (waits and deadlines:
    monotonic, so a clock step never stretches or cuts a wait) and ``sleep`` are injectable so tests
    never wait for real; a test that injects one fake ``clock`` gets it as the timer too. Clients of
    one process share a budget if given the same ``limiter``; clients of many processes share one
    through ``settings.rate_limit_dir``."""

    def __init__(
        self,
        settings: GeeLarkSettings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] | None = None,
        timer: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.clock, self.timer = wall_and_timer(clock, timer)
        self.transport = transport or Transport(
            settings, session=session, limiter=limiter, clock=self.clock, timer=self.timer, sleep=sleep
        )
        self.sleep = sleep

    def _batch_call(self, path: str, body: dict[str, Any], safety: Safety) -> Any:
        """A batch call whose per-item details are read whatever the envelope code: 0, or
        40006 (partial) / 40009 (all failed) when they carry details."""
        try:
            return self.transport.call(path, body, safety)
        except BatchFailed as exc:
            if isinstance(exc.data, dict) and "failDetails" in exc.data:
                return exc.data
            raise

    # -- phones ----------------------------------------------------------------------------
    def list_phones(
        self,
        page: int = 1,
        page_size: int = 100,
        *,
        serial_name: str | None = None,
        ids: Sequence[str] | None = None,
        group_name: str | None = None,
        open_status: bool | None = None,
    ) -> PhonePage:
        """One page of ``/phone/list`` (filters are optional; ``ids`` overrides paging)."""
        body: dict[str, Any] = {"page": page, "pageSize": page_size}
        if serial_name:
            body["serialName"] = serial_name
        if ids:
            body["ids"] = [str(i) for i in ids]
        if group_name:
            body["groupName"] = group_name
        if open_status is not None:
            body["openStatus"] = 1 if open_status else 0
        data = self.transport.call("/phone/list", body, Safety.READ) or {}
        items = tuple(Phone.from_api(raw) for raw in data.get("items") or ())
        return PhonePage(
            items,
            int(data.get("total", len(items))),
            int(data.get("page", page)),
            int(data.get("pageSize", page_size)),
        )

    def iter_phones(self, *, serial_name: str | None = None, page_size: int = 100) -> Iterator[Phone]:
        """Every phone matching the filter, across all pages."""
        page = 1
        while True:
            result = self.list_phones(page, page_size, serial_name=serial_name)
            yield from result.items
            if result.is_last:
                return
            page += 1

    def find_phone(self, serial_name: str, *, page_size: int = 100) -> Phone:
        """The phone whose serialName is exactly ``serial_name``; every page of the (fuzzy) name
        filter is searched, never only the first ones. PhoneNotFound if there is none."""
        for phone in self.iter_phones(serial_name=serial_name, page_size=page_size):
            if phone.serial_name == serial_name:
                return phone
        raise PhoneNotFound(serial_name)

    def phone_status(self, ids: Sequence[str]) -> BatchResult[PhoneState]:
        """``/phone/status`` for any number of ids (sent in batches of 100)."""
        result: BatchResult[PhoneState] = BatchResult()
        for chunk in chunks(ids, STATUS_BATCH):
            data = self._batch_call("/phone/status", {"ids": chunk}, Safety.READ)
            result = result.merged(BatchResult.from_details(data, PhoneState.from_api))
        return result

    def start_phones(self, ids: Sequence[str], *, energy_saving: bool = False) -> BatchResult[StartedPhone]:
        """Start phones. A start is never repeated blindly: after an ambiguous failure (timeout,
        dropped connection, 5xx, 50000) the client re-reads the status; phones now starting or
        running count as started (with an empty ``url``), only the others are started again, up
        to ``max_attempts`` rounds. OutcomeUnknown if the last round is ambiguous too.
        ``energy_saving``: GeeLark's ``energySavingMode`` 1, the phone shuts itself down after 30
        minutes without activity (a phone that outlives everything stops by itself)."""
        result: BatchResult[StartedPhone] = BatchResult()
        for chunk in chunks(ids, START_STOP_BATCH):
            result = result.merged(self._start_resolving_ambiguity(chunk, energy_saving))
        return result

    def _start_resolving_ambiguity(self, ids: list[str], energy_saving: bool) -> BatchResult[StartedPhone]:
        result: BatchResult[StartedPhone] = BatchResult()
        pending = ids
        for round_no in range(1, self.settings.max_attempts + 1):
            try:
                return result.merged(self._start(pending, energy_saving))
            except OutcomeUnknown as exc:
                if round_no == self.settings.max_attempts:
                    raise
                log.warning("start of %d phone(s) ambiguous (%s); re-reading status", len(pending), exc.cause)
                states = self.phone_status(pending)
                up = {i: StartedPhone(i) for i, s in states.ok.items() if s.status.is_up}
                result = result.merged(BatchResult(ok=up, failed=dict(states.failed)))
                pending = [i for i in pending if i not in up and i not in states.failed]
                if not pending:
                    break
        return result

    def _start(self, ids: list[str], energy_saving: bool) -> BatchResult[StartedPhone]:
        body: dict[str, Any] = {"ids": ids}
        if energy_saving:
            body["energySavingMode"] = 1
        return BatchResult.from_details(
            self._batch_call("/phone/start", body, Safety.WRITE), StartedPhone.from_api
        )

    def start_phone(self, phone_id: str, *, energy_saving: bool = False) -> StartedPhone:
        """Start one phone or raise ItemFailed."""
        result = self.start_phones([phone_id], energy_saving=energy_saving)
        if phone_id in result.failed:
            raise ItemFailed("start", result.failed[phone_id])
        return result.ok[phone_id]

    def stop_phones(self, ids: Sequence[str]) -> BatchResult[PhoneState]:
        """Stop phones (stopping a stopped phone is a success; safe to repeat)."""
        result: BatchResult[PhoneState] = BatchResult()
        for chunk in chunks(ids, START_STOP_BATCH):
            data = self._batch_call("/phone/stop", {"ids": chunk}, Safety.IDEMPOTENT) or {}
            if not data.get("successDetails"):  # some answers list only the failures
                data = {**data, "successDetails": [{"id": i, "status": PhoneStatus.RUNNING} for i in chunk]}
            result = result.merged(BatchResult.from_details(data, PhoneState.from_api))
        return result

    def stop_phone(self, phone_id: str) -> None:
        """Stop one phone or raise ItemFailed."""
        result = self.stop_phones([phone_id])
        if phone_id in result.failed:
            raise ItemFailed("stop", result.failed[phone_id])

    def wait_until_running(self, phone_id: str, timeout_s: float = 120.0, poll_s: float = 2.0) -> PhoneState:
        """Poll ``/phone/status`` until the phone is RUNNING; WaitTimeout after ``timeout_s``
        (the caller should then stop the phone: a boot can hang in STARTING for ever)."""
        deadline = self.timer() + timeout_s
        while True:
            state = self._one_status(phone_id)
            if state.status is PhoneStatus.RUNNING:
                return state
            if not state.status.is_up:
                raise ItemFailed(
                    "boot", ItemError(phone_id, Code.PHONE_NOT_RUNNING, f"phone is {state.status.name}")
                )
            if self.timer() >= deadline:
                raise WaitTimeout(f"phone {phone_id} still {state.status.name} after {timeout_s:.0f}s")
            self.sleep(poll_s)

    def _one_status(self, phone_id: str) -> PhoneState:
        result = self.phone_status([phone_id])
        if phone_id in result.failed:
            raise ItemFailed("status", result.failed[phone_id])
        return result.ok[phone_id]

    # -- ADB ---------------------------------------------------------------------------------
    def set_adb(self, ids: Sequence[str], enabled: bool = True) -> None:
        """``/adb/setStatus``; phones must be running (PhoneNotRunning otherwise)."""
        self.transport.call(
            "/adb/setStatus", {"ids": [str(i) for i in ids], "open": enabled}, Safety.IDEMPOTENT
        )

    def adb_data(self, ids: Sequence[str]) -> BatchResult[AdbInfo]:
        """``/adb/getData``: per-item codes land in ``failed``; ``ok`` items may not be ``ready`` yet."""
        data = self.transport.call("/adb/getData", {"ids": [str(i) for i in ids]}, Safety.READ) or {}
        ok, failed = {}, {}
        for raw in data.get("items") or ():
            if int(raw.get("code", 0)) == Code.OK:
                ok[str(raw["id"])] = AdbInfo.from_api(raw)
            else:
                failed[str(raw.get("id", ""))] = ItemError(
                    str(raw.get("id", "")), int(raw["code"]), str(raw.get("msg", ""))
                )
        return BatchResult(ok=ok, failed=failed)

    def wait_for_adb(self, phone_id: str, timeout_s: float = 60.0, poll_s: float = 2.0) -> AdbInfo:
        """Poll ``/adb/getData`` until ip/port/pwd are present; WaitTimeout after ``timeout_s``.
        ItemFailed at once for a phone that is not running or not found."""
        deadline = self.timer() + timeout_s
        while True:
            result = self.adb_data([phone_id])
            item = result.failed.get(phone_id)
            if item is not None and item.code != Code.ADB_NOT_ENABLED:
                raise ItemFailed("adb", item)
            info = result.ok.get(phone_id)
            if info is not None and info.ready:
                return info
            if self.timer() >= deadline:
                raise WaitTimeout(f"ADB of phone {phone_id} not ready after {timeout_s:.0f}s")
            self.sleep(poll_s)

    # -- uploads to a phone (storage: geelark.taskclient) ----------------------------------------
    def upload_file_to_phone(self, phone_id: str, file_url: str) -> str:
        """``/phone/uploadFile``; returns the task id. Not retried on ambiguity (OutcomeUnknown)."""
        data = self.transport.call(
            "/phone/uploadFile", {"id": str(phone_id), "fileUrl": file_url}, Safety.WRITE
        )
        return str((data or {})["taskId"])

    def upload_result(self, task_id: str) -> UploadStatus:
        data = self.transport.call("/phone/uploadFile/result", {"taskId": str(task_id)}, Safety.READ) or {}
        return UploadStatus(int(data.get("status", UploadStatus.UNKNOWN)))

    def upload_video(
        self, phone_id: str, path: Path, *, timeout_s: float = 120.0, poll_s: float = 2.0
    ) -> str:
        """The whole chain: storage upload (getUrl + PUT), upload to the phone, poll until done.
        Returns the task id; raises UnsupportedFile (before any request), UploadFailed (task
        failed) or WaitTimeout."""
        stored = self.upload_to_storage(path)
        task_id = self.upload_file_to_phone(phone_id, stored.resource_url)
        deadline = self.timer() + timeout_s
        while True:
            status = self.upload_result(task_id)
            if status is UploadStatus.SUCCESS:
                return task_id
            if status in (UploadStatus.FAILED, UploadStatus.UNKNOWN):
                raise UploadFailed(f"upload task {task_id} to phone {phone_id} ended {status.name}")
            if self.timer() >= deadline:
                raise WaitTimeout(f"upload task {task_id} still uploading after {timeout_s:.0f}s")
            self.sleep(poll_s)

    # -- account -----------------------------------------------------------------------------
    def wallet(self) -> Wallet:
        return Wallet.from_api(self.transport.call("/pay/wallet", {}, Safety.READ) or {})

    def check_auth(self) -> None:
        """``/auth/status``: returns if the credentials work, raises AuthError otherwise."""
        self.transport.call("/auth/status", {}, Safety.READ)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> GeeLarkClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
