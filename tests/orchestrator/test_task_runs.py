"""`--run --simulate` with GeeLark's publishing tasks: real orchestrator, workers and simulator.

A run whose accounts all post through tasks starts no Appium server (nor the simulated phone that
stands in for one); workers killed between a task's create and its record never lead to a second
task: the run settles their jobs from the tasks' real state; stops cancel what has not started.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.fleet import Fleet, FleetConfig, interrupt, sigkill, start_simulator
from harness.processes import free_port_base, wait_for
from jobqueue import JobStatus
from runtime.state import Heartbeat

TIME_SCALE = 0.01
AFTER_CREATE = frozenset({"task_waiting", "task_running"})
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path)
    try:
        yield fleet
    finally:
        fleet.close()


def start(fleet: Fleet, jobs: int, accounts: int, *, task_time_s: float = 120.0, **config: Any) -> None:
    fleet.seed(jobs, accounts)
    fleet.simulator = start_simulator(fleet.path, fleet.accounts, "none", TIME_SCALE, task_time_s=task_time_s)
    workers = int(config.pop("workers", 8))
    fleet.configure(
        FleetConfig(
            fleet.simulator.url,
            free_port_base(workers),
            workers=workers,
            time_scale=TIME_SCALE,
            executor="geelark_task",
            extra="heartbeat_interval_s = 0.1\n",
            **config,
        )
    )
    # half the accounts say TikTok, the others leave the cell empty: the default app (Instagram)
    fleet.write_accounts({a: ("tiktok" if n % 2 == 0 else "", "") for n, a in enumerate(fleet.accounts)})


class ProcessWatch(threading.Thread):
    """Every command line the run's process tree ever showed."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.seen: set[str] = set()
        self.halted = threading.Event()

    def run(self) -> None:
        while not self.halted.wait(0.05):
            try:
                children = psutil.Process(self.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for child in children:
                try:
                    self.seen.add(" ".join(child.cmdline()))
                except psutil.Error:
                    continue


def tasks_per_job(state: dict[str, Any]) -> Counter[str]:
    return Counter(t["jobTag"] for t in state["tasks"])


def test_a_task_run_posts_every_job_of_mixed_apps_with_no_appium_or_node_process(fleet: Fleet) -> None:
    start(fleet, jobs=24, accounts=8)
    run = fleet.start_run("--workers", "8")
    watch = ProcessWatch(run.pid)
    watch.start()
    code = run.wait(timeout=240)
    watch.halted.set()
    assert code == 0, fleet.console(1)
    assert fleet.simulator is not None
    state = fleet.simulator.state()
    snapshot = fleet.snapshot()
    assert {j.status for j in snapshot.jobs} == {JobStatus.SUCCESS}
    assert tasks_per_job(state) == Counter(fleet.job_ids)  # one task per job
    assert Counter(p["jobTag"] for p in state["publishes"]) == Counter(fleet.job_ids)
    assert {t["taskType"] for t in state["tasks"]} == {1, 42}  # TikTok and Instagram Reels
    assert any("-m worker" in c for c in watch.seen)
    assert [c for c in watch.seen if "simdevice" in c or "node" in c.split(" ", 1)[0]] == []
    assert not list(fleet.logs_dir.glob("appium_*"))
    assert [p["serialName"] for p in state["phones"] if p["status"] != 2] == []
    tiktok = {j.job_id for j in snapshot.jobs if fleet.accounts.index(j.account) % 2 == 0}
    assert {j.job_id for j in snapshot.jobs if j.post_url} == tiktok  # share links of TikTok posts
    report = next(fleet.logs_dir.glob("batch_report_*.json")).read_text(encoding="utf-8")
    assert all(j.post_url in report for j in snapshot.jobs if j.post_url)


def worker_after_create(fleet: Fleet, killed: set[str]) -> Heartbeat | None:
    return next(
        (
            hb
            for hb in fleet.run_dir.read_heartbeats().values()
            if hb.step in AFTER_CREATE and hb.job_id and hb.job_id not in killed and hb.process.is_alive()
        ),
        None,
    )


def test_workers_killed_between_create_and_record_never_give_a_second_task(fleet: Fleet) -> None:
    start(fleet, jobs=24, accounts=8, task_time_s=300.0, workers=4, restart_backoff_s=0.1)
    run = fleet.start_run()
    killed: set[str] = set()
    for _ in range(4):
        hb = wait_for(lambda: worker_after_create(fleet, killed), 120, "a worker waiting for its task")
        if sigkill(hb.process):
            killed.add(str(hb.job_id))
    code = run.wait(timeout=240)
    assert code == 0, fleet.console(1)
    assert fleet.simulator is not None
    state = fleet.simulator.state()
    jobs = {j.job_id: j for j in fleet.snapshot().jobs}
    assert len(killed) == 4
    assert {j.status for j in jobs.values()} == {JobStatus.SUCCESS}
    assert tasks_per_job(state) == Counter(fleet.job_ids)  # never a second task
    assert Counter(p["jobTag"] for p in state["publishes"]) == Counter(fleet.job_ids)
    console = fleet.console(1)
    for job_id in killed:
        assert f"Settled from its GeeLark task: job {job_id} @{jobs[job_id].account} -> success" in console
    assert [p["serialName"] for p in state["phones"] if p["status"] != 2] == []
    assert fleet.run_dir.phones_left_running() == {}


def test_ctrl_c_cancels_tasks_not_started_and_lets_running_ones_end(fleet: Fleet) -> None:
    start(fleet, jobs=4, accounts=4, task_time_s=500.0, workers=4, grace_period_s=30.0)
    assert fleet.simulator is not None
    stuck = fleet.accounts[:2]  # GeeLark never starts their tasks
    fleet.simulator.set_faults({"phones": {a: {"task_stuck": 1} for a in stuck}})
    run = fleet.start_run()
    wait_for(lambda: _tasks_in(fleet, waiting=2, running=2), 120, "two tasks waiting and two running")
    # the console tells what the stop does from the workers' heartbeats: wait until they have seen it
    wait_for(lambda: _steps_in(fleet, waiting=2, running=2), 60, "workers aware of their tasks' states")
    interrupt(run)
    assert run.wait(timeout=60) == 130, fleet.console(1)
    state = fleet.simulator.state()
    by_account = {t["serialName"]: t for t in state["tasks"]}
    jobs = {j.account: j for j in fleet.snapshot().jobs}
    for account in stuck:
        assert by_account[account]["status"] == 7  # cancelled before it started
        assert (jobs[account].status, jobs[account].attempts) == (JobStatus.PENDING, 0)
    for account in fleet.accounts[2:]:
        assert by_account[account]["status"] == 3  # left to finish
        assert jobs[account].status is JobStatus.SUCCESS
    assert [p["serialName"] for p in state["phones"] if p["status"] != 2] == []
    console = fleet.console(1)
    for account in stuck:
        assert f"GeeLark task of job {jobs[account].job_id} @{account} has not started: cancelled" in console
    for account in fleet.accounts[2:]:
        assert f"GeeLark task of job {jobs[account].job_id} @{account} is running: left to finish" in console


def _steps_in(fleet: Fleet, *, waiting: int, running: int) -> bool:
    steps = Counter(hb.step for hb in fleet.run_dir.read_heartbeats().values())
    return steps["task_waiting"] == waiting and steps["task_running"] == running


def _tasks_in(fleet: Fleet, *, waiting: int, running: int) -> bool:
    assert fleet.simulator is not None
    statuses = Counter(t["status"] for t in fleet.simulator.state()["tasks"])
    return statuses[1] == waiting and statuses[2] == running


def test_no_task_credits_end_the_run_with_one_message_and_no_job_charged(fleet: Fleet) -> None:
    fleet.seed(6, 3)
    fleet.simulator = start_simulator(fleet.path, fleet.accounts, "none", TIME_SCALE, task_credits=0)
    fleet.configure(FleetConfig(fleet.simulator.url, free_port_base(3), workers=3, executor="geelark_task"))
    code = fleet.start_run().wait(timeout=120)
    console = fleet.console(1)
    assert code == 9, console
    assert console.count("GeeLark refused new work") == 1
    assert "41000" in console
    jobs = fleet.snapshot().jobs
    assert {(j.status, j.attempts, j.infra_attempts) for j in jobs} == {(JobStatus.PENDING, 0, 0)}
    assert fleet.simulator.state()["tasks"] == []
