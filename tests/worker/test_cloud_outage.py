"""GeeLark itself down: the worker gives its claim back without using an attempt, records the
outage, claims nothing while it lasts, and posts once GeeLark answers again."""

from __future__ import annotations

from collections.abc import Callable

from geelark.errors import ConnectFailed, UploadFailed, WaitTimeout
from jobqueue import JobStatus
from runtime.outage import OutageRecord
from tests.worker.conftest import SimRun, wait_until
from worker.job import cloud_down


def test_an_outage_costs_no_attempt_no_budget_and_no_cooldown(make_run: Callable[..., SimRun]) -> None:
    run = make_run(("acct1",))
    (job_id,) = run.seed()
    run.sim.set_outage(3600)  # the API drops every connection until told otherwise
    proc = run.start_worker()  # on its own (no parent): it probes GeeLark itself while it waits
    outage = OutageRecord(run.run_dir)
    wait_until(outage.current, 60, "the worker to record the outage")
    wait_until(lambda: run.jobs()[job_id].status is not JobStatus.CLAIMED, 30, "the claim to be released")
    released = run.jobs()[job_id]
    assert (released.status, released.attempts, released.infra_attempts) == (JobStatus.PENDING, 0, 0)
    assert run.store().snapshot().cooldowns == {}
    heartbeat = wait_until(lambda: run.run_dir.read_heartbeats().get(0), 10, "a heartbeat")
    assert wait_until(
        lambda: run.run_dir.read_heartbeats()[0].step == "waiting_for_geelark", 10, "the worker to wait"
    )
    assert heartbeat.process.pid == proc.pid
    run.sim.set_outage(0)  # GeeLark is back
    assert proc.wait(timeout=120) == 0, run.output()
    posted = run.jobs()[job_id]
    assert (posted.status, posted.infra_attempts) == (JobStatus.SUCCESS, 0)
    assert outage.current() is None
    assert [p["jobTag"] for p in run.sim.state()["publishes"]] == [job_id]
    run.wait_phones_stopped()


class _Client:
    """Stands in for GeeLarkClient.list_phones: answers, or fails as an outage does."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.calls = 0

    def list_phones(self, page: int = 1, page_size: int = 1) -> list[object]:
        self.calls += 1
        if not self.answers:
            raise ConnectFailed("connection to GeeLark refused")
        return []


def test_a_geelark_wait_that_ran_out_during_an_outage_is_the_outage_not_the_jobs_fault() -> None:
    upload_stalled = WaitTimeout("Upload timeout after 3s (last status: 1)")
    down, up = _Client(answers=False), _Client(answers=True)
    assert cloud_down(upload_stalled, down) is True  # GeeLark does not answer: no attempt charged
    assert cloud_down(upload_stalled, up) is False  # it answers: the wait itself failed
    assert cloud_down(ConnectFailed("refused"), up) is True and up.calls == 1  # no probe needed
    assert cloud_down(UploadFailed("task ended FAILED"), down) is False and down.calls == 1
