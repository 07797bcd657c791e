"""One GeeLark call: sign, budget, send with timeouts, read the envelope, retry where safe.

Retry policy (tenacity), by what the call may have done:
- READ and IDEMPOTENT (stop, ADB switch): retried on transport errors, 5xx/524, 40000, 50000,
  40017, 47002 with exponential backoff, and on 40007 after the next rate window begins.
- WRITE (start, upload to phone): retried only when the server certainly did nothing (the
  connection never opened, 40007, 40017, 47002). Any ambiguous failure (timeout after send,
  dropped connection, 5xx, 50000) raises OutcomeUnknown at once; the caller re-reads state.
The breaker sees every attempt; 40014 opens it for two hours and raises CircuitOpen.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import requests
import tenacity
from urllib3.exceptions import NewConnectionError

from geelark.auth import bearer_headers, key_headers, new_trace_id
from geelark.breaker import CircuitBreaker
from geelark.errors import (
    ApiError,
    BadResponse,
    ConnectFailed,
    ConnectionDropped,
    GeeLarkError,
    HourlyLockout,
    HttpStatusError,
    OutcomeUnknown,
    RateLimited,
    RequestTimeout,
    RetryableApiError,
    TransportError,
    UploadFailed,
    error_for_code,
)
from geelark.ratelimit import LocalRateLimiter, RateLimiter, SharedRateLimiter
from geelark.settings import GeeLarkSettings
from geelark.status import Code

log = logging.getLogger("geelark.client")

API_PREFIX = "/open/v1"
_REJECTED_CODES = frozenset({Code.RATE_LIMITED, Code.TRY_LATER, Code.RESOURCES_BUSY})


class Safety(Enum):
    READ = "read"
    IDEMPOTENT = "idempotent"
    WRITE = "write"


def certainly_not_done(exc: BaseException) -> bool:
    """The server did not act on the request: never sent, or refused before acting."""
    if isinstance(exc, TransportError):
        return not exc.sent
    return isinstance(exc, ApiError) and exc.code in _REJECTED_CODES


def should_retry(exc: BaseException, safety: Safety) -> bool:
    """Pure retry decision for one failed attempt."""
    if not isinstance(exc, GeeLarkError) or not exc.retryable or isinstance(exc, OutcomeUnknown):
        return False
    if not isinstance(exc, TransportError | RetryableApiError | RateLimited):
        return False
    return safety is not Safety.WRITE or certainly_not_done(exc)


def translate(exc: requests.RequestException, path: str, trace_id: str) -> TransportError:
    """requests' exception -> ours (the message names the path, never the payload)."""
    if isinstance(exc, requests.ConnectTimeout):
        return ConnectFailed(f"connect to GeeLark timed out ({path})", trace_id=trace_id)
    if isinstance(exc, requests.Timeout):
        return RequestTimeout(f"GeeLark {path} did not answer in time", trace_id=trace_id)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError):
        return ConnectFailed(f"cannot connect to GeeLark ({path})", trace_id=trace_id)
    return ConnectionDropped(
        f"connection to GeeLark dropped during {path}: {type(exc).__name__}", trace_id=trace_id
    )


def wall_and_timer(
    clock: Callable[[], float] | None, timer: Callable[[], float] | None
) -> tuple[Callable[[], float], Callable[[], float]]:
    """(wall clock, timer for waits): real ``time.time`` and ``time.monotonic`` by default; a fake
    ``clock`` alone (tests) serves as both."""
    if clock is None:
        return time.time, timer or time.monotonic
    return clock, timer or clock


