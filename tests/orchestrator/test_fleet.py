"""The fleet applies supervision to real processes: a worker that keeps crashing is given up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from orchestrator.run.fleet import Fleet, WorkerLaunch, WorkerProcess
from orchestrator.run.supervision import RestartPolicy, WorkerState
from runtime.platform import ProcessRef
from tests.orchestrator.conftest import Reaper, wait_for


class ScriptSpawner:
    """Spawns `python -c CODE` instead of a worker (exit codes on demand)."""

    def __init__(self, code: str, reaper: Reaper) -> None:
        self.code = code
        self.reaper = reaper
        self.spawned = 0

    def spawn(self, worker_id: int) -> WorkerProcess:
        popen = subprocess.Popen([sys.executable, "-c", self.code])
        self.reaper.add(popen.pid)
        self.spawned += 1
        return WorkerProcess(worker_id, popen, ProcessRef.of(popen.pid) or ProcessRef(popen.pid, 0.0))


def drive(fleet: Fleet, until: float) -> list[str]:
    kinds: list[str] = []
    while time.monotonic() < until and not fleet.given_up():
        now = time.monotonic()
        kinds += [e.kind for e in fleet.reap(now)]
        fleet.spawn_one(1, now)
        time.sleep(0.02)
    return kinds


def test_a_worker_that_keeps_crashing_is_restarted_with_backoff_then_given_up(reaper: Reaper) -> None:
    spawner = ScriptSpawner("import sys; sys.exit(1)", reaper)
    fleet = Fleet(
        1, spawner, RestartPolicy(start_secs=60, max_crashes=3, backoff_base_s=0.05, backoff_cap_s=0.2)
    )
    kinds = drive(fleet, time.monotonic() + 240)
    assert fleet.given_up()
    assert spawner.spawned == 3
    assert kinds == ["crashed", "crashed", "fatal"]
    assert "gave up after 3 crashes" in fleet.slots[0].reason


def test_a_stuck_worker_is_killed_and_restarted(reaper: Reaper) -> None:
    spawner = ScriptSpawner("import time; time.sleep(60)", reaper)
    fleet = Fleet(1, spawner, RestartPolicy(start_secs=0.1, max_crashes=3, backoff_base_s=0.05))
    fleet.spawn_one(1, time.monotonic())
    first = fleet.procs[0].ref
    fleet.kill(0, "job X running 31m", heartbeat=None, grace_s=1.0)
    assert not first.is_alive()
    wait_for(lambda: fleet.reap(time.monotonic()), 5, "the kill to be reaped")
    assert fleet.slots[0].state is WorkerState.BACKOFF and fleet.slots[0].reason == "job X running 31m"
    wait_for(lambda: fleet.spawn_one(1, time.monotonic()), 5, "the restart")
    assert fleet.procs[0].ref != first
    fleet.kill_all({})


def test_the_worker_command_names_its_settings_and_parent(tmp_path: Path) -> None:
    launch = WorkerLaunch(tmp_path / "settings.json", tmp_path, tmp_path, {}, parent_pid=42)
    cmd = launch.command(3)
    assert cmd[1:] == [
        "-m",
        "worker",
        "--id",
        "3",
        "--settings",
        str(tmp_path / "settings.json"),
        "--parent-pid",
        "42",
    ]


def test_a_worker_whose_port_is_taken_is_given_up_at_once(reaper: Reaper) -> None:
    spawner = ScriptSpawner("import sys; sys.exit(3)", reaper)
    fleet = Fleet(
        1, spawner, RestartPolicy(start_secs=60, max_crashes=3, backoff_base_s=0.05, backoff_cap_s=0.2)
    )
    kinds = drive(fleet, time.monotonic() + 240)
    assert fleet.given_up()
    assert spawner.spawned == 1
    assert kinds == ["fatal"]
