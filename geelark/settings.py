"""Client settings: one frozen dataclass, from the environment or from config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from geelark.errors import ConfigError

DEFAULT_BASE_URL = "https://openapi.geelark.com"
SECRET_FIELDS = frozenset({"api_key", "token"})

# Documented tighter per-endpoint limits (geelark.md §9); everything else uses the default.
DEFAULT_ENDPOINT_LIMITS: Mapping[str, int] = MappingProxyType({"/pay/wallet": 10, "/pay/plan/info": 1})


@dataclass(frozen=True)
class GeeLarkSettings:
    """How to reach GeeLark. Exactly one auth mode is used: the token if set, else appId + apiKey.

    rate_limit_per_minute: requests per endpoint per ``rate_window_s`` (GeeLark: 200 per minute).
    rate_window_s: the limit window; a simulator run at time scale X uses 60 * X.
    rate_margin_s: the client counts over window + margin, so requests in flight never straddle.
    rate_limit_dir: if set, the budget is shared by every process using this folder (filelock).
    max_attempts: attempts per call for safe retries (reads, 40007, transient errors).
    breaker_threshold / breaker_cooldown_s: consecutive transport failures that open the
    circuit, and how long it stays open; 40014 opens it for ``lockout_s`` (two hours).
    """

    base_url: str = DEFAULT_BASE_URL
    app_id: str = ""
    api_key: str = ""
    token: str = ""
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    upload_timeout_s: float = 120.0
    rate_limit_per_minute: int = 200
    endpoint_limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_ENDPOINT_LIMITS)
    rate_window_s: float = 60.0
    rate_margin_s: float = 1.0
    rate_limit_dir: Path | None = None
    max_attempts: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 20.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 60.0
    lockout_s: float = 2 * 3600.0

    def __post_init__(self) -> None:
        if self.rate_limit_per_minute < 1 or self.max_attempts < 1 or self.rate_window_s <= 0:
            raise ConfigError("rate_limit_per_minute, max_attempts and rate_window_s must be positive")

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                shown.append(f"{f.name}={'***' if value else ''!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"GeeLarkSettings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def auth_mode(self) -> str:
        """``"token"`` or ``"key"``; raises ConfigError when neither is configured."""
        if self.token:
            return "token"
        if self.app_id and self.api_key:
            return "key"
        raise ConfigError(
            "GeeLark credentials missing: set GEELARK_TOKEN or GEELARK_APP_ID + GEELARK_API_KEY"
        )

    def limit_for(self, path: str) -> int:
        """Requests allowed per window on ``path``."""
        return min(self.endpoint_limits.get(path, self.rate_limit_per_minute), self.rate_limit_per_minute)

    def with_(self, **changes: Any) -> GeeLarkSettings:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def time_scaled(self, scale: float, min_wait_s: float = 0.05) -> GeeLarkSettings:
        """For a simulator run at time scale ``scale``: its rate window lasts ``60 * scale`` seconds,
        so the client's window, margin, backoff and breaker pause shrink with it (never below
        ``min_wait_s``)."""
        window = 60.0 * scale
        return replace(
            self,
            rate_window_s=window,
            rate_margin_s=min(1.0, window),
            backoff_initial_s=max(min_wait_s, scale),
            backoff_max_s=max(min_wait_s, 20 * scale),
            breaker_cooldown_s=max(min_wait_s, self.breaker_cooldown_s * scale),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> GeeLarkSettings:
        """Read ``GEELARK_BASE_URL``, ``GEELARK_APP_ID``, ``GEELARK_API_KEY``, ``GEELARK_TOKEN``
        (and optionally ``GEELARK_RATE_LIMIT_DIR``); keyword ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "base_url": env.get("GEELARK_BASE_URL") or DEFAULT_BASE_URL,
            "app_id": env.get("GEELARK_APP_ID", ""),
            "api_key": env.get("GEELARK_API_KEY", ""),
            "token": env.get("GEELARK_TOKEN", ""),
        }
        if env.get("GEELARK_RATE_LIMIT_DIR"):
            values["rate_limit_dir"] = Path(env["GEELARK_RATE_LIMIT_DIR"])
        values.update(overrides)
        return cls(**values)
