"""Injected task faults seen through the client: failure codes, "completed" with a failed step,
tasks stuck waiting, GeeLark's own retries; and a realistic mix where every verdict must agree
with the simulator's publish record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from geelark import (
    CreateAmbiguous,
    GeeLarkClient,
    TaskOutcome,
    TaskRef,
    TaskStatus,
    TikTokPost,
    WaitTimeout,
)
from geelark.auth import bearer_headers
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import TOKEN, FakeClock, boot_phone, stored_video_url

MakeClient = Callable[..., GeeLarkClient]
MakeSim = Callable[..., SimulatorServer]


def rig(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, faults: dict[str, Any], **client: Any
) -> tuple[SimulatorServer, GeeLarkClient]:
    sim = make_sim(real_clock=clock, faults=faults)
    gl = make_client(sim, clock=clock, **client)
    return sim, gl


def post(gl: GeeLarkClient, tmp_path: Path, job_id: str, phone_id: str) -> TikTokPost:
    return TikTokPost(job_id, phone_id, stored_video_url(gl, tmp_path), description=job_id)


def create_patiently(gl: GeeLarkClient, task_post: TikTokPost, attempts: int = 20) -> TaskRef:
    """What an executor does: look the task up, create it if absent, never create twice."""
    for _ in range(attempts - 1):
        try:
            return gl.create_or_find_task(task_post)
        except CreateAmbiguous:
            continue
    return gl.create_or_find_task(task_post)


def job_tags(sim: SimulatorServer) -> list[str]:
    return [p["jobTag"] for p in sim.state()["publishes"]]


@pytest.mark.parametrize(
    ("code", "outcome", "posted"),
    [
        (20116, TaskOutcome.ACCOUNT, False),
        (20136, TaskOutcome.ACCOUNT, False),
        (20251, TaskOutcome.REVIEW, False),
        (20003, TaskOutcome.REVIEW, True),  # timed out after the post went out
        (20201, TaskOutcome.INFRASTRUCTURE, False),
        (29999, TaskOutcome.REVIEW, False),
    ],
)
def test_injected_failure_codes(
    make_sim: MakeSim,
    make_client: MakeClient,
    clock: FakeClock,
    tmp_path: Path,
    code: int,
    outcome: TaskOutcome,
    posted: bool,
) -> None:
    faults = {"phones": {"phone-02": {"task_fail": 1.0, "task_fail_codes": [code]}}}
    sim, gl = rig(make_sim, make_client, clock, faults)
    phone_id = boot_phone(gl, sim, "phone-02")
    task_id = gl.create_task(post(gl, tmp_path, "job-f", phone_id))
    verdict = gl.task_verdict(gl.wait_for_task(task_id, timeout_s=3600))
    assert (verdict.outcome, verdict.code, verdict.task.status) == (outcome, code, TaskStatus.FAILED)
    assert job_tags(sim) == (["job-f"] if posted else [])
    assert sim.state()["faults"]["task_fail"] == 1


def test_completed_with_a_failed_step_is_review_and_posted_nothing(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    sim, gl = rig(make_sim, make_client, clock, {"phone": {"task_false_complete": 1.0}})
    phone_id = boot_phone(gl, sim, "phone-01")
    task = gl.wait_for_task(gl.create_task(post(gl, tmp_path, "job-fc", phone_id)), timeout_s=3600)
    assert task.status is TaskStatus.COMPLETED
    verdict = gl.task_verdict(task)
    assert verdict.outcome is TaskOutcome.REVIEW and "publishing step failed" in verdict.reason
    assert job_tags(sim) == [] and sim.state()["faults"]["task_false_complete"] == 1


def test_a_task_stuck_waiting_times_out_and_can_be_cancelled(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    sim, gl = rig(make_sim, make_client, clock, {"phone": {"task_stuck": 1.0}})
    phone_id = boot_phone(gl, sim, "phone-01")
    task_id = gl.create_task(post(gl, tmp_path, "job-st", phone_id))
    with pytest.raises(WaitTimeout, match="WAITING"):
        gl.wait_for_task(task_id, timeout_s=6 * 3600, poll_s=30, max_poll_s=600)
    assert gl.cancel_task(task_id).status is TaskStatus.CANCELLED
    assert job_tags(sim) == [] and sim.state()["faults"]["task_stuck"] == 1


def test_geelarks_own_retries_repost_which_is_why_the_client_sends_zero(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    faults = {"phone": {"task_fail": 1.0, "task_fail_codes": [20003]}}
    sim, gl = rig(make_sim, make_client, clock, faults)
    phone_id = boot_phone(gl, sim, "phone-01")
    ours = gl.create_task(post(gl, tmp_path, "job-ours", phone_id))
    gl.wait_for_task(ours, timeout_s=3600)
    body = post(gl, tmp_path, "job-default", phone_id).body(int(clock()))
    del body["list"][0]["maxTryTimes"]  # GeeLark's default: 3 automatic retries
    reply = requests.post(f"{sim.url}/open/v1/task/add", json=body, headers=bearer_headers(TOKEN), timeout=5)
    theirs = reply.json()["data"]["taskIds"][0]
    gl.wait_for_task(theirs, timeout_s=3 * 3600)
    assert Counter(job_tags(sim)) == {"job-ours": 1, "job-default": 4}


def test_a_heavy_fault_mix_never_contradicts_the_publish_record(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    # The realistic API faults, with task faults far above realistic so every path is taken;
    # slow creates answer after the client's read timeout, so they are ambiguous.
    task_faults = {
        "task_fail": 0.1,
        "task_false_complete": 0.05,
        "task_stuck": 0.05,
        "task_slow_create": 0.05,
    }
    faults = {
        "preset": "realistic",
        "phone": {"start_fail": 0, "stuck_starting": 0, **task_faults},
        "api": {"slow_s": 1.2},
    }
    sim, gl = rig(
        make_sim, make_client, clock, faults, read_timeout_s=0.8, breaker_threshold=1000, max_attempts=8
    )
    sim_state_phones = [p["serialName"] for p in sim.state()["phones"]]
    phones = [boot_phone(gl, sim, name) for name in sim_state_phones]
    url = stored_video_url(gl, tmp_path)
    verdicts: dict[str, TaskOutcome] = {}
    for n in range(80):
        job_id = f"job-{n:03d}"
        task_post = TikTokPost(job_id, phones[n % len(phones)], url)
        ref = create_patiently(gl, task_post)
        try:
            task = gl.wait_for_task(ref.id, timeout_s=3 * 3600, poll_s=30, max_poll_s=600)
        except WaitTimeout:
            task = gl.cancel_task(ref.id)
        verdicts[job_id] = gl.task_verdict(task).outcome
    posts = Counter(job_tags(sim))
    names = Counter(t["planName"] for t in sim.state()["tasks"])
    assert max(names.values()) == 1 and len(names) == 80  # one task per job, ever
    for job_id, outcome in verdicts.items():
        if outcome is TaskOutcome.SUCCESS:
            assert posts[job_id] == 1, job_id
        elif outcome is TaskOutcome.REVIEW:
            assert posts[job_id] <= 1, job_id
        else:
            assert posts[job_id] == 0, (job_id, outcome)
    outcomes = Counter(verdicts.values())
    assert outcomes[TaskOutcome.SUCCESS] > 40 and len(outcomes) > 1
