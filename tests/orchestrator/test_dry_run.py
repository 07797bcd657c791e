"""A dry run (`--run --simulate` in an operator's folder): on a copy, on a simulated clock that
jumps over idle time, so a few days of posting windows and spacing take seconds."""

from __future__ import annotations

import itertools
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from harness.processes import free_port_base
from jobqueue import CsvJobStore, JobStatus
from jobqueue.posting import PostingWindow
from tests.orchestrator.conftest import Workdir

ACCOUNTS_CSV = """account,timezone,window,daily_limit,min_spacing,note
acct1,Europe/Berlin,09:00-21:00,2,3h,
acct2,America/New_York,20:00-01:00,2,90m,night
acct3,,,,,defaults
"""
SPACING = {"acct1": 3 * 3600, "acct2": 90 * 60, "acct3": 0}
WINDOWS = {
    "acct1": (PostingWindow.parse("09:00-21:00"), "Europe/Berlin"),
    "acct2": (PostingWindow.parse("20:00-01:00"), "America/New_York"),
}


def test_a_dry_run_posts_on_a_copy_over_simulated_days_and_never_touches_the_real_files(
    workdir: Workdir,
) -> None:
    workdir.seed(jobs=9, accounts=3)
    (workdir.path / "accounts.csv").write_text(ACCOUNTS_CSV)
    base = free_port_base(2)
    (workdir.path / "parallel-orchestrator.toml").write_text(
        f"[orchestrator]\nworkers = 2\n[simulate]\ntime_scale = 0.001\n"
        f"[worker]\nappium_port_base = {base}\nsystem_port_base = {base + 200}\n"
    )
    real = workdir.path / "parallel_progress.csv"
    before = real.read_bytes()
    result = workdir.cli("--run", "--simulate", timeout_s=240)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert real.read_bytes() == before  # the operator's queue is untouched
    assert not (workdir.path / "logs").exists() and not (workdir.path / ".orchestrator").exists()
    assert "DRY RUN in" in said and "Simulated clock: nothing to do until" in said
    assert "Posts by account:" in said
    folder = workdir.path / "simulation"
    assert (folder / "DRY RUN - NOT REAL.txt").exists()
    jobs = CsvJobStore(folder / "parallel_progress.csv").snapshot().jobs
    assert [j.status for j in jobs] == [JobStatus.SUCCESS] * 9
    for account in ("acct1", "acct2", "acct3"):
        times = sorted(j.completed_at for j in jobs if j.account == account and j.completed_at)
        assert len(times) == 3
        for a, b in itertools.pairwise(times):
            assert (b - a).total_seconds() >= SPACING[account]
        if account in WINDOWS:  # a post starts (is claimed) inside the window; it may end just after
            window, zone = WINDOWS[account]
            claims = [j.claimed_at for j in jobs if j.account == account and j.claimed_at]
            assert all(window.contains(_wall(t, zone)) for t in claims)
            days = {t.astimezone(ZoneInfo(zone)).date() for t in claims}
            assert len(days) >= 2  # two a day at most: the third post went out on a later day


def _wall(moment: datetime, zone: str) -> time:
    return moment.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)


def test_a_dry_run_moves_to_free_ports_when_the_plan_is_taken(workdir: Workdir, tmp_path: Path) -> None:
    import socket

    workdir.seed(jobs=1, accounts=1)
    base = free_port_base(1)
    (workdir.path / "parallel-orchestrator.toml").write_text(
        f"[orchestrator]\nworkers = 1\n[simulate]\ntime_scale = 0.001\n"
        f"[worker]\nappium_port_base = {base}\nsystem_port_base = {base + 200}\n"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", base))
        sock.listen()
        result = workdir.cli("--run", "--simulate", timeout_s=120)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert f"port {base} (worker 0) is in use by pid" in said
    assert f"this simulated run uses Appium ports from {base + 1000}" in said
