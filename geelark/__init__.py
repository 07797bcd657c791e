"""GeeLark Open API client (and, in ``geelark.simulator``, a local simulator of the cloud).

from geelark import GeeLarkClient, GeeLarkSettings
with GeeLarkClient(GeeLarkSettings.from_env()) as gl:
    phone = gl.find_phone("account01")
    gl.start_phone(phone.id)
"""

from typing import TYPE_CHECKING, Any

from geelark.breaker import CircuitBreaker
from geelark.errors import (
    AccountError,
    ApiError,
    AuthError,
    BadResponse,
    BatchFailed,
    CircuitOpen,
    ConfigError,
    ConnectFailed,
    ConnectionDropped,
    CreateAmbiguous,
    DuplicateTasks,
    GeeLarkError,
    HourlyLockout,
    HttpStatusError,
    Interrupted,
    InvalidPost,
    InvalidRequest,
    ItemFailed,
    NotFound,
    OutcomeUnknown,
    PhoneNotFound,
    PhoneNotRunning,
    RateLimited,
    RequestTimeout,
    RetryableApiError,
    TaskNotFound,
    TransportError,
    UnsupportedFile,
    UploadFailed,
    WaitTimeout,
    error_for_code,
)
from geelark.models import (
    AdbInfo,
    BatchResult,
    ItemError,
    Phone,
    PhonePage,
    PhoneState,
    StartedPhone,
    UploadUrl,
    Wallet,
)
from geelark.pause import stoppable_sleep
from geelark.ratelimit import LocalRateLimiter, RateLimiter, SharedRateLimiter
from geelark.settings import GeeLarkSettings
from geelark.status import ChargeMode, Code, FailCode, PhoneStatus, TaskStatus, TaskType, UploadStatus
from geelark.tasks import (
    ReelsPost,
    StoredFile,
    Task,
    TaskDetail,
    TaskPage,
    TaskPost,
    TaskRef,
    TikTokPost,
    job_id_from_task_name,
    task_name,
)
from geelark.verdict import (
    TaskOutcome,
    TaskVerdict,
    classify_create_error,
    classify_fail_code,
    deciding_task,
    judge_task,
    may_have_posted,
    verify_completed,
)

if TYPE_CHECKING:
    from geelark.client import GeeLarkClient


def __getattr__(name: str) -> Any:
    # The client pulls in `requests` (~0.1 s); settings, errors and status codes do not need it, and
    # `parallel-orchestrator --status` must start fast.
    if name == "GeeLarkClient":
        from geelark.client import GeeLarkClient

        return GeeLarkClient
    raise AttributeError(f"module 'geelark' has no attribute {name!r}")


__all__ = [
    "AccountError",
    "AdbInfo",
    "ApiError",
    "AuthError",
    "BadResponse",
    "BatchFailed",
    "BatchResult",
    "ChargeMode",
    "CircuitBreaker",
    "CircuitOpen",
    "Code",
    "ConfigError",
    "ConnectFailed",
    "ConnectionDropped",
    "CreateAmbiguous",
    "DuplicateTasks",
    "FailCode",
    "GeeLarkClient",
    "GeeLarkError",
    "GeeLarkSettings",
    "HourlyLockout",
    "HttpStatusError",
    "Interrupted",
    "InvalidPost",
    "InvalidRequest",
    "ItemError",
    "ItemFailed",
    "LocalRateLimiter",
    "NotFound",
    "OutcomeUnknown",
    "Phone",
    "PhoneNotFound",
    "PhoneNotRunning",
    "PhonePage",
    "PhoneState",
    "PhoneStatus",
    "RateLimited",
    "RateLimiter",
    "ReelsPost",
    "RequestTimeout",
    "RetryableApiError",
    "SharedRateLimiter",
    "StartedPhone",
    "StoredFile",
    "Task",
    "TaskDetail",
    "TaskNotFound",
    "TaskOutcome",
    "TaskPage",
    "TaskPost",
    "TaskRef",
    "TaskStatus",
    "TaskType",
    "TaskVerdict",
    "TikTokPost",
    "TransportError",
    "UnsupportedFile",
    "UploadFailed",
    "UploadStatus",
    "UploadUrl",
    "WaitTimeout",
    "Wallet",
    "classify_create_error",
    "classify_fail_code",
    "deciding_task",
    "error_for_code",
    "job_id_from_task_name",
    "judge_task",
    "may_have_posted",
    "stoppable_sleep",
    "task_name",
    "verify_completed",
]
