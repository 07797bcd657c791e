"""GeeLark status and error codes: the only place they are spelled out.

Phone status (``/phone/list``, ``/phone/status``): 0 = RUNNING. The original tool read these
backwards and its stop-all skipped every running phone, so nothing else in the code base may
compare a status against a bare number.
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
    PHONE_EXPIRED = 43004
    PHONE_BUSY_TASK = 43005
    PHONE_REMOTE_CONNECTED = 43006
    PHONE_IN_USE = 43007
    DAILY_OPEN_LIMIT = 43008
    PHONE_ALREADY_STARTED = 43009
    UNAVAILABLE_TRY_LATER = 43020
    MODEL_MAINTENANCE = 43029
    PROXY_UNAVAILABLE = 45002
    RESOURCES_BUSY = 47002
    DEVICE_MISSING = 47004
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
    Code.RATE_LIMITED: "too many requests in a short time, please try again later",
    Code.BAD_PAGING: "invalid pagination",
    Code.HOURLY_LOCK: "hourly limit exceeded, locked for two hours",
    Code.BALANCE_LOW: "balance not enough",
    Code.PHONE_NOT_FOUND: "env not found",
    Code.PHONE_NOT_RUNNING: "env not running",
    Code.PHONE_EXPIRED: "env is expired",
    Code.PHONE_BUSY_TASK: "env is executing a task",
    Code.PHONE_IN_USE: "env is in use by another user",
    Code.PHONE_ALREADY_STARTED: "env is started",
    Code.UNAVAILABLE_TRY_LATER: "currently unavailable, please try later",
    Code.MODEL_MAINTENANCE: "model under maintenance",
    Code.PROXY_UNAVAILABLE: "proxy unavailable",
    Code.RESOURCES_BUSY: "cloud phone resources are insufficient",
    Code.ADB_NOT_ENABLED: "adb not enabled",
    Code.ADB_NOT_SUPPORTED: "adb not supported",
    Code.SERVER_ERROR: "server err",
}


def message_for(code: int) -> str:
    """The server's usual ``msg`` for ``code`` (used by the simulator)."""
    return MESSAGES.get(code, f"error {code}")
