"""A stopped worker leaves no claim, no session, no running phone and no server process."""

from __future__ import annotations

from collections.abc import Callable

from jobqueue import JobStatus
from runtime.platform import ProcessRef, request_stop
from runtime.state import Heartbeat
from tests.worker.conftest import SimRun, wait_until

STUCK = {"scenarios": {"element_missing": 1}}  # the worker waits for a Share button that never comes


def _busy_heartbeat(run: SimRun, step: str, worker_id: int = 0, job_id: str | None = None) -> Heartbeat:
    def busy() -> Heartbeat | None:
        hb = run.run_dir.read_heartbeats().get(worker_id)
        if hb is None or hb.step != step or hb.appium is None:
            return None
        return hb if job_id is None or hb.job_id == job_id else None

    return wait_until(busy, 20.0, f"worker {worker_id} to reach step {step}")


def test_every_way_of_stopping_a_worker_mid_job_leaves_nothing_behind(
    make_run: Callable[..., SimRun],
) -> None:
    """W0 gets a stop file, W1 a signal (SIGTERM / CTRL_BREAK), W2 loses its parent: each releases
    its claim without using an attempt, quits its session, stops its phone and its server."""
    accounts = ("acc0", "acc1", "acc2")
    run = make_run(
        accounts, {"phones": dict.fromkeys(accounts, STUCK)}, workers=3, flow_timeouts=(30.0, 30.0)
    )
    run.seed()
    parent = run.start_sleeper()
    procs = [run.start_worker(0), run.start_worker(1), run.start_worker(2, "--parent-pid", str(parent.pid))]
    beats = [_busy_heartbeat(run, "publish", w) for w in range(3)]
    run.run_dir.request_stop(0)
    ref = ProcessRef.of(procs[1].pid)
    assert ref is not None and request_stop(ref)
    parent.kill()
    parent.wait(timeout=5)
    codes = [proc.wait(timeout=20) for proc in procs]
    assert codes == [0, 0, 0], run.output(0) + run.output(1) + run.output(2)
    servers = [hb.appium for hb in beats]
    assert all(server is not None and not server.is_alive() for server in servers), (
        "a server outlived its worker"
    )
    run.wait_phones_stopped()
    assert run.run_dir.phones_left_running() == {}
    assert run.run_dir.read_heartbeats() == {}
    assert run.sim.state()["publishes"] == []
    for hb in beats:
        job = run.jobs()[str(hb.job_id)]
        assert (job.status, job.attempts, job.infra_attempts, job.claim_token) == (
            JobStatus.PENDING,
            0,
            0,
            "",
        )


def test_a_stop_after_the_checkpoint_waits_for_the_confirmation(make_run: Callable[..., SimRun]) -> None:
    # 5 s of real time in the publish: room for a loaded machine to see the heartbeat of that job
    faults = {"phones": {"acc1": {"scenarios": {"slow_post": 1}}}, "slow_post_delay_s": 500}
    run = make_run(("acc1",), faults, flow_timeouts=(5.0, 30.0))
    (job_id,) = run.seed(per_account=2)[:1]
    proc = run.start_worker(0)
    hb = _busy_heartbeat(run, "confirm_publish", job_id=job_id)
    ref = ProcessRef.of(proc.pid)
    assert ref is not None and request_stop(ref)
    assert proc.wait(timeout=20) == 0, run.output()
    assert hb.appium is not None and not hb.appium.is_alive()
    jobs = run.jobs()
    assert jobs[job_id].status is JobStatus.SUCCESS  # finished, not abandoned mid-publish
    assert jobs["acc1-1"].status is JobStatus.PENDING  # the next job was not started
    run.wait_phones_stopped()
    assert [p["jobTag"] for p in run.sim.state()["publishes"]] == [job_id]


def test_a_second_signal_abandons_the_publish_and_leaves_it_for_review(
    make_run: Callable[..., SimRun],
) -> None:
    faults = {"phones": {"acc1": {"scenarios": {"slow_post": 1}}}, "slow_post_delay_s": 1000}
    run = make_run(("acc1",), faults, flow_timeouts=(5.0, 30.0))
    (job_id,) = run.seed()
    proc = run.start_worker(0)
    hb = _busy_heartbeat(run, "confirm_publish")
    ref = ProcessRef.of(proc.pid)
    assert ref is not None and request_stop(ref)
    wait_until(lambda: "stop requested: signal (#1)" in run.output(), 10, "the first signal to be noticed")
    assert request_stop(ref)
    assert proc.wait(timeout=15) == 5, run.output()
    assert hb.appium is not None and not hb.appium.is_alive()
    job = run.jobs()[job_id]
    assert (job.status, job.error_type) == (JobStatus.REVIEW, "released_after_checkpoint")
    run.wait_phones_stopped()
