"""Each fault class of the simulator ends in the right state in the CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobqueue import JobStatus
from tests.worker.conftest import SimRun

FAULTS: dict[str, Any] = {
    "phones": {
        "susp": {"scenarios": {"suspended": 1}},
        "captcha": {"scenarios": {"captcha": 1}},
        "lost": {"scenarios": {"session_lost": 1}},
        "missing": {"scenarios": {"element_missing": 1}},
        "noadb": {"adb_never_ready": 1.0},
        "killed": {"phone_stopped": 1.0, "stopped_after_s": [0, 0]},
        "failpost": {"scenarios": {"post_fails": 1}},
        "slow": {"scenarios": {"slow_post": 1}},
        "ok": {"scenarios": {"ok": 1}},
        "novideo": {"scenarios": {"ok": 1}},
    },
    "slow_post_delay_s": 1000,  # 10 s real: longer than the flow's 3 s success timeout
}
ACCOUNTS: tuple[str, ...] = tuple(FAULTS["phones"])


def test_each_fault_class_yields_its_outcome(make_run: Callable[..., SimRun]) -> None:
    run = make_run(ACCOUNTS, FAULTS, workers=2, flow_timeouts=(1.0, 3.0))
    run.seed()
    (run.root / "videos" / "novideo_0.mp4").unlink()
    assert run.run_workers(2) == [0, 0], run.output(0) + run.output(1)
    jobs = {job.account: job for job in run.jobs().values()}
    blocked = run.store().snapshot().blocked

    def state(account: str) -> tuple[JobStatus, str, int, int]:
        job = jobs[account]
        return job.status, job.error_type, job.attempts, job.infra_attempts

    assert state("ok") == (JobStatus.SUCCESS, "", 0, 0)
    # account problems: failed at once and the account blocked for a person
    assert state("susp")[:2] == (JobStatus.FAILED, "suspended")
    assert state("captcha")[:2] == (JobStatus.FAILED, "captcha")
    assert {"susp", "captcha"} <= set(blocked)
    # infrastructure: requeued without using an attempt
    assert state("lost") == (JobStatus.RETRYING, "session_lost", 0, 1)
    assert state("noadb") == (JobStatus.RETRYING, "adb_not_ready", 0, 1)
    assert state("killed")[0] is JobStatus.RETRYING and state("killed")[2:] == (0, 1)
    # a missing video: failed for good, and no phone was started for it
    assert state("novideo")[:2] == (JobStatus.FAILED, "video_missing")
    assert next(p["boots"] for p in run.sim.state()["phones"] if p["serialName"] == "novideo") == 0
    # a job error: retried later, one attempt used, evidence left beside the attempt log
    assert state("missing") == (JobStatus.RETRYING, "element_missing", 1, 0)
    evidence = run.root / "logs" / "jobs" / jobs["missing"].job_id
    assert {"attempt_1.log", "attempt_1.screenshot.png", "attempt_1.page_source.xml"} <= {
        p.name for p in evidence.iterdir()
    }
    assert "caption_input" in (evidence / "attempt_1.page_source.xml").read_text(encoding="utf-8")
    # a failure after the publish tap is never retried automatically: a person checks it
    assert state("failpost")[0] is JobStatus.REVIEW
    # a confirmation that never came is not a success: review, not retried (it was in fact posted)
    assert state("slow")[:2] == (JobStatus.REVIEW, "publish_unconfirmed")
    assert "after the publish checkpoint" in jobs["slow"].error
    # nothing else was posted
    assert sorted(p["jobTag"] for p in run.sim.state()["publishes"]) == sorted(
        [jobs["ok"].job_id, jobs["slow"].job_id]
    )
    # after an infrastructure or account outcome the phone is stopped before the claim is settled
    # (while no other worker may claim the account and adopt the phone mid-stop)
    for account in ("lost", "susp"):
        settled_line = f"job {jobs[account].job_id} -> "
        lines = next(run.output(w) for w in (0, 1) if settled_line in run.output(w)).splitlines()
        stopped = next(i for i, line in enumerate(lines) if f"({account}) stopped" in line)
        settled = next(i for i, line in enumerate(lines) if settled_line in line)
        assert stopped < settled, "\n".join(lines[min(stopped, settled) : max(stopped, settled) + 1])
    run.wait_phones_stopped()


def test_a_geelark_rate_limit_is_infrastructure_not_an_account_problem(
    make_run: Callable[..., SimRun],
) -> None:
    run = make_run(("acc1",), {"api": {"rate_limit": 1.0, "paths": ["/open/v1/phone/start"]}})
    run.seed()
    assert run.run_workers(1) == [0], run.output()
    job = next(iter(run.jobs().values()))
    assert (job.status, job.error_type, job.attempts, job.infra_attempts) == (
        JobStatus.RETRYING,
        "rate_limited",
        0,
        1,
    )
    assert run.store().snapshot().blocked == {}
