"""Stuck workers are judged on the orchestrator's monotonic clock: clock steps change nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orchestrator.run.stuck import WorkerWatch, find_stuck, observe
from runtime.platform import ProcessRef
from runtime.state import Heartbeat

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
PID = 4242
LIMITS = {"job_timeout_s": 600.0, "heartbeat_timeout_s": 60.0}


def beat(at: datetime, job: str | None = "job1", pid: int = PID) -> Heartbeat:
    return Heartbeat(worker_id=0, process=ProcessRef(pid, 1.0), heartbeat_at=at, job_id=job, step="session")


def watch_through(beats: Sequence[tuple[float, Heartbeat | None]]) -> tuple[WorkerWatch, Heartbeat | None]:
    """The watch after looking at each (monotonic time, heartbeat) in turn."""
    watch: WorkerWatch | None = None
    last: Heartbeat | None = None
    for mono, hb in beats:
        watch = observe(watch, PID, hb, mono)
        last = hb
    assert watch is not None
    return watch, last


def stuck_at(beats: Sequence[tuple[float, Heartbeat | None]], mono: float) -> dict[int, str]:
    watch, last = watch_through(beats)
    return find_stuck({0: watch}, {0: last} if last else {}, mono, **LIMITS)


def test_a_forward_wall_clock_step_does_not_make_a_beating_worker_silent() -> None:
    # The wall clock jumps 2 hours (a laptop waking from sleep); the worker keeps beating every 2 s.
    beats = [
        (0.0, beat(T0)),
        (2.0, beat(T0 + timedelta(hours=2))),
        (4.0, beat(T0 + timedelta(hours=2, seconds=2))),
    ]
    assert stuck_at(beats, 5.0) == {}


def test_a_backward_wall_clock_step_is_still_a_sign_of_life() -> None:
    beats = [
        (0.0, beat(T0)),
        (30.0, beat(T0 - timedelta(hours=2))),
        (59.0, beat(T0 - timedelta(hours=2) + timedelta(seconds=29))),
    ]
    assert stuck_at(beats, 100.0) == {}


def test_silence_longer_than_the_heartbeat_timeout_is_stuck() -> None:
    beats = [(0.0, beat(T0)), (30.0, beat(T0)), (61.0, beat(T0))]  # the same beat: the file stopped changing
    assert stuck_at(beats, 61.0) == {0: "no heartbeat for 61s (step session)"}


def test_a_job_past_its_timeout_is_stuck_whatever_the_wall_clock_says() -> None:
    # Beating fine, but on one job for 11 monotonic minutes; the wall clock went backwards meanwhile.
    beats = [(float(t), beat(T0 - timedelta(seconds=t))) for t in range(0, 662, 2)]
    assert stuck_at(beats, 661.0) == {0: "job job1 running 11.0m, past the job timeout (10.0m)"}


def test_a_new_job_restarts_the_job_clock() -> None:
    beats = [
        (0.0, beat(T0, "a")),
        (600.0, beat(T0 + timedelta(seconds=600), None)),
        (630.0, beat(T0 + timedelta(seconds=630), "a")),
    ]
    assert stuck_at(beats, 660.0) == {}


def test_a_worker_that_never_wrote_a_heartbeat_is_stuck_after_the_timeout() -> None:
    assert stuck_at([(0.0, None)], 59.0) == {}
    assert stuck_at([(0.0, None)], 61.0) == {0: "no heartbeat for 61s"}


def test_a_heartbeat_of_another_pid_is_no_sign_of_life() -> None:
    other = beat(T0, pid=PID + 1)
    watch, _ = watch_through([(0.0, other), (50.0, other)])
    assert find_stuck({0: watch}, {0: other}, 61.0, **LIMITS) == {
        0: f"no heartbeat for 61s (the heartbeat file names pid {PID + 1})"
    }
