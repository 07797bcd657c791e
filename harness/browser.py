"""Headless Chromium driven through chromedriver (selenium), for the dashboard's browser test and
the README's screenshots. Installs nothing: Debian's `chromium` and `chromium-driver` packages (or
any chromium/chromedriver pair on PATH) must be there; `.ci/run` installs them in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver",)
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@dataclass(frozen=True)
class Chromium:
    binary: str
    driver: str


def find_chromium() -> Chromium | str:
    """The browser and its driver, or why they cannot be used (what to install)."""
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    if binary is None or driver is None:
        missing = " and ".join(n for n, f in (("chromium", binary), ("chromedriver", driver)) if f is None)
        return f"{missing} not found: apt-get install chromium chromium-driver (bash .ci/run does it)"
    return Chromium(binary, driver)


@contextmanager
def headless(
    chromium: Chromium, profile: Path, *, width: int = 1280, height: int = 900
) -> Iterator[webdriver.Chrome]:
    """A headless browser with a fresh profile in `profile`; quit (with its processes) on exit."""
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium never fetches a driver: we name ours
    options = webdriver.ChromeOptions()
    options.binary_location = chromium.binary
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromium.driver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
