"""A stop request cuts GeeLark's waits short only while a job runs (not while the worker is stopping
its phone on the way out)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from geelark import Interrupted, stoppable_sleep
from harness.processes import wait_for
from runtime.platform import ProcessRef
from runtime.state import RunDir
from worker.heartbeat import HeartbeatThread, StopControl, WorkerStatus


def test_a_stop_cuts_waits_inside_a_job_only(tmp_path: Path) -> None:
    stop = StopControl(RunDir(tmp_path), 0, parent=None, parent_expected=False)
    pause = stoppable_sleep(stop.should_cut_waits)
    stop.request("test")
    pause(0.01)  # outside a job: the phone must still be stopped after the stop request
    with stop.during_job(), pytest.raises(Interrupted):
        pause(30.0)
    assert not stop.should_cut_waits()


def test_the_run_stop_file_counts_as_a_stop_request(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    run_dir.ensure()
    stop = StopControl(run_dir, 3, parent=None, parent_expected=False)
    with stop.during_job():
        assert not stop.should_cut_waits()
        run_dir.request_stop(3)
        assert stop.should_cut_waits()


def test_a_new_step_reaches_the_heartbeat_file_at_once_not_at_the_next_interval(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    run_dir.ensure()
    me = ProcessRef.of(os.getpid())
    assert me is not None
    status = WorkerStatus(4, me, 4731)
    stop = StopControl(run_dir, 4, parent=None, parent_expected=False)
    beats = HeartbeatThread(run_dir, status, stop, interval_s=3600.0)  # the interval never comes
    beats.start()
    try:
        wait_for(lambda: 4 in run_dir.read_heartbeats(), 10, "the first heartbeat")
        for step in ("phone", "video", "session"):
            status.update(step=step, job_id="j1")
            wait_for(functools.partial(_step_in_file, run_dir, step), 10, f"step {step} in the file")
    finally:
        beats.halt()
    assert not beats.is_alive()


def _step_in_file(run_dir: RunDir, step: str) -> bool:
    return run_dir.read_heartbeats()[4].step == step
