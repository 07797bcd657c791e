"""Error classification: an exception (or, as a last resort, its message) -> a queue Outcome.

Pure and table-driven. Typed exceptions are classified by type first (our own errors carry their
meaning, GeeLark errors carry codes, Selenium/urllib3 errors name what broke); only what is left is
matched against MESSAGE_RULES, in order, first hit wins. The order matters and is tested against the
real messages of the original tool: navigation failures come before account texts (so an LLM's
"...try again later..." cannot block an account), GeeLark's rate limit before "try again later".
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import requests
from selenium.common import exceptions as sx
from urllib3 import exceptions as ux

from geelark import errors as ge
from geelark.status import Code
from jobqueue import Outcome, OutcomeKind
from worker import errors as we

ACCOUNT = OutcomeKind.ACCOUNT
INFRA = OutcomeKind.INFRASTRUCTURE
PERMANENT = OutcomeKind.PERMANENT
RETRYABLE = OutcomeKind.RETRYABLE
MESSAGE_LIMIT = 500
SELENIUM_DOC_LINK = "; For documentation on this error"


@dataclass(frozen=True)
class MessageRule:
    """A regular expression (searched, case-insensitive) and the outcome it means."""

    pattern: str
    kind: OutcomeKind
    error_type: str


ACCOUNT_TYPES = "captcha|logged_?out|suspended|terminated|banned|id_verification|verification|action_?blocked"

MESSAGE_RULES: tuple[MessageRule, ...] = (
    # Our navigation gave up; whatever text follows (an LLM's analysis) must not decide the class.
    MessageRule(
        r"max steps|loop stuck|vision analysis|post returned false|json parse failed",
        RETRYABLE,
        "navigation_failed",
    ),
    MessageRule(r"\b40007\b|\b40017\b|\b47002\b|too many requests|\b40014\b", INFRA, "rate_limited"),
    MessageRule(r"api error: 5\d\d\b|\b50000\b|server err\b|upstream server", INFRA, "geelark_server"),
    MessageRule(
        r"\b42002\b|env not running|phone is not running|phone not started|failed to start phone",
        INFRA,
        "phone_not_running",
    ),
    MessageRule(r"adb did not open|\b49001\b|adb not enabled", INFRA, "adb_not_ready"),
    MessageRule(r"phone not found|no cloud phone named|env not found|\b42001\b", ACCOUNT, "phone_not_found"),
    MessageRule(r"run glogin|login first|glogin", INFRA, "glogin_failed"),
    MessageRule(rf"(?:^|:)\s*({ACCOUNT_TYPES})\s*:", ACCOUNT, "<prefix>"),
    MessageRule(
        r"we disabled your account|permanently disabled|no longer have access|permanently deleted",
        ACCOUNT,
        "terminated",
    ),
    MessageRule(r"suspended", ACCOUNT, "suspended"),
    MessageRule(r"\bbanned\b|violating our terms", ACCOUNT, "banned"),
    MessageRule(
        r"verify your identity|verification required|security check|confirm it'?s you|"
        r"confirm your identity|video selfie|upload your id|verify your account",
        ACCOUNT,
        "verification",
    ),
    MessageRule(r"captcha|enter the code", ACCOUNT, "captcha"),
    MessageRule(r"logged out|log in to continue|login required", ACCOUNT, "logged_out"),
    MessageRule(r"action blocked|temporarily blocked|try again later", ACCOUNT, "action_blocked"),
    MessageRule(
        r"moov atom|video corrupted|invalid data found|zero duration|no duration",
        PERMANENT,
        "corrupted_video",
    ),
    MessageRule(r"video (file )?(is )?missing|no such file|file not found", PERMANENT, "video_missing"),
    MessageRule(
        r"never appeared in adb|not in the list of connected devices|device offline|"
        r"device not found|adb connection|adb timeout|device api level|adbexec|"
        r"android_home|android_sdk_root",
        INFRA,
        "adb_timeout",
    ),
    MessageRule(
        r"invalidsessionid|session is either terminated|session .* is not known|invalid session id",
        INFRA,
        "session_lost",
    ),
    MessageRule(r"local port #?\d+ is busy|eaddrinuse|address already in use", INFRA, "port_busy"),
    MessageRule(
        r"could not proxy|cannot be proxied|instrumentation process|uiautomator2? server|"
        r"session not created|socket hang up|probably crashed",
        INFRA,
        "appium_crash",
    ),
    MessageRule(
        r"max retries exceeded|connection refused|econnrefused|connection ?reset|broken pipe|"
        r"connection aborted|connection dropped|network error",
        INFRA,
        "connection_dropped",
    ),
    MessageRule(r"upload to phone failed|upload timeout|upload failed", INFRA, "upload_failed"),
    MessageRule(r"stale job cleanup", INFRA, "orphaned"),
)

_COMPILED = tuple((re.compile(r.pattern, re.IGNORECASE), r) for r in MESSAGE_RULES)


def classify(exc: BaseException) -> Outcome:
    """The queue outcome of an attempt that ended with `exc`."""
    text = describe(exc)
    typed = _classify_typed(exc)
    if typed is not None:
        kind, error_type = typed
        return Outcome(kind, error_type, text)
    found = classify_message(text)
    if isinstance(exc, sx.WebDriverException) and found.error_type == "unknown":
        return Outcome(INFRA, "appium_crash", text)
    return found


def cloud_unreachable(exc: BaseException) -> bool:
    """True when GeeLark itself did not answer, the client's own retries spent: connection refused or
    dropped, no answer in time, a 5xx, the breaker open, the two-hour lockout. That is an outage of
    the cloud, not a fault of the job, its phone or its account (see runtime.outage)."""
    return isinstance(exc, ge.GeeLarkError) and exc.unreachable


def classify_message(message: str) -> Outcome:
    """The outcome a free-text message means (the fallback); unknown -> RETRYABLE 'unknown'."""
    for regex, rule in _COMPILED:
        match = regex.search(message)
        if match is None:
            continue
        error_type = rule.error_type
        if error_type == "<prefix>":
            error_type = _normalise_account_type(match.group(1))
        return Outcome(rule.kind, error_type, _cut(message))
    return Outcome(RETRYABLE, "unknown", _cut(message))


def describe(exc: BaseException) -> str:
    """'Type: first line of the message', without stack traces or command lines (no secrets)."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"TimeoutExpired: command timed out after {exc.timeout:.0f} s"
    message = getattr(exc, "msg", None) if isinstance(exc, sx.WebDriverException) else None
    text = str(message if message else exc).strip().split(SELENIUM_DOC_LINK, 1)[0]
    first = text.splitlines()[0] if text else ""
    return _cut(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


def _classify_typed(exc: BaseException) -> tuple[OutcomeKind, str] | None:
    if isinstance(exc, we.WorkerError):
        return _classify_worker_error(exc)
    if isinstance(exc, ge.GeeLarkError):
        return _classify_geelark(exc)
    if isinstance(exc, sx.WebDriverException):
        return _classify_selenium(exc)
    if isinstance(exc, ux.HTTPError | ConnectionError | requests.ConnectionError | requests.Timeout):
        return INFRA, "connection_dropped"
    if isinstance(exc, subprocess.TimeoutExpired):
        return INFRA, "adb_timeout"
    return None


def _classify_worker_error(exc: we.WorkerError) -> tuple[OutcomeKind, str]:
    if isinstance(exc, we.AccountProblem):
        return ACCOUNT, exc.error_type
    if isinstance(exc, we.VideoUnavailable):
        return PERMANENT, exc.error_type
    if isinstance(exc, we.InfrastructureError):
        return INFRA, exc.error_type
    # JobError and PublishNotConfirmed: the queue turns a failure after the checkpoint into review.
    return RETRYABLE, exc.error_type


def _classify_geelark(exc: ge.GeeLarkError) -> tuple[OutcomeKind, str]:
    if isinstance(exc, ge.InvalidPost | ge.UnsupportedFile):
        return PERMANENT, "invalid_post"  # the job's own video or caption breaks GeeLark's limits
    if isinstance(exc, ge.PhoneNotFound | ge.NotFound):
        return ACCOUNT, "phone_not_found"
    if isinstance(exc, ge.ItemFailed):
        if exc.item.code in (Code.PHONE_NOT_FOUND, Code.PHONE_EXPIRED, Code.DEVICE_MISSING):
            return ACCOUNT, "phone_not_found" if exc.item.code != Code.PHONE_EXPIRED else "phone_expired"
        return INFRA, "phone_error"
    if exc.rate_limited or isinstance(exc, ge.CircuitOpen):
        return INFRA, "rate_limited"
    if isinstance(exc, ge.PhoneNotRunning):
        return INFRA, "phone_not_running"
    if isinstance(exc, ge.WaitTimeout):
        return INFRA, "geelark_wait_timeout"
    if isinstance(exc, ge.UploadFailed):
        return INFRA, "upload_failed"
    if isinstance(exc, ge.AuthError | ge.AccountError | ge.ConfigError):
        return INFRA, "geelark_config"
    if isinstance(exc, ge.TransportError | ge.OutcomeUnknown | ge.RetryableApiError):
        return INFRA, "geelark_server"
    return INFRA, "geelark_error"


_SESSION_START = re.compile(
    r"instrumentation process|uiautomator2 server|appium settings app is not running|socket hang up|"
    r"could not proxy",
    re.IGNORECASE,
)


def session_start_failed(exc: BaseException) -> bool:
    """A session that did not start for a reason another try in place may fix (UiAutomator2's
    server did not come up; the original measured it as ~1 s or never)."""
    return isinstance(exc, sx.SessionNotCreatedException) or (
        isinstance(exc, sx.WebDriverException) and bool(_SESSION_START.search(str(exc)))
    )


def _classify_selenium(exc: sx.WebDriverException) -> tuple[OutcomeKind, str] | None:
    if isinstance(exc, sx.InvalidSessionIdException):
        return INFRA, "session_lost"
    if isinstance(exc, sx.SessionNotCreatedException):
        return INFRA, "appium_crash"
    if isinstance(exc, sx.NoSuchElementException | sx.TimeoutException):
        return RETRYABLE, "element_missing"
    if isinstance(exc, sx.StaleElementReferenceException | sx.ElementNotInteractableException):
        return RETRYABLE, "ui_changed"
    return None


def _normalise_account_type(raw: str) -> str:
    word = raw.lower()
    return {
        "loggedout": "logged_out",
        "actionblocked": "action_blocked",
        "id_verification": "verification",
    }.get(word, word)


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