class Transport:
    """Shared by every endpoint method of one client: one session, limiter and breaker."""

    def __init__(
        self,
        settings: GeeLarkSettings,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] | None = None,
        timer: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        settings.auth_mode  # noqa: B018 - fail fast on missing credentials
        self.session = session or requests.Session()
        clock, timer = wall_and_timer(clock, timer)
        self.clock = clock
        self.sleep = sleep
        window, margin = settings.rate_window_s, settings.rate_margin_s
        if limiter is None and settings.rate_limit_dir is not None:
            limiter = SharedRateLimiter(settings.rate_limit_dir, window, margin, clock=clock, sleep=sleep)
        self.limiter = limiter or LocalRateLimiter(window, margin, clock=clock, sleep=sleep)
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_threshold, settings.breaker_cooldown_s, clock=timer, wall=clock
        )
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.backoff_initial_s,
            max=settings.backoff_max_s,
            jitter=settings.backoff_initial_s,
        )

    def call(self, path: str, body: dict[str, Any], safety: Safety) -> Any:
        """POST ``body`` to ``/open/v1<path>``; returns the envelope's ``data``."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda exc: should_retry(exc, safety)),
            sleep=self.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        try:
            return retrying(self._attempt, path, body)
        except (TransportError, RetryableApiError) as exc:
            if safety is Safety.WRITE and not certainly_not_done(exc):
                raise OutcomeUnknown(
                    f"GeeLark {path} may or may not have taken effect ({exc})", cause=exc
                ) from exc
            raise

    def _attempt(self, path: str, body: dict[str, Any]) -> Any:
        self.breaker.check()
        self.limiter.acquire(path, self.settings.limit_for(path))
        trace_id = new_trace_id()
        headers = self._auth_headers(trace_id)
        started = time.monotonic()
        try:
            response = self.session.post(
                self.settings.base_url.rstrip("/") + API_PREFIX + path,
                data=json.dumps(body),
                headers=headers,
                timeout=(self.settings.connect_timeout_s, self.settings.read_timeout_s),
            )
        except requests.RequestException as exc:
            failure = translate(exc, path, trace_id)
            self.breaker.record_failure(f"{type(failure).__name__} on {path}")
            raise failure from None
        envelope = self._envelope(response, path, trace_id)
        trace_id = str(envelope.get("traceId") or trace_id)
        code = int(envelope.get("code", -1))
        log.debug(
            "geelark %s code=%s trace=%s %.0fms", path, code, trace_id, (time.monotonic() - started) * 1000
        )
        if code == Code.OK:
            return envelope.get("data")
        error = error_for_code(
            code, str(envelope.get("msg", "")), trace_id=trace_id, path=path, data=envelope.get("data")
        )
        if isinstance(error, HourlyLockout):
            raise self.breaker.trip(
                self.settings.lockout_s, f"GeeLark locked the account (40014 on {path})"
            ) from error
        raise error

    def _envelope(self, response: requests.Response, path: str, trace_id: str) -> dict[str, Any]:
        if response.status_code != 200:
            error: TransportError = HttpStatusError(
                f"GeeLark {path} answered HTTP {response.status_code}",
                status=response.status_code,
                trace_id=trace_id,
            )
        else:
            try:
                envelope = response.json()
            except ValueError:
                envelope = None
            if isinstance(envelope, dict) and "code" in envelope:
                self.breaker.record_success()
                return envelope
            error = BadResponse(f"GeeLark {path} answered without a JSON envelope", trace_id=trace_id)
        self.breaker.record_failure(str(error))
        raise error

    def _auth_headers(self, trace_id: str) -> dict[str, str]:
        s = self.settings
        if s.auth_mode == "token":
            headers = bearer_headers(s.token, trace_id=trace_id)
        else:
            headers = key_headers(s.app_id, s.api_key, trace_id=trace_id)
        headers["Content-Type"] = "application/json"
        return headers

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            window = self.settings.rate_window_s
            return window - (self.clock() % window) + min(1.0, window * 0.02)
        return float(self._backoff(state))

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("geelark retry %d in %.1fs after %s", state.attempt_number, wait, exc)

    def put_file(self, url: str, path: Path) -> None:
        """PUT a file to an upload URL: no auth headers, upload timeout, one retry on 5xx or a
        transport error (the PUT is idempotent). UploadFailed on any other answer."""
        for attempt in (1, 2):
            try:
                with path.open("rb") as fh:
                    timeout = (self.settings.connect_timeout_s, self.settings.upload_timeout_s)
                    response = self.session.put(url, data=fh, timeout=timeout)
            except requests.RequestException as exc:
                if attempt == 2:
                    raise translate(exc, "upload PUT", "") from None
                continue
            if response.status_code == 200:
                return
            if attempt == 2 or response.status_code < 500:
                raise UploadFailed(f"upload PUT answered HTTP {response.status_code}")

    def close(self) -> None:
        self.session.close()
