"""Real worker processes posting through GeeLark's publishing tasks on the simulator (no ADB, no
Appium server): the job's one task, its verdicts, stops, and the run-wide refusal of new work."""

from __future__ import annotations

import signal
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from geelark import GeeLarkClient, GeeLarkSettings, TikTokPost
from jobqueue import JobStatus
from jobqueue.journal import journal_path, read_journal
from runtime.outage import ClaimingStopped
from tests.worker.conftest import SimRun, wait_until

TASKS = {"tt1": ("tiktok", "geelark_task"), "ig1": ("instagram", "geelark_task")}
LONG_JOB_S = 3000.0  # scaled by the simulator's time (0.01): a task may take 30 s of real time


def task_run(make_run: Callable[..., SimRun], accounts: dict[str, tuple[str, str]], **options: Any) -> SimRun:
    faults = options.pop("faults", None)
    run = make_run(tuple(accounts), faults=faults, **options)
    run.write_accounts(accounts)
    run.job_timeout_s = LONG_JOB_S
    return run


def tasks_by_job(run: SimRun) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for task in run.sim.state()["tasks"]:
        found.setdefault(task["jobTag"], []).append(task)
    return found


def publishes(run: SimRun) -> Counter[str]:
    return Counter(p["jobTag"] for p in run.sim.state()["publishes"])


def client(run: SimRun) -> GeeLarkClient:
    return GeeLarkClient(GeeLarkSettings(base_url=run.sim.url, token=run.sim.config.token))


def test_tiktok_and_instagram_jobs_are_posted_by_tasks_with_no_appium_server(
    make_run: Callable[..., SimRun],
) -> None:
    run = task_run(make_run, TASKS)
    job_ids = run.seed(per_account=2)
    assert run.run_workers(2) == [0, 0], run.output(0) + run.output(1)
    jobs = run.jobs()
    assert {j: jobs[j].status for j in job_ids} == dict.fromkeys(job_ids, JobStatus.SUCCESS)
    tasks = tasks_by_job(run)
    assert {j: len(tasks[j]) for j in job_ids} == dict.fromkeys(job_ids, 1)  # one task per job
    assert publishes(run) == Counter(job_ids)  # each posted exactly once, by its task
    for job_id in job_ids:
        (task,) = tasks[job_id]
        assert jobs[job_id].external_id == task["id"]
        assert task["planName"] == f"po:{job_id}"
        assert jobs[job_id].post_url == task["shareLink"]  # TikTok gives a link, Reels none
        assert bool(task["shareLink"]) == job_id.startswith("tt1")
    assert {t["taskType"] for ts in tasks.values() for t in ts} == {1, 42}
    run.wait_phones_stopped()
    assert run.run_dir.phones_left_running() == {}
    # a light worker: no Appium (here: simulated phone) server was ever started, no ADB enabled
    assert not list((run.root / "logs").glob("appium_*"))
    assert "step session" not in run.output(0) + run.output(1)
    assert run.sim.state()["calls"].get("/open/v1/adb/setStatus", 0) == 0


def test_a_task_that_failed_before_posting_is_retried_with_a_new_task(
    make_run: Callable[..., SimRun],
) -> None:
    run = task_run(make_run, {"tt1": TASKS["tt1"]}, task_time_s=600.0)
    run.backoff_base_s = 0.0  # retry at once
    (job_id,) = run.seed()
    proc = run.start_worker()
    running = wait_until(lambda: _running_task(run), 30, "the first task to run")
    run.sim.kill_phone(running["envId"])  # the phone goes down under its task: 20129, nothing posted
    assert proc.wait(timeout=60) == 0, run.output()
    job = run.jobs()[job_id]
    first, second = sorted(tasks_by_job(run)[job_id], key=lambda t: t["scheduleAt"])
    assert (first["status"], first["failCode"], first["published"]) == (4, 20129, 0)
    assert (second["status"], second["published"]) == (3, 1)
    assert (job.status, job.infra_attempts, job.attempts, job.external_id) == (
        JobStatus.SUCCESS,
        1,
        0,
        second["id"],
    )
    ops = [e["op"] for e in read_journal(journal_path(run.progress)) if e.get("job") == job_id]
    assert ops.count("withdraw_checkpoint") == 1 and ops.count("checkpoint") == 2


def _running_task(run: SimRun) -> dict[str, Any] | None:
    return next((t for t in run.sim.state()["tasks"] if t["status"] == 2), None)


