"""What an operator's machine does to a run: a full disk, a port already taken, a frozen lock holder."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import filelock
import pytest

from harness.processes import free_port_base
from jobqueue import CsvJobStore, LockTimeout
from orchestrator.errors import PreflightFailed
from orchestrator.exit_codes import ExitCode
from orchestrator.run import runner
from orchestrator.run.context import StopSignals
from orchestrator.run.fleet import Fleet, WorkerProcess
from orchestrator.run.preflight import check_ports, is_disk_full, low_disk
from orchestrator.run.runner import supervise
from orchestrator.run.shutdown import finish
from orchestrator.run.startup import open_run
from orchestrator.run.stuck import WorkerWatch
from orchestrator.run.supervision import RestartPolicy
from orchestrator.views.report import RunEnd
from runtime.platform import ProcessRef
from runtime.settings import Settings, load_settings
from tests.orchestrator.conftest import Reaper, Workdir, config_toml
from worker.contract import PortBases, port_plan


class Collect:
    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, message: str) -> None:
        self.events.append(message)

    def progress(self, line: str) -> None:
        pass

    def tick(self, state: object) -> None:
        pass


def settings_in(tmp_path: Path) -> Settings:
    config = tmp_path / "run.toml"
    config.write_text(
        f'[paths]\nruntime_dir = "{(tmp_path / "rt").as_posix()}"\n'
        f'progress_file = "{(tmp_path / "parallel_progress.csv").as_posix()}"\n'
        f'logs_dir = "{(tmp_path / "logs").as_posix()}"\n',
        encoding="utf-8",
    )
    return load_settings(config).settings


def disk_full(*_args: object) -> NoReturn:
    raise OSError(errno.ENOSPC, "No space left on device")


class NoWorkers:
    def spawn(self, worker_id: int) -> NoReturn:
        raise AssertionError("no worker may start")


def test_a_disk_that_runs_nearly_full_ends_the_run_with_its_own_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = Collect()
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=observer, stop=StopSignals())
    monkeypatch.setattr(runner, "low_disk", lambda paths: "only 3 MB free on the disk of /x")
    assert supervise(run, Fleet(1, NoWorkers(), RestartPolicy())) is RunEnd.DISK_FULL
    assert any("DISK FULL: only 3 MB free" in e and "free some space" in e for e in observer.events)


def test_no_space_left_while_the_loop_writes_ends_the_run_instead_of_crashing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = Collect()
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=observer, stop=StopSignals())
    monkeypatch.setattr(run.loop_store, "snapshot", disk_full)
    assert supervise(run, Fleet(1, NoWorkers(), RestartPolicy())) is RunEnd.DISK_FULL
    assert any("No space left on device" in e for e in observer.events)


def test_the_shutdown_on_a_full_disk_stops_what_it_can_and_reports_what_it_could_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = Collect()
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=observer, stop=StopSignals())
    run.run_dir.ensure()
    (tmp_path / "logs").write_text("not a folder: writing the report fails like a full disk")
    monkeypatch.setattr(run.store, "recover_orphans", disk_full)
    monkeypatch.setattr(run.store, "snapshot", disk_full)
    result = finish(run, None, RunEnd.DISK_FULL)
    assert result.exit_code is ExitCode.DISK_FULL
    assert result.report_files is None
    assert result.report.notes[:2] == (
        "claims could not be released now ([Errno 28] No space left on device); the next run recovers them",
        "the progress file could not be read for this report: [Errno 28] No space left on device",
    )
    assert any("the batch report could not be written" in e for e in observer.events)
    assert run.run_dir.read_run() is None


def test_disk_checks_name_the_folder_and_the_space_needed() -> None:
    free = {Path("/a"): 500 * 1024 * 1024, Path("/b"): 20 * 1024 * 1024}
    assert low_disk([Path("/a")], free=free.__getitem__) is None
    assert low_disk([Path("/a"), Path("/b")], free=free.__getitem__) == (
        "only 20 MB free on the disk of /b (the run needs at least 100 MB)"
    )
    assert is_disk_full(OSError(errno.ENOSPC, "full")) and not is_disk_full(OSError(errno.EACCES, "no"))


def test_a_taken_port_is_named_with_its_holder_before_anything_starts() -> None:
    base = free_port_base(2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", base + 2))  # worker 1's Appium port
        sock.listen()
        with pytest.raises(PreflightFailed) as caught:
            check_ports([port_plan(w, bases=PortBases(appium=base, system=base + 200)) for w in (0, 1)])
    message = str(caught.value)
    assert f"port {base + 2} (worker 1) is in use by pid" in message
    assert "appium_port_base" in message


def test_a_real_run_refuses_to_start_when_a_worker_port_is_taken(workdir: Workdir) -> None:
    workdir.seed(jobs=2, accounts=1)
    base = free_port_base(1)
    real = config_toml(base, 1).replace("enabled = true", "enabled = false")  # real phones: no moving
    (workdir.path / "parallel-orchestrator.toml").write_text(real)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", base))
        sock.listen()
        result = workdir.cli("--run")
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    assert f"Not started: port {base} (worker 0) is in use by pid" in result.stderr
    assert workdir.run_dir.read_run() is None
    assert not list((workdir.path / "logs").glob("worker_*.log"))
    assert not list((workdir.path / "logs").glob("batch_report_*"))


class Sleeper:
    """Spawns a process that does nothing: a worker that hangs (no heartbeat ever)."""

    def __init__(self, reaper: Reaper) -> None:
        self.reaper = reaper

    def spawn(self, worker_id: int) -> WorkerProcess:
        popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        self.reaper.add(popen.pid)
        return WorkerProcess(worker_id, popen, ProcessRef.of(popen.pid) or ProcessRef(popen.pid, 0.0))


@pytest.mark.timeout(45)  # the loop's own lock wait is short; the queue's normal one (60 s) would hang here
def test_a_held_queue_lock_never_keeps_the_loop_from_killing_a_stuck_worker(
    tmp_path: Path, reaper: Reaper
) -> None:
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=Collect(), stop=StopSignals())
    run.store.seed([])
    fleet = Fleet(1, Sleeper(reaper), RestartPolicy(start_secs=60))
    fleet.spawn_one(1, run.clock())
    stuck = fleet.procs[0].ref
    run.watches[0] = WorkerWatch(stuck.pid, alive_since=run.clock() - 3600)  # silent for an hour
    assert isinstance(run.store, CsvJobStore)
    holder = filelock.FileLock(str(run.store.lock_path))
    holder.acquire()  # a frozen lock holder (a worker stopped mid-write, a hung tool)
    try:
        for _ in range(3):
            with pytest.raises(LockTimeout):
                runner.tick(run, fleet, runner.LoopState())
        assert not stuck.is_alive()
    finally:
        holder.release()
        fleet.kill_all({})
