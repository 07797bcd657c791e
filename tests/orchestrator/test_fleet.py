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


def test_a_worker_whose_port_is_taken_is_retried_with_backoff_before_it_is_given_up(reaper: Reaper) -> None:
    # The port its own previous server held may be free a moment later (a restart): not fatal at once.
    spawner = ScriptSpawner("import sys; sys.exit(3)", reaper)
    fleet = Fleet(
        1, spawner, RestartPolicy(start_secs=60, max_crashes=3, backoff_base_s=0.05, backoff_cap_s=0.2)
    )
    kinds = drive(fleet, time.monotonic() + 240)
    assert fleet.given_up()
    assert spawner.spawned == 3
    assert kinds == ["crashed", "crashed", "fatal"]
    assert "a port of its plan is in use" in fleet.slots[0].reason


def test_a_worker_that_is_given_up_shows_the_last_error_of_its_log(reaper: Reaper, tmp_path: Path) -> None:
    log = tmp_path / "worker_0.log"
    log.write_text(
        "2026-12-05T10:00:00.000+0000 W0 INFO worker.loop: started\n"
        "2026-12-05T10:00:01.000+0000 W0 ERROR worker: no GeeLark credentials: set GEELARK_TOKEN\n"
        "2026-12-05T10:00:01.100+0000 W0 INFO worker: exiting\n",
        encoding="utf-8",
    )

    class LoggingSpawner(ScriptSpawner):
        def spawn(self, worker_id: int) -> WorkerProcess:
            proc = super().spawn(worker_id)
            return WorkerProcess(worker_id, proc.popen, proc.ref, event_log=log)

    fleet = Fleet(1, LoggingSpawner("import sys; sys.exit(2)", reaper), RestartPolicy(start_secs=60))
    fleet.spawn_one(1, time.monotonic())
    events = wait_for(lambda: fleet.reap(time.monotonic()), 60, "the worker to exit")
    assert events[0].kind == "fatal"
    assert (
        "last error: 2026-12-05T10:00:01.000+0000 W0 ERROR worker: no GeeLark credentials"
        in events[0].message
    )
    assert str(log) in events[0].message
