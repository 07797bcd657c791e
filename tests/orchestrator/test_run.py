"""`--run` with the real workers on the simulator: Ctrl+C, SIGKILL + `--stop-all`, single instance.

The runs use an external simulator (`orchestrator.simulator_url`) so the test can ask it which
phones still run after the orchestrator is gone.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.processes import free_port_base
from jobqueue import JobStatus, QueueSnapshot
from orchestrator.cli.app import app
from runtime.platform import ProcessRef
from tests.orchestrator.conftest import (
    Workdir,
    config_toml,
    interrupt,
    running_phones,
    wait_for,
)

GRACE_S = 20.0
WORKERS = 3


def prepare(
    workdir: Workdir, simulator: Callable[[tuple[str, ...]], str], jobs: int = 12, accounts: int = 4
) -> str:
    workdir.seed(jobs=jobs, accounts=accounts)
    sim_url = simulator(workdir.accounts)
    use_fresh_ports(workdir, sim_url)
    return sim_url


def use_fresh_ports(workdir: Workdir, sim_url: str) -> None:
    """Worker ports nobody used yet: a port the previous run just closed may sit in TIME_WAIT, and
    the worker's port check (a plain bind) refuses it for a minute (reported to the worker's owner)."""
    toml = config_toml(free_port_base(WORKERS), WORKERS, sim_url, GRACE_S)
    (workdir.path / "parallel-orchestrator.toml").write_text(toml)


def claimed(snapshot: QueueSnapshot) -> list[str]:
    return [j.job_id for j in snapshot.jobs if j.status is JobStatus.CLAIMED]


def recorded_processes(workdir: Workdir) -> set[ProcessRef]:
    """Every worker and Appium server the run has recorded so far (and the run itself)."""
    refs: set[ProcessRef] = set()
    run = workdir.run_dir.read_run()
    if run is not None:
        refs |= {r for r in (run.process, run.simulator) if r is not None}
    for hb in workdir.run_dir.read_heartbeats().values():
        refs |= {r for r in (hb.process, hb.appium) if r is not None}
    return refs


def wait_for_work_in_flight(workdir: Workdir, proc: subprocess.Popen[bytes]) -> set[ProcessRef]:
    def in_flight() -> bool:
        assert proc.poll() is None, workdir.console_text()
        return bool(claimed(workdir.snapshot())) and len(workdir.run_dir.read_heartbeats()) >= 2

    wait_for(in_flight, 60, "jobs in flight")
    return recorded_processes(workdir)


def assert_nothing_left(workdir: Workdir, refs: set[ProcessRef], sim_url: str) -> None:
    alive = [r for r in refs | recorded_processes(workdir) if r.is_alive()]
    assert alive == [], f"still running: {alive}"
    assert claimed(workdir.snapshot()) == []
    assert running_phones(sim_url) == []


def assert_all_jobs_ended(workdir: Workdir) -> None:
    counts = workdir.snapshot().counts()
    assert counts[JobStatus.PENDING] == counts[JobStatus.RETRYING] == counts[JobStatus.CLAIMED] == 0, counts
    assert counts[JobStatus.SUCCESS] >= 1


def status_json_in_process(
    workdir: Workdir, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], QueueSnapshot]:
    """`--status --json` and the CSV read around it, retried until the queue did not move meanwhile."""
    monkeypatch.chdir(workdir.path)
    for _ in range(50):
        before = workdir.snapshot()
        result = CliRunner().invoke(app, ["--status", "--json"], catch_exceptions=False)
        after = workdir.snapshot()
        if before == after:
            return json.loads(result.stdout), after
    raise AssertionError("the queue never stood still long enough to compare")


def test_ctrl_c_stops_everything_within_the_grace_period_and_a_second_run_finishes(
    workdir: Workdir, simulator: Callable[[tuple[str, ...]], str]
) -> None:
    sim_url = prepare(workdir, simulator)
    proc = workdir.start("--run")
    refs = wait_for_work_in_flight(workdir, proc)
    interrupt(proc)
    started = time.monotonic()
    assert proc.wait(timeout=GRACE_S + 20) == 130, workdir.console_text()
    assert time.monotonic() - started < GRACE_S + 10
    assert_nothing_left(workdir, refs, sim_url)
    reports = list((workdir.path / "logs").glob("batch_report_*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert report["ended_by"] == "interrupted"
    by_id = {j.job_id: j.status.value for j in workdir.snapshot().jobs}
    assert {r["job_id"]: r["status"] for r in report["results"]} == {
        k: v for k, v in by_id.items() if k in {r["job_id"] for r in report["results"]}
    }

    use_fresh_ports(workdir, sim_url)
    finished = workdir.cli("--run", timeout_s=90)
    assert finished.returncode in (0, 1), finished.stdout + finished.stderr
    assert_all_jobs_ended(workdir)
    assert running_phones(sim_url) == []


def test_after_a_sigkill_stop_all_leaves_nothing_running_and_the_next_run_finishes(
    workdir: Workdir, simulator: Callable[[tuple[str, ...]], str]
) -> None:
    sim_url = prepare(workdir, simulator)
    proc = workdir.start("--run")
    refs = wait_for_work_in_flight(workdir, proc)
    refs |= recorded_processes(workdir)
    proc.kill()
    proc.wait(timeout=10)

    stopped = workdir.cli("--stop-all", "--json", timeout_s=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert json.loads(stopped.stdout)["orchestrator"] == "none running"
    assert_nothing_left(workdir, refs, sim_url)

    use_fresh_ports(workdir, sim_url)
    finished = workdir.cli("--run", timeout_s=90)
    assert finished.returncode in (0, 1), finished.stdout + finished.stderr
    assert_all_jobs_ended(workdir)
    assert running_phones(sim_url) == []


def test_a_live_run_refuses_a_second_one_matches_its_status_and_stops_on_stop_all(
    workdir: Workdir, simulator: Callable[[tuple[str, ...]], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim_url = prepare(workdir, simulator, jobs=60)  # more than the run can finish meanwhile
    proc = workdir.start("--run")
    refs = wait_for_work_in_flight(workdir, proc)

    second = workdir.cli("--run", timeout_s=30)
    assert second.returncode == 3
    assert f"PID {proc.pid}" in second.stderr and "--stop-all" in second.stderr

    status, csv = status_json_in_process(workdir, monkeypatch)
    assert status["run"]["active"] is True and status["run"]["pid"] == proc.pid
    assert status["counts"] == {s.value: n for s, n in csv.counts().items()}
    assert sorted(c["job_id"] for c in status["claims"]) == sorted(claimed(csv))

    refs |= recorded_processes(workdir)
    stopped = workdir.cli("--stop-all", timeout_s=GRACE_S + 40)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped gracefully (pid {proc.pid})" in stopped.stdout
    assert proc.wait(timeout=10) == 130
    assert proc.poll() is not None and workdir.snapshot().counts()[JobStatus.PENDING] > 0
    assert_nothing_left(workdir, refs, sim_url)
    assert len(list((workdir.path / "logs").glob("batch_summary_*.txt"))) == 1


def test_a_worker_killed_mid_job_is_restarted_and_its_job_and_phone_recovered(
    workdir: Workdir, simulator: Callable[[tuple[str, ...]], str]
) -> None:
    # one account per worker, and enough work on each that the others stay busy with theirs
    # (a worker keeps its account's phone while that account has due jobs): the slot is needed again
    sim_url = prepare(workdir, simulator, jobs=36, accounts=WORKERS)
    proc = workdir.start("--run")
    wait_for_work_in_flight(workdir, proc)
    busy = wait_for(
        lambda: next(
            (hb for hb in workdir.run_dir.read_heartbeats().values() if hb.job_id and hb.phone_id), None
        ),
        30,
        "a worker on a job with a phone",
    )
    victim = busy.process.process()
    assert victim is not None
    victim.kill()  # a crash: no chance to release its claim or stop its phone
    assert proc.wait(timeout=90) in (0, 1), workdir.console_text()
    text = workdir.console_text()
    assert f"W{busy.worker_id} crashed" in text, text
    assert f"W{busy.worker_id} started again after its crash" in text, text
    assert_all_jobs_ended(workdir)
    assert running_phones(sim_url) == []
