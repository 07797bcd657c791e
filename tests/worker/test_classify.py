"""Classification of real failures (seed-ancestor.md §2.4, §5.2, §5.3) into queue outcomes."""

from __future__ import annotations

import subprocess

import pytest
import requests
from selenium.common import exceptions as sx
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError

from geelark import errors as ge
from geelark.models import ItemError
from jobqueue import OutcomeKind
from worker import errors as we
from worker.classify import classify, classify_message, describe

NO_POOL = ConnectionPool("127.0.0.1")  # never connects: the classifier reads only the exception's type

A, INF, P, R = OutcomeKind.ACCOUNT, OutcomeKind.INFRASTRUCTURE, OutcomeKind.PERMANENT, OutcomeKind.RETRYABLE

REAL_MESSAGES = [
    # §2.4: the original's misclassifications
    ("captcha: enter the code", A, "captcha"),
    ("logged_out: create new account", A, "logged_out"),
    ("API error: 40007 - too many requests in a short time, please try again later", INF, "rate_limited"),
    (
        "Max steps reached - Vision analysis: the app says try again later, we restrict certain activity",
        R,
        "navigation_failed",
    ),
    ("Loop stuck - Vision analysis: Action Blocked dialog, try again later", R, "navigation_failed"),
    ("Phone not found: ACC", A, "phone_not_found"),
    ("Failed to get ADB info: ADB did not opened", INF, "adb_not_ready"),
    ("Failed to get ADB info: phone is not running", INF, "phone_not_running"),
    (
        "UI dump failed (InvalidSessionIdException) A session is either terminated or not started",
        INF,
        "session_lost",
    ),
    ("Post returned False", R, "navigation_failed"),
    # §5.2
    ("Device 10.0.0.5:25219 never appeared in ADB devices list after 60s", INF, "adb_timeout"),
    (
        "Appium connection failed after 3 attempts: ADB connection lost and reconnect failed",
        INF,
        "adb_timeout",
    ),
    (
        "UI dump failed (WebDriverException): Could not proxy command to the remote server",
        INF,
        "appium_crash",
    ),
    (
        "An unknown server-side error occurred. The instrumentation process cannot be initialized "
        "within 10000ms timeout",
        INF,
        "appium_crash",
    ),
    ("terminated: we disabled your account", A, "terminated"),
    ("suspended: we suspended your account", A, "suspended"),
    ("try again later", A, "action_blocked"),
    ("Verification required", A, "verification"),
    # §5.3
    (
        "Appium connection failed after 3 attempts: Neither ANDROID_HOME nor ANDROID_SDK_ROOT environment "
        "variable was exported",
        INF,
        "adb_timeout",
    ),
    (
        "Appium connection failed: Device 10.0.0.5:25219 was not in the list of connected devices",
        INF,
        "adb_timeout",
    ),
    (
        "HTTPConnectionPool(host=127.0.0.1, port=4723): Max retries exceeded with url: /session",
        INF,
        "connection_dropped",
    ),
    (
        "'POST /actions' cannot be proxied to UiAutomator2 server because the instrumentation process is not "
        "running (probably crashed)",
        INF,
        "appium_crash",
    ),
    ("API error: 50000 - server err", INF, "geelark_server"),
    ("UiAutomator2 Server cannot start because the local port #8200 is busy", INF, "port_busy"),
    ("Stale job cleanup (was in_progress on worker 2)", INF, "orphaned"),
    (
        "Error getting device API level. Original error: The actual output 'error: you should run glogin "
        "to login first' cannot be converted to an integer",
        INF,
        "glogin_failed",
    ),
    ("Could not proxy command to the remote server. Original error: socket hang up", INF, "appium_crash"),
    (
        "Could not proxy command to the remote server. Original error: connect ECONNREFUSED 127.0.0.1:8200",
        INF,
        "appium_crash",
    ),
    (
        "Error executing adbExec. Original error: 'Command adb -s 1.2.3.4:5 shell' exited with code 1",
        INF,
        "adb_timeout",
    ),
    ("InvalidSessionIdException", INF, "session_lost"),
    ("ConnectionResetError: [Errno 104] Connection reset by peer", INF, "connection_dropped"),
    ("Upload to phone failed: Unknown error", INF, "upload_failed"),
    ("API error: 524", INF, "geelark_server"),
    ("API error: 42002 - env not running", INF, "phone_not_running"),
    # content
    ("moov atom not found", P, "corrupted_video"),
    ("video file missing: /videos/a.mp4", P, "video_missing"),
]


