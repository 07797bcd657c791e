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
from selenium.webdriver.common.by import By
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


def fleet_rows(driver: object) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")  # type: ignore[attr-defined]
    return [" ".join(cell.text for cell in row.find_elements(By.TAG_NAME, "td")) for row in rows]


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