def test_an_earlier_attempts_task_is_followed_not_made_again(make_run: Callable[..., SimRun]) -> None:
    run = task_run(make_run, {"tt1": TASKS["tt1"]})
    (job_id,) = run.seed()
    store = run.store()
    claim = store.claim_next(9, 1, run.jobs()[job_id].claimed_at or _now())
    assert claim is not None
    with client(run) as gl:  # an earlier attempt made its task, then lost its claim before it ended
        phone = gl.find_phone("tt1")
        gl.start_phone(phone.id)
        gl.wait_until_running(phone.id, timeout_s=30, poll_s=0.05)
        video = gl.upload_to_storage(_video(run))
        earlier = gl.create_task(TikTokPost(job_id, phone.id, video.resource_url, description="x"))
    store.checkpoint(claim, _now(), f"po:{job_id}")
    store.attach_external_id(claim, earlier, _now())
    store.withdraw_checkpoint(claim, _now())
    store.release(claim, _now(), "test: claimable again, with the task it made")
    assert run.run_workers(1) == [0], run.output()
    job = run.jobs()[job_id]
    assert [t["id"] for t in tasks_by_job(run)[job_id]] == [earlier]  # followed, none created
    assert (job.status, job.external_id) == (JobStatus.SUCCESS, earlier)
    assert publishes(run) == Counter([job_id])
    assert "is this job's task: following it, creating none" in run.output()


def _now() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()


def _video(run: SimRun) -> Any:
    path = run.root / "videos" / "earlier.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    return path


@pytest.mark.parametrize(
    ("faults", "status", "error_type", "blocked"),
    [
        ({"task_false_complete": 1}, JobStatus.REVIEW, "task_unverified", False),
        ({"task_fail": 1, "task_fail_codes": [20116]}, JobStatus.FAILED, "task_20116", True),
        ({"task_fail": 1, "task_fail_codes": [20251]}, JobStatus.REVIEW, "task_20251", False),
        ({"task_fail": 1, "task_fail_codes": [29999]}, JobStatus.REVIEW, "task_29999", False),
    ],
)
def test_verdicts_of_a_task_become_the_jobs_outcome(
    make_run: Callable[..., SimRun], faults: dict[str, Any], status: JobStatus, error_type: str, blocked: bool
) -> None:
    run = task_run(make_run, {"tt1": TASKS["tt1"]}, faults={"phone": faults})
    (job_id,) = run.seed()
    assert run.run_workers(1) == [0], run.output()
    job = run.jobs()[job_id]
    assert (job.status, job.error_type) == (status, error_type)
    assert ("tt1" in run.store().snapshot().blocked) is blocked
    assert len(tasks_by_job(run)[job_id]) == 1
    run.wait_phones_stopped()


def test_no_task_credits_stop_claiming_for_the_whole_run_and_charge_no_job(
    make_run: Callable[..., SimRun],
) -> None:
    run = task_run(make_run, TASKS, task_credits=0)
    job_ids = run.seed(per_account=2)
    assert run.run_workers(1) == [0], run.output()
    jobs = run.jobs()
    assert {j.status for j in jobs.values()} == {JobStatus.PENDING}  # one was tried, given back
    assert {(j.attempts, j.infra_attempts) for j in jobs.values()} == {(0, 0)}
    refused = ClaimingStopped(run.run_dir).current()
    assert refused is not None and "41000" in refused.reason
    assert run.output().count("claimed job") == 1  # the worker claimed nothing after it
    assert "claiming nothing more: GeeLark refused new work" in run.output()
    assert sorted(tasks_by_job(run)) == [] and len(job_ids) == 4
    run.wait_phones_stopped()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_a_stop_cancels_a_task_that_has_not_started_and_gives_the_job_back(
    make_run: Callable[..., SimRun],
) -> None:
    run = task_run(make_run, {"tt1": TASKS["tt1"]}, faults={"phone": {"task_stuck": 1}})
    (job_id,) = run.seed()
    proc = run.start_worker()
    wait_until(lambda: run.sim.state()["tasks"], 30, "the task to be created")
    wait_until(lambda: "step task_waiting" in run.output(), 10, "the worker to see it waiting")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, run.output()
    (task,) = run.sim.state()["tasks"]
    assert task["status"] == 7  # cancelled
    job = run.jobs()[job_id]
    assert (job.status, job.attempts, job.infra_attempts) == (JobStatus.PENDING, 0, 0)
    assert publishes(run) == Counter()
    run.wait_phones_stopped()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_a_stop_lets_a_running_task_finish_records_it_and_then_stops_the_phone(
    make_run: Callable[..., SimRun],
) -> None:
    run = task_run(make_run, {"tt1": TASKS["tt1"]}, task_time_s=300.0)
    (job_id,) = run.seed()
    proc = run.start_worker()
    wait_until(lambda: _running_task(run), 30, "the task to run")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, run.output()
    assert "left to finish" in run.output()
    job = run.jobs()[job_id]
    assert job.status is JobStatus.SUCCESS
    assert publishes(run) == Counter([job_id])
    run.wait_phones_stopped()
