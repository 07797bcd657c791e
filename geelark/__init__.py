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
    GeeLarkError,
    HourlyLockout,
    HttpStatusError,
    Interrupted,
    InvalidRequest,
    ItemFailed,
    NotFound,
    OutcomeUnknown,
    PhoneNotFound,
    PhoneNotRunning,
    RateLimited,
    RequestTimeout,
    RetryableApiError,
    TransportError,
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
from geelark.status import ChargeMode, Code, PhoneStatus, UploadStatus

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
    "GeeLarkClient",
    "GeeLarkError",
    "GeeLarkSettings",
    "HourlyLockout",
    "HttpStatusError",
    "Interrupted",
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
    "RequestTimeout",
    "RetryableApiError",
    "SharedRateLimiter",
    "StartedPhone",
    "TransportError",
    "UploadFailed",
    "UploadStatus",
    "UploadUrl",
    "WaitTimeout",
    "Wallet",
    "error_for_code",
    "stoppable_sleep",
]
