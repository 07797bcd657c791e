"""Settling review jobs from their GeeLark task (orchestrator.run.tasks) against the simulator over
real HTTP, and the executor shown by --status and --show-config."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geelark import GeeLarkClient, GeeLarkSettings, ReelsPost, TaskStatus, TikTokPost
from geelark.simulator import SimulatorConfig, SimulatorServer, parse_faults
from geelark.tasks import Task
from jobqueue import JobStatus, MemoryJobStore, NewJob, QueuePolicy
from orchestrator.cli.render import status_lines
from orchestrator.run.tasks import Next, TaskSettler, cancel_open, decide
from orchestrator.views.status_report import build_status
from tests.orchestrator.conftest import Workdir
from tests.orchestrator.factories import NOW, job, snapshot
from tests.orchestrator.test_cli import InProcess
from worker.contract import TASK_NOT_FOUND

SCALE = 0.01
POLICY = QueuePolicy(daily_limit=100, timezone="UTC")


def task(
    status: TaskStatus, *, at: int = 1000, fail: int | None = None, cost: int = 0, tid: str = "1"
) -> Task:
    return Task(tid, "po:j", 1, "p", "a", at, status, int(status), fail, "", cost)


def test_decide_settles_an_ended_task_waits_for_a_running_one_and_cancels_a_stale_one() -> None:
    j = job("j", "a")
    assert decide(j, [], now_s=2000, stale_after_s=60).next is Next.MISSING
    assert decide(j, [task(TaskStatus.RUNNING)], now_s=9999, stale_after_s=60).next is Next.WAIT
    assert decide(j, [task(TaskStatus.WAITING)], now_s=1030, stale_after_s=60).next is Next.WAIT
    assert decide(j, [task(TaskStatus.WAITING)], now_s=1061, stale_after_s=60).next is Next.STALE
    done = decide(
        j,
        [task(TaskStatus.FAILED, fail=20100, at=900, tid="old"), task(TaskStatus.COMPLETED)],
        now_s=0,
        stale_after_s=60,
    )
    assert (done.next, done.task.id if done.task else None) == (Next.SETTLE, "1")
    # an earlier task that posted nothing never hides a newer one that is still running
    running = decide(
        j,
        [task(TaskStatus.RUNNING, at=900, tid="a"), task(TaskStatus.FAILED, fail=20100)],
        now_s=0,
        stale_after_s=60,
    )
    assert (running.next, running.task.id if running.task else None) == (Next.WAIT, "a")


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        phones=("run", "ok", "ig", "acct", "gone", "stale"),
        time_scale=SCALE,
        faults=parse_faults(
            {"phones": {"acct": {"task_fail": 1, "task_fail_codes": [20116]}, "stale": {"task_stuck": 1}}}
        ),
        task_time_s=100.0,
    )
    with SimulatorServer(config) as server:
        yield server


def review_job(store: MemoryJobStore, job_id: str, account: str, external_id: str) -> None:
    """A job whose worker died after its checkpoint (and, with an id, after storing its task)."""
    store.seed([NewJob(job_id, account, f"{job_id}.mp4", "caption")])
    claim = store.claim_next(1, 1, datetime.now(UTC), prefer_account=account)
    assert claim is not None and claim.job.job_id == job_id
    store.checkpoint(claim, datetime.now(UTC), f"po:{job_id}")
    if not external_id.startswith("po:"):
        store.attach_external_id(claim, external_id, datetime.now(UTC))
    store.recover_orphans(lambda w, p: w != 1, datetime.now(UTC))
    assert store.snapshot().job(job_id).status is JobStatus.REVIEW  # type: ignore[union-attr]


def test_review_jobs_are_settled_from_their_tasks_real_state(sim: SimulatorServer, tmp_path: Path) -> None:
    store = MemoryJobStore(POLICY)
    settings = GeeLarkSettings(base_url=sim.url, token=sim.config.token).time_scaled(SCALE)
    with GeeLarkClient(settings) as gl:
        ids = {}
        for account in ("run", "ok", "ig", "acct", "stale"):
            phone = gl.find_phone(account)
            gl.start_phone(phone.id)
            gl.wait_until_running(phone.id, timeout_s=30, poll_s=0.05)
            video = gl.upload_to_storage(_video(tmp_path, account)).resource_url
            post = (
                ReelsPost(account, phone.id, (video,), "c")
                if account == "ig"
                else TikTokPost(account, phone.id, video)
            )
            ids[account] = gl.create_task(post)
        review_job(store, "run", "run", ids["run"])
        review_job(store, "ok", "ok", ids["ok"])
        review_job(store, "ig", "ig", "po:ig")  # died before it learned the id: found by name
        review_job(store, "acct", "acct", ids["acct"])
        review_job(store, "gone", "gone", "po:gone")  # killed before the create: no task
        review_job(store, "stale", "stale", ids["stale"])
        clock = [0.0]
        settler = TaskSettler(store, stale_after_s=3600, missing_grace_s=60, clock=lambda: clock[0])
        first = settler.round(gl, datetime.now(UTC))
        assert {"gone", "stale"} <= {o.job.job_id for o in first.open}  # missing (in its grace), stuck
        time.sleep(110 * SCALE * 1.5)  # every task that runs has ended (simulated time)
        clock[0] = 61.0  # the missing task's grace has passed
        second = settler.round(gl, datetime.now(UTC))
    jobs = {j.job_id: j for j in store.snapshot().jobs}
    assert (jobs["ok"].status, jobs["ok"].post_url) == (
        JobStatus.SUCCESS,
        f"https://www.tiktok.com/@ok/video/{ids['ok']}",
    )
    assert (jobs["run"].status, jobs["ig"].status) == (JobStatus.SUCCESS, JobStatus.SUCCESS)
    assert jobs["ig"].external_id == ids["ig"]  # the id learned by name replaces the name
    assert (jobs["acct"].status, jobs["acct"].error_type) == (JobStatus.FAILED, "task_20116")
    assert "acct" in store.snapshot().blocked
    assert (jobs["gone"].status, jobs["gone"].error_type) == (JobStatus.REVIEW, TASK_NOT_FOUND)
    assert [o.job.job_id for o in second.open] == ["stale"]
    settled = first.settled + second.settled
    assert len(settled) == 5 and all("->" in line for line in settled)
    publishes = [p["jobTag"] for p in sim.state()["publishes"]]
    assert sorted(publishes) == ["ig", "ok", "run"]


def test_a_stop_cancels_a_task_that_has_not_started_and_gives_its_job_back(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    store = MemoryJobStore(POLICY)
    settings = GeeLarkSettings(base_url=sim.url, token=sim.config.token).time_scaled(SCALE)
    with GeeLarkClient(settings) as gl:
        phone = gl.find_phone("stale")
        task_id = gl.create_task(
            TikTokPost("stale", phone.id, gl.upload_to_storage(_video(tmp_path, "s")).resource_url)
        )
        review_job(store, "stale", "stale", task_id)
        settler = TaskSettler(store, stale_after_s=3600, missing_grace_s=60)
        outcome = settler.round(gl, datetime.now(UTC))
        lines = cancel_open(settler, gl, outcome, datetime.now(UTC), running_too=False)
    job_now = store.snapshot().job("stale")
    assert job_now is not None and (job_now.status, job_now.attempts) == (JobStatus.PENDING, 0)
    assert "cancelled before it started" in lines[0]
    assert sim.state()["tasks"][0]["status"] == 7


def _video(folder: Path, name: str) -> Path:
    path = folder / f"{name}.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(32))
    return path


@pytest.fixture
def console(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(workdir, monkeypatch)


def test_status_shows_each_accounts_executor() -> None:
    snap = snapshot(job("w1", "tt"), job("w2", "ig"))
    report = build_status(
        snap,
        NOW,
        policy=POLICY,
        progress_file=Path("p.csv"),
        logs_dir=Path("logs"),
        heartbeats={},
        alive_workers=set(),
        run=None,
        run_active=False,
        phones=None,
        executors={"tt": "geelark_task"},
        default_executor="appium",
    )
    assert {a.account: a.executor for a in report.accounts} == {"tt": "geelark_task", "ig": "appium"}
    text = "\n".join(status_lines(report))
    assert "executor" in text and "geelark_task" in text


def test_show_config_lists_the_executor_default_and_each_accounts(
    workdir: Workdir, console: InProcess
) -> None:
    (workdir.path / "parallel-orchestrator.toml").write_text('[accounts]\nexecutor = "geelark_task"\n')
    (workdir.path / "accounts.csv").write_text(
        "account,app,executor\nphone1,tiktok,\nphone2,instagram,appium\n"
    )
    result = console.cli("--show-config", "--json")
    assert result.returncode == 0, result.output
    view = json.loads(result.stdout)
    assert {e["key"]: e["value"] for e in view["entries"]}["accounts.executor"] == "geelark_task"
    assert view["accounts"] == [
        {"account": "phone1", "app": "tiktok", "executor": "geelark_task"},
        {"account": "phone2", "app": "instagram", "executor": "appium"},
    ]
    text = console.cli("--show-config").stdout
    assert "executor = geelark_task" in text
    assert [line.split() for line in text.splitlines() if line.startswith("  phone2")] == [
        ["phone2", "instagram", "appium"]
    ]
