"""GeeLark status and error codes: the only place they are spelled out.

Phone status (``/phone/list``, ``/phone/status``): 0 = RUNNING. The original tool read these
backwards and its stop-all skipped every running phone, so nothing else in the code base may
compare a status against a bare number. Publishing tasks have their own status numbers
(``TaskStatus``, 1 = waiting) and failure codes (``FailCode``); what a failure code means for a
job is decided in ``geelark.verdict``.
"""

from __future__ import annotations

from enum import IntEnum


class PhoneStatus(IntEnum):
    """``status`` of a cloud phone as the API reports it."""

    RUNNING = 0
    STARTING = 1
    STOPPED = 2
    EXPIRED = 3

    @property
    def is_up(self) -> bool:
        """True while the phone is booting or running (and so may be billing)."""
        return self in (PhoneStatus.RUNNING, PhoneStatus.STARTING)


class UploadStatus(IntEnum):
    """``status`` of ``/phone/uploadFile/result``."""

    UNKNOWN = 0  # "failed to retrieve": unknown task or older than one hour
    UPLOADING = 1
    SUCCESS = 2
    FAILED = 3


class ChargeMode(IntEnum):
    """``chargeMode`` of a phone."""

    PER_MINUTE = 0
    MONTHLY = 1


class Code(IntEnum):
    """Envelope and per-item ``code`` values (geelark.md §3, §4)."""

    OK = 0
    UNKNOWN = 40000
    BAD_BODY = 40001
    NO_TRACE_ID = 40002
    AUTH_FAILED = 40003
    INVALID_PARAMS = 40004
    NOT_EXIST = 40005
    PARTIAL_SUCCESS = 40006
    RATE_LIMITED = 40007
    BAD_PAGING = 40008
    BATCH_FAILED = 40009
    OCCUPIED = 40010
    PAID_ONLY = 40011
    DEPRECATED = 40012
    USER_NOT_FOUND = 40013
    HOURLY_LOCK = 40014
    NO_PERMISSION = 40015
    IP_NOT_WHITELISTED = 40016
    TRY_LATER = 40017
    TASK_CREDITS_LOW = 41000
    BALANCE_LOW = 41001
    PHONE_NOT_FOUND = 42001
    PHONE_NOT_RUNNING = 42002
    TASK_APP_VERSION_INVALID = 42008
    PHONE_EXPIRED = 43004
    PHONE_BUSY_TASK = 43005
    PHONE_REMOTE_CONNECTED = 43006
    PHONE_IN_USE = 43007
    DAILY_OPEN_LIMIT = 43008
    PHONE_ALREADY_STARTED = 43009
    MONTHLY_NOT_BOUND = 43018
    UNAVAILABLE_TRY_LATER = 43020
    MODEL_MAINTENANCE = 43029
    PROXY_UNAVAILABLE = 45002
    RESOURCES_BUSY = 47002
    DEVICE_MISSING = 47004
    TASK_RETRY_LIMIT = 48000
    TASK_STATUS_FORBIDS = 48001
    TASK_NOT_FOUND = 48002
    TASK_MATERIAL_EXPIRED = 48003
    TASK_APP_REQUIRED = 48004
    ADB_NOT_ENABLED = 49001
    ADB_NOT_SUPPORTED = 49002
    SERVER_ERROR = 50000


MESSAGES: dict[int, str] = {
    Code.OK: "success",
    Code.UNKNOWN: "unknown error",
    Code.BAD_BODY: "failed to read request body",
    Code.NO_TRACE_ID: "traceId is empty",
    Code.AUTH_FAILED: "signature verification failed",
    Code.INVALID_PARAMS: "request parameter validation failed",
    Code.NOT_EXIST: "requested resource does not exist",
    Code.PARTIAL_SUCCESS: "partial success",
    Code.RATE_LIMITED: "too many requests in a short time, please try again later",
    Code.BAD_PAGING: "invalid pagination",
    Code.BATCH_FAILED: "process all failure",
    Code.HOURLY_LOCK: "hourly limit exceeded, locked for two hours",
    Code.TASK_CREDITS_LOW: "insufficient task credits",
    Code.BALANCE_LOW: "balance not enough",
    Code.PHONE_NOT_FOUND: "env not found",
    Code.PHONE_NOT_RUNNING: "env not running",
    Code.PHONE_EXPIRED: "env is expired",
    Code.PHONE_BUSY_TASK: "env is executing a task",
    Code.PHONE_IN_USE: "env is in use by another user",
    Code.PHONE_ALREADY_STARTED: "env is started",
    Code.MONTHLY_NOT_BOUND: "the monthly cloud phone is not bound to a monthly device",
    Code.UNAVAILABLE_TRY_LATER: "currently unavailable, please try later",
    Code.MODEL_MAINTENANCE: "model under maintenance",
    Code.PROXY_UNAVAILABLE: "proxy unavailable",
    Code.RESOURCES_BUSY: "cloud phone resources are insufficient",
    Code.TASK_STATUS_FORBIDS: "the current task status does not allow the operation",
    Code.TASK_NOT_FOUND: "task does not exist",
    Code.TASK_APP_REQUIRED: "the app required by the task does not meet the requirements",
    Code.ADB_NOT_ENABLED: "adb not enabled",
    Code.ADB_NOT_SUPPORTED: "adb not supported",
    Code.SERVER_ERROR: "server err",
}