@pytest.mark.parametrize(("message", "kind", "error_type"), REAL_MESSAGES)
def test_real_message_is_classified(message: str, kind: OutcomeKind, error_type: str) -> None:
    outcome = classify_message(message)
    assert (outcome.kind, outcome.error_type) == (kind, error_type)


@pytest.mark.parametrize(("message", "kind", "error_type"), REAL_MESSAGES)
def test_real_message_inside_an_untyped_exception_is_classified_the_same(
    message: str, kind: OutcomeKind, error_type: str
) -> None:
    outcome = classify(RuntimeError(message))
    assert (outcome.kind, outcome.error_type) == (kind, error_type)


def test_unknown_message_is_retryable_unknown() -> None:
    assert classify_message("something odd happened").kind is R


TYPED = [
    (we.AccountProblem("screen says captcha", error_type="captcha"), A, "captcha"),
    (we.VideoUnavailable("gone", error_type="video_missing"), P, "video_missing"),
    (we.ElementNotFound("share never appeared"), R, "element_missing"),
    (we.PostFailed("couldn't post"), R, "post_failed"),
    (we.SessionLost("gone"), INF, "session_lost"),
    (we.AdbError("never appeared"), INF, "adb_timeout"),
    (we.PhoneUnavailable("boot", error_type="phone_boot_timeout"), INF, "phone_boot_timeout"),
    (we.JobTimeout("late"), INF, "job_timeout"),
    (ge.RateLimited("too many requests", code=40007), INF, "rate_limited"),
    (ge.HourlyLockout("locked", code=40014), INF, "rate_limited"),
    (ge.RetryableApiError("server err", code=50000), INF, "geelark_server"),
    (ge.HttpStatusError("bad gateway", status=502), INF, "geelark_server"),
    (ge.PhoneNotRunning("env not running", code=42002), INF, "phone_not_running"),
    (ge.PhoneNotFound("ACC"), A, "phone_not_found"),
    (ge.ItemFailed("start", ItemError("1", 42001, "env not found")), A, "phone_not_found"),
    (ge.ItemFailed("start", ItemError("1", 47002, "resources busy")), INF, "phone_error"),
    (ge.WaitTimeout("still starting"), INF, "geelark_wait_timeout"),
    (ge.UploadFailed("failed"), INF, "upload_failed"),
    (sx.InvalidSessionIdException("A session is either terminated or not started"), INF, "session_lost"),
    (sx.SessionNotCreatedException("could not start"), INF, "appium_crash"),
    (sx.NoSuchElementException("no such element"), R, "element_missing"),
    (
        sx.WebDriverException("Could not proxy command to the remote server. Original error: socket hang up"),
        INF,
        "appium_crash",
    ),
    (sx.WebDriverException("something the server said"), INF, "appium_crash"),
    (MaxRetryError(NO_POOL, "/session", ConnectionRefusedError("refused")), INF, "connection_dropped"),
    (ConnectionResetError(104, "reset"), INF, "connection_dropped"),
    (requests.ConnectionError("refused"), INF, "connection_dropped"),
    (subprocess.TimeoutExpired(["adb", "shell", "glogin", "secret42"], 20), INF, "adb_timeout"),
]


@pytest.mark.parametrize(("exc", "kind", "error_type"), TYPED, ids=lambda v: type(v).__name__)
def test_typed_exception_is_classified_by_type(
    exc: BaseException, kind: OutcomeKind, error_type: str
) -> None:
    outcome = classify(exc)
    assert (outcome.kind, outcome.error_type) == (kind, error_type)


def test_rate_limit_text_in_a_typed_geelark_error_never_blocks_the_account() -> None:
    exc = ge.RateLimited("too many requests in a short time, please try again later", code=40007)
    assert classify(exc).kind is INF


def test_timeout_message_never_shows_the_command_line() -> None:
    exc = subprocess.TimeoutExpired(["adb", "-s", "1.2.3.4:5", "shell", "glogin", "secret42"], 20)
    assert "secret42" not in describe(exc)
    assert "secret42" not in classify(exc).message


def test_message_is_cut_to_500_chars() -> None:
    assert len(classify(RuntimeError("x" * 2000)).message) <= 500
