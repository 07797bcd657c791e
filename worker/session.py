"""The Appium session for one job: UiAutomator2 options with this worker's own ports.

The same code opens the session against real Appium (UiAutomator2 on a GeeLark phone), Appium's
fake driver (tests) and the simulated phone: only `extra_caps` differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from selenium.common.exceptions import WebDriverException
from urllib3.exceptions import HTTPError

if TYPE_CHECKING:  # the Appium client (~0.2 s of imports) loads with the first session, not at start
    from appium import webdriver
    from appium.options.android import UiAutomator2Options

from worker.classify import describe
from worker.contract import WorkerPorts
from worker.flow import Flow

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 120.0
T = TypeVar("T")


UIA2_LAUNCH_TIMEOUT_MS = 20_000


def session_options(
    ports: WorkerPorts, udid: str, flow: Flow, *, extra_caps: Mapping[str, Any] | None = None
) -> UiAutomator2Options:
    """Capabilities for one session on a shared host (sources: README "Real phones"):

    - udid `ip:port` and this worker's own systemPort / mjpegServerPort / chromedriverPort;
    - `suppressKillServer`: otherwise one worker's Appium may run `adb kill-server` when a device
      vanishes and drop every other worker's phone;
    - `forceAppLaunch` + `appWaitActivity`: the app is restarted, so a job never starts on the
      screen the last one left (with `noReset` the app would otherwise just be brought forward);
    - `disableWindowAnimation`; a short UiAutomator2 server launch timeout (it starts in about a
      second or not at all; the attempt tries a new session in place, see worker.job);
    - `extra_caps` last: the config's `[worker] appium_caps` (and the simulator's tags).
    """
    from appium.options.android import UiAutomator2Options

    opts = UiAutomator2Options()
    opts.udid = udid
    opts.device_name = udid
    opts.system_port = ports.system_port
    opts.mjpeg_server_port = ports.mjpeg
    opts.chromedriver_port = ports.chromedriver
    opts.no_reset = True
    opts.new_command_timeout = 120
    opts.adb_exec_timeout = 120_000
    opts.uiautomator2_server_install_timeout = 120_000
    opts.uiautomator2_server_launch_timeout = UIA2_LAUNCH_TIMEOUT_MS
    opts.set_capability("appium:androidDeviceReadyTimeout", 60)
    opts.set_capability("appium:suppressKillServer", True)
    opts.set_capability("appium:disableWindowAnimation", True)
    opts.auto_grant_permissions = True
    if flow.app_package:
        opts.app_package = flow.app_package
        opts.set_capability("appium:forceAppLaunch", True)
    if flow.app_activity:
        opts.app_activity = flow.app_activity
    if flow.wait_activity:
        opts.set_capability("appium:appWaitActivity", flow.wait_activity)
    for key, value in (extra_caps or {}).items():
        opts.set_capability(key, value)
    return opts


def open_session(
    url: str, options: UiAutomator2Options, timeout_s: float = COMMAND_TIMEOUT_S
) -> webdriver.Remote:
    """Create the session (raises WebDriverException / urllib3 errors, classified by the caller)."""
    from appium import webdriver
    from appium.webdriver.client_config import AppiumClientConfig

    config = AppiumClientConfig(remote_server_addr=url, timeout=timeout_s)
    return webdriver.Remote(url, options=options, client_config=config)


def open_with_tries(
    open_once: Callable[[], T],
    tries: int,
    *,
    retry_in_place: Callable[[BaseException], bool],
    check_stop: Callable[[], None],
) -> T:
    """Open a session, trying again in place (same server, same phone) up to `tries` times when it
    failed to start for a reason another try may fix (`retry_in_place`, worker.classify's
    session_start_failed); any other failure, or the last try's, is raised. A stop between two
    tries raises StopRequested (`check_stop`)."""
    for attempt in range(1, tries + 1):
        try:
            return open_once()
        except WebDriverException as exc:
            if attempt >= tries or not retry_in_place(exc):
                raise
            log.warning(
                "session start %d of %d failed (%s); trying again in place", attempt, tries, describe(exc)
            )
            check_stop()
    raise ValueError(f"session tries must be at least 1, not {tries}")


def quit_session(driver: webdriver.Remote | None) -> None:
    """Quit the session; a session that is already gone is only logged."""
    if driver is None:
        return
    try:
        driver.quit()
    except (WebDriverException, HTTPError, OSError) as exc:
        log.info("session quit failed (already gone?): %s", type(exc).__name__)
