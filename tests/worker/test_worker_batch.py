"""A real worker subprocess against the GeeLark simulator and the simulated phone (no Node)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from jobqueue import JobStatus
from tests.worker.conftest import SimRun


def test_two_workers_post_a_batch_of_six_jobs_over_three_accounts_each_exactly_once(
    make_run: Callable[..., SimRun],
) -> None:
    run = make_run(("acc1", "acc2", "acc3"), workers=2)
    job_ids = run.seed(per_account=2)
    codes = run.run_workers(2)
    assert codes == [0, 0], run.output(0) + run.output(1)
    jobs = run.jobs()
    assert {j: jobs[j].status for j in job_ids} == dict.fromkeys(job_ids, JobStatus.SUCCESS)
    publishes = run.sim.state()["publishes"]
    assert sorted(p["jobTag"] for p in publishes) == sorted(job_ids)  # each posted exactly once
    run.wait_phones_stopped()
    assert run.run_dir.phones_left_running() == {}
    assert run.run_dir.read_heartbeats() == {}
    # logs: one event per line with job and account, no secrets; one log per attempt
    logs = run.output(0) + run.output(1)
    assert "job=acc1-0 account=acc1" in logs
    assert run.sim.config.token not in logs
    attempt_log = (run.root / "logs" / "jobs" / job_ids[0] / "attempt_1.log").read_text(encoding="utf-8")
    assert "checkpoint recorded" in attempt_log and "posted and confirmed on screen" in attempt_log
    # every attempt recorded its session: screens and actions, replayable, no secrets
    session = (run.root / "logs" / "jobs" / job_ids[0] / "attempt_1.session.jsonl").read_text(
        encoding="utf-8"
    )
    events = [json.loads(line) for line in session.splitlines()]
    assert events[0]["event"] == "session_start" and events[-1]["event"] == "success"
    assert [e["flow_step"] for e in events if e["event"] == "step"][:2] == ["open_create", "pick_video"]
    assert run.sim.config.token not in session


def test_a_taken_appium_port_stops_the_worker_with_a_clear_error(make_run: Callable[..., SimRun]) -> None:
    run = make_run(("acc1",))
    (job_id,) = run.seed()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", run.port_base))
        squatter.listen()
        assert run.run_workers(1) == [3]
    assert f"port {run.port_base} is already in use" in run.output()
    assert run.jobs()[job_id].status is JobStatus.PENDING
