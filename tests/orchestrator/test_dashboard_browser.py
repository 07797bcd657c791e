"""The dashboard in a real browser: a simulated run serves it, headless Chromium opens the page and
sees the workers at their steps, and a screenshot is saved in the test's folder.

Skipped with the reason when Chromium or chromedriver is missing, except under CI (env CI), where
that is a failure: `.ci/run` installs both (Debian's chromium and chromium-driver packages).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from harness.browser import Chromium, find_chromium, headless
from harness.processes import free_port_base, wait_for
from tests.orchestrator.conftest import Workdir, config_toml, interrupt

WORKING_STEP = re.compile(r"^W\d+ working \S+ .*")


@pytest.fixture
def chromium() -> Chromium:
    found = find_chromium()
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {found}")
        pytest.skip(found)
    return found


# The page redraws the table while it is read: its rows are read in one script run (atomic in the
# page), never element by element (a redraw in between made them stale).
ROWS_SCRIPT = """
return Array.from(document.querySelectorAll('#fleet tbody tr')).map(
  row => Array.from(row.querySelectorAll('td')).map(cell => cell.innerText.trim()).join(' '));
"""


def fleet_rows(driver: WebDriver) -> list[str]:
    rows = driver.execute_script(ROWS_SCRIPT)
    return [str(r) for r in rows] if isinstance(rows, list) else []


def test_the_dashboard_of_a_simulated_run_shows_the_workers_at_their_steps(
    workdir: Workdir, chromium: Chromium, tmp_path: Path
) -> None:
    config = config_toml(free_port_base(3), workers=3) + "\n[dashboard]\nenabled = true\nport = 0\n"
    (workdir.path / "parallel-orchestrator.toml").write_text(config)
    workdir.seed(jobs=60, accounts=3)
    run = workdir.start("--run", "--plain")
    try:
        found = wait_for(lambda: re.search(r"Dashboard: (http://\S+)", workdir.console_text()), 60, "the URL")
        with headless(chromium, tmp_path / "profile") as driver:
            driver.get(found.group(1))
            assert driver.title == "parallel-orchestrator"
            WebDriverWait(driver, 60, poll_frequency=0.2).until(
                lambda d: sum(bool(WORKING_STEP.match(r)) for r in fleet_rows(d)) >= 2
            )
            rows = fleet_rows(driver)
            shot = tmp_path / "dashboard.png"
            assert driver.save_screenshot(str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG")
        working = [r for r in rows if WORKING_STEP.match(r)]
        assert {r.split()[0] for r in working} <= {"W0", "W1", "W2"}
        assert all(r.split()[2].startswith("acct") for r in working)  # the account of each working row
    finally:
        interrupt(run)
        run.wait(timeout=90)
    assert "Run ended" in workdir.console_text()
