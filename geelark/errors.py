"""The one exception tree of the geelark client.

    GeeLarkError                      root; .code .message .trace_id and five meaning flags
    +-- ConfigError                   settings incomplete/invalid (no request was sent)
    +-- TransportError                no valid envelope came back (retryable)
    |   +-- ConnectFailed             the request never left (safe to repeat anything)
    |   +-- RequestTimeout            sent, no answer in time (ambiguous)
    |   +-- ConnectionDropped         connection died mid-call (ambiguous)
    |   +-- HttpStatusError           non-200 answer, e.g. 502 / 524 (.status)
    |   +-- BadResponse               200 but not a JSON envelope
    +-- OutcomeUnknown                a state-changing call failed ambiguously; NOT retried
    |   +-- CreateAmbiguous           a task create may have made a task: look it up by name
    +-- CircuitOpen                   the client refuses to call until .until (.reason)
    +-- ApiError                      envelope code != 0 (.code); subclasses below by meaning
    |   +-- RetryableApiError         40000 40017 47002 50000
    |   +-- RateLimited               40007 (wait for the next minute)
    |   +-- HourlyLockout             40014 (two-hour lock; opens the breaker)
    |   +-- AuthError                 40002 40003 40015 40016 (account/config)
    |   +-- AccountError              40011 40013 41000 41001 42008 43004 43018 48004
    |   +-- InvalidRequest            40001 40004 40008 40012 (bug)
    |   +-- NotFound                  40005 42001
    |   +-- PhoneNotRunning           42002
    |   +-- BatchFailed               40006 40009 (per item)
    +-- ItemFailed                    one id of a batch call failed (.item: ItemError)
    +-- PhoneNotFound                 find_phone() found no phone with that serial name
    +-- WaitTimeout                   a poll (boot, ADB, upload) ran out of time
    +-- UploadFailed                  the upload task ended failed / unretrievable
    +-- Interrupted                   the caller's stop cut a wait short (see geelark.pause)
    +-- UnsupportedFile               no such file, or a type GeeLark storage does not take (per item)
    +-- InvalidPost                   a task's fields break GeeLark's documented limits (per item)
    +-- TaskNotFound                  GeeLark does not know this task id
    +-- DuplicateTasks                more than one task carries one job's name

Messages carry codes, GeeLark's ``msg``, paths and trace ids; never credentials, ADB
passwords or start URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geelark.models import ItemError
from geelark.status import Code


class GeeLarkError(Exception):
    """Root of every error the geelark package raises."""

    retryable = False  # the same call may succeed later
    rate_limited = False  # GeeLark's request quota said no
    account_or_config = False  # credentials, permissions, balance: a human must act
    per_item = False  # one id of a batch failed, the others may be fine
    unreachable = False  # GeeLark itself did not answer (retries spent): an outage, not this call's fault

    def __init__(self, message: str, *, code: int | None = None, trace_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.trace_id = trace_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.trace_id:
            parts.append(f"trace={self.trace_id}")
        return " ".join(parts)


class ConfigError(GeeLarkError):
    account_or_config = True


class TransportError(GeeLarkError):
    retryable = True
    unreachable = True
    sent = True  # False only when we know the request never reached the server


class ConnectFailed(TransportError):
    sent = False


class RequestTimeout(TransportError):
    pass


class ConnectionDropped(TransportError):
    pass


class HttpStatusError(TransportError):
    def __init__(self, message: str, *, status: int, trace_id: str = "") -> None:
        super().__init__(message, trace_id=trace_id)
        self.status = status
        self.retryable = status >= 500
        self.unreachable = status >= 500  # a 4xx is an answer (a wrong URL), not an outage


class BadResponse(TransportError):
    pass


class OutcomeUnknown(GeeLarkError):
    """A call that may have changed state failed after it was sent; the caller must re-read."""

    def __init__(self, message: str, *, cause: GeeLarkError) -> None:
        super().__init__(message, code=cause.code, trace_id=cause.trace_id)
        self.cause = cause
        self.unreachable = cause.unreachable


class CircuitOpen(GeeLarkError):
    """The breaker is open: no request is sent until ``until`` (UTC)."""

    retryable = True
    unreachable = True

    def __init__(self, *, until: datetime, reason: str) -> None:
        super().__init__(f"GeeLark circuit open until {until.isoformat(timespec='seconds')}: {reason}")
        self.until = until
        self.reason = reason


class ApiError(GeeLarkError):
    """GeeLark answered with a non-zero envelope ``code``."""

    def __init__(
        self, message: str, *, code: int, trace_id: str = "", path: str = "", data: Any = None
    ) -> None:
        super().__init__(message, code=code, trace_id=trace_id)
        self.path = path
        self.data = data  # the envelope's data, e.g. the per-item details of 40006 / 40009


class RetryableApiError(ApiError):
    retryable = True


class RateLimited(ApiError):
    retryable = True
    rate_limited = True


class HourlyLockout(ApiError):
    rate_limited = True
    account_or_config = True
    unreachable = True  # GeeLark refuses every call for two hours: nothing can work meanwhile


class AuthError(ApiError):
    account_or_config = True


class AccountError(ApiError):
    account_or_config = True


class InvalidRequest(ApiError):
    pass


class NotFound(ApiError):
    pass


class PhoneNotRunning(ApiError):
    retryable = True


class BatchFailed(ApiError):
    per_item = True


class ItemFailed(GeeLarkError):
    """One id of a batch call failed; ``item`` says which and why."""

    per_item = True

    def __init__(self, action: str, item: ItemError) -> None:
        super().__init__(f"{action} failed for phone {item.id}: {item.msg}", code=item.code)
        self.item = item
        self.retryable = item.code in RETRYABLE_ITEM_CODES
        self.account_or_config = item.code in ACCOUNT_ITEM_CODES


class PhoneNotFound(GeeLarkError):
    account_or_config = True

    def __init__(self, serial_name: str) -> None:
        super().__init__(f"no cloud phone named {serial_name!r}")
        self.serial_name = serial_name


class WaitTimeout(GeeLarkError):
    retryable = True


class UploadFailed(GeeLarkError):
    retryable = True


_BY_CODE: dict[int, type[ApiError]] = {
    Code.UNKNOWN: RetryableApiError,
    Code.TRY_LATER: RetryableApiError,
    Code.RESOURCES_BUSY: RetryableApiError,
    Code.SERVER_ERROR: RetryableApiError,
    Code.RATE_LIMITED: RateLimited,
    Code.HOURLY_LOCK: HourlyLockout,
    Code.NO_TRACE_ID: AuthError,
    Code.AUTH_FAILED: AuthError,
    Code.NO_PERMISSION: AuthError,
    Code.IP_NOT_WHITELISTED: AuthError,
    Code.PAID_ONLY: AccountError,
    Code.USER_NOT_FOUND: AccountError,
    Code.TASK_CREDITS_LOW: AccountError,
    Code.BALANCE_LOW: AccountError,
    Code.TASK_APP_VERSION_INVALID: AccountError,
    Code.PHONE_EXPIRED: AccountError,
    Code.MONTHLY_NOT_BOUND: AccountError,
    Code.TASK_APP_REQUIRED: AccountError,
    Code.BAD_BODY: InvalidRequest,
    Code.INVALID_PARAMS: InvalidRequest,
    Code.BAD_PAGING: InvalidRequest,
    Code.DEPRECATED: InvalidRequest,
    Code.NOT_EXIST: NotFound,
    Code.PHONE_NOT_FOUND: NotFound,
    Code.TASK_NOT_FOUND: NotFound,
    Code.PHONE_NOT_RUNNING: PhoneNotRunning,
    Code.PARTIAL_SUCCESS: BatchFailed,
    Code.BATCH_FAILED: BatchFailed,
}

RETRYABLE_ITEM_CODES = frozenset(
    {
        Code.PHONE_NOT_RUNNING,
        Code.PHONE_BUSY_TASK,
        Code.PHONE_REMOTE_CONNECTED,
        Code.UNAVAILABLE_TRY_LATER,
        Code.MODEL_MAINTENANCE,
        Code.PROXY_UNAVAILABLE,
        Code.RESOURCES_BUSY,
        Code.ADB_NOT_ENABLED,
        Code.SERVER_ERROR,
    }
)
ACCOUNT_ITEM_CODES = frozenset(
    {
        Code.BALANCE_LOW,
        Code.PHONE_NOT_FOUND,
        Code.PHONE_EXPIRED,
        Code.PHONE_IN_USE,
        Code.DAILY_OPEN_LIMIT,
        Code.DEVICE_MISSING,
        Code.ADB_NOT_SUPPORTED,
    }
)


def error_for_code(code: int, msg: str, *, trace_id: str = "", path: str = "", data: Any = None) -> ApiError:
    """The typed exception for a non-zero envelope ``code`` (unknown codes: plain ApiError)."""
    cls = _BY_CODE.get(code, ApiError)
    return cls(f"GeeLark {path or 'call'} failed: {msg}", code=code, trace_id=trace_id, path=path, data=data)


class Interrupted(GeeLarkError):
    """A wait (retry backoff, rate window, poll) was cut short because the caller is stopping.

    Raised only between requests, never while one is in flight: what the last request did is what
    the error before the wait said. Not retryable: the caller asked to stop.
    """


class CreateAmbiguous(OutcomeUnknown):
    """A task create failed after it was sent (timeout, dropped connection, 5xx, 50000): GeeLark
    may or may not have made the task. Never create again before looking the task up by
    ``task_name`` (``GeeLarkClient.find_task_by_name``); a second create could post twice."""

    def __init__(self, *, task_name: str, job_id: str, phone_id: str, cause: GeeLarkError) -> None:
        super().__init__(
            f"creating task {task_name!r} on phone {phone_id} may or may not have worked ({cause})",
            cause=cause,
        )
        self.task_name = task_name
        self.job_id = job_id
        self.phone_id = phone_id


class UnsupportedFile(GeeLarkError):
    """The file is missing or its extension is not one GeeLark storage accepts (nothing was sent)."""

    per_item = True

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"cannot upload {name!r} to GeeLark storage: {problem}")
        self.name = name


class InvalidPost(GeeLarkError):
    """A publishing task's fields break GeeLark's documented limits (nothing was sent)."""

    per_item = True

    def __init__(self, job_id: str, problem: str) -> None:
        super().__init__(f"job {job_id}: {problem}")
        self.job_id = job_id


class TaskNotFound(GeeLarkError):
    """``/task/query`` did not return this task id (unknown, or older than GeeLark keeps)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"GeeLark knows no task {task_id}")
        self.task_id = task_id


class DuplicateTasks(GeeLarkError):
    """Several tasks carry one job's name: the job may have been posted more than once, a human
    must look (``task_ids`` lists them)."""

    def __init__(self, task_name: str, task_ids: tuple[str, ...]) -> None:
        super().__init__(f"{len(task_ids)} GeeLark tasks are named {task_name!r}: {', '.join(task_ids)}")
        self.task_name = task_name
        self.task_ids = task_ids