def message_for(code: int) -> str:
    """The server's usual ``msg`` for ``code`` (used by the simulator)."""
    return MESSAGES.get(code, f"error {code}")


class TaskStatus(IntEnum):
    """``status`` of a task (``/task/query``, ``/task/historyRecords``, ``/task/detail``).

    ``UNDOCUMENTED`` stands for any number the docs do not list (the raw value stays in
    ``Task.status_code``); it is treated as not finished.
    """

    UNDOCUMENTED = -1
    WAITING = 1
    RUNNING = 2
    COMPLETED = 3
    FAILED = 4
    CANCELLED = 7

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)

    @classmethod
    def parse(cls, value: int) -> TaskStatus:
        try:
            return cls(value)
        except ValueError:
            return cls.UNDOCUMENTED


class TaskType(IntEnum):
    """``taskType`` of a task. GeeLark's docs do not say which number an Instagram Reels task
    shows; the simulator reports ``CUSTOM`` (42, "other platforms")."""

    TIKTOK_VIDEO = 1
    TIKTOK_WARMUP = 2
    TIKTOK_IMAGE_SET = 3
    TIKTOK_LOGIN = 4
    TIKTOK_PROFILE_EDIT = 6
    CUSTOM = 42


class FailCode(IntEnum):
    """Task ``failCode`` values this project names (the full list is in GeeLark's Query_task
    doc; any other code is kept as a bare number)."""

    PHONE_BUSY = 20002
    EXECUTION_TIMEOUT = 20003
    TASK_CANCELED = 20005
    NO_NETWORK = 20100
    NO_NETWORK_AGAIN = 20108
    NOT_LOGGED_IN = 20116
    DEVICE_OFFLINE = 20129
    ACCOUNT_BLOCKED = 20136
    ACCOUNT_BLOCKED_APPEALABLE = 20137
    REPEATED_VIOLATIONS = 20145
    DOWNLOAD_FAILED = 20200
    UPLOAD_FAILED = 20201
    UPLOAD_STALLED = 20202
    UPLOAD_FAILING = 20203
    SAVED_TO_DRAFTS = 20251
    UPLOAD_TIMEOUT = 20257
    ACCOUNT_RESTRICTED = 20264
    BALANCE_LOW = 29997
    PHONE_DELETED = 29998
    UNKNOWN = 29999


FAIL_MESSAGES: dict[int, str] = {
    FailCode.PHONE_BUSY: "The machine is performing other tasks",
    FailCode.EXECUTION_TIMEOUT: "Execution timeout. Please view the publication on TikTok.",
    FailCode.TASK_CANCELED: "Task canceled",
    FailCode.NO_NETWORK: "No network connection",
    FailCode.NO_NETWORK_AGAIN: "No network connection",
    FailCode.NOT_LOGGED_IN: "The account is not logged in",
    FailCode.DEVICE_OFFLINE: "Device offline",
    FailCode.ACCOUNT_BLOCKED: "Account blocked",
    FailCode.ACCOUNT_BLOCKED_APPEALABLE: "The account has been blocked and you can appeal.",
    FailCode.REPEATED_VIOLATIONS: "Your account has repeatedly violated community guidelines",
    FailCode.DOWNLOAD_FAILED: "Failed to download file, please check the network or try again later",
    FailCode.UPLOAD_FAILED: "Failed to upload video, please check whether the network is smooth",
    FailCode.UPLOAD_STALLED: "Failed to upload the video. It has been 0% for five minutes.",
    FailCode.UPLOAD_FAILING: "Failed to upload video, failed for 15 minutes",
    FailCode.SAVED_TO_DRAFTS: "Video publishing failed, saved to drafts",
    FailCode.UPLOAD_TIMEOUT: "Video upload timed out",
    FailCode.ACCOUNT_RESTRICTED: "Account temporarily restricted",
    FailCode.BALANCE_LOW: "Insufficient balance",
    FailCode.PHONE_DELETED: "The cloud phone has been deleted",
    FailCode.UNKNOWN: "Unknown error",
}


def fail_message_for(code: int) -> str:
    """GeeLark's usual ``failDesc`` for ``code`` (used by the simulator)."""
    return FAIL_MESSAGES.get(code, f"task failure {code}")
