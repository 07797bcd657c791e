"""Fixtures for the orchestrator's acceptance tests: tmp working folders, free ports, real processes.

Every process a test starts is registered with `reaper` and killed (tree, by ProcessRef) at the end.
Waiting is polling with a deadline (`wait_for`), never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import requests

from harness.processes import run_orchestrator, subprocess_env, wait_for
from jobqueue import CsvJobStore, NewJob, QueueSnapshot
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs
from runtime.state import RunDir

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl+C for a child started in its own group: SIGINT (POSIX), CTRL_BREAK_EVENT (Windows)."""
    if sys.platform == "win32":
        os.kill(proc.pid, signal.CTRL_BREAK_EVENT)
    else:
        proc.send_signal(signal.SIGINT)


@dataclass
class Reaper:
    """Every process a test started (and every process a run recorded) dies at teardown."""

    refs: list[ProcessRef] = field(default_factory=list)
    run_dirs: list[RunDir] = field(default_factory=list)

    def add(self, pid: int) -> None:
        ref = ProcessRef.of(pid)
        if ref is not None:
            self.refs.append(ref)

    def reap(self) -> None:
        for run_dir in self.run_dirs:
            run = run_dir.read_run()
            if run is not None:
                self.refs += [r for r in (run.process, run.simulator) if r is not None]
            for hb in run_dir.read_heartbeats().values():
                self.refs += [r for r in (hb.process, hb.appium) if r is not None]
        for ref in self.refs:
            kill_tree(ref, grace_s=2.0)


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    r = Reaper()
    try:
        yield r
    finally:
        r.reap()


def config_toml(port_base: int, workers: int, simulator_url: str = "", grace_s: float = 20.0) -> str:
    sim = f'simulator_url = "{simulator_url}"\n' if simulator_url else ""
    return f"""[orchestrator]
workers = {workers}
grace_period_s = {grace_s}
restart_backoff_s = 0.5
heartbeat_timeout_s = 30
progress_interval_s = 0.5
{sim}
[queue]
daily_limit = 100
backoff_base_s = 0.5
backoff_cap_s = 1
infra_cooldown_s = 1

[simulate]
enabled = true
faults = "none"
time_scale = 0.005

[worker]
appium_port_base = {port_base}
system_port_base = {port_base + 200}
"""


@dataclass
class Workdir:
    """A tmp working folder with a config, videos and a seeded queue; runs the CLI in it."""

    path: Path
    reaper: Reaper
    accounts: tuple[str, ...] = ()

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.path / ".orchestrator")

    def store(self) -> CsvJobStore:
        return CsvJobStore(self.path / "parallel_progress.csv")

    def snapshot(self) -> QueueSnapshot:
        return self.store().snapshot()

    def seed(self, jobs: int, accounts: int) -> None:
        media = self.path / "videos"
        media.mkdir(exist_ok=True)
        self.accounts = tuple(f"acct{n}" for n in range(1, accounts + 1))
        new = []
        for n in range(jobs):
            video = media / f"v{n:02d}.mp4"
            video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes([n % 256]) * 64)
            new.append(NewJob(f"job{n:02d}", self.accounts[n % accounts], str(video), f"caption {n}"))
        self.store().seed(new)

    def cli(self, *args: str, timeout_s: float = 90.0) -> subprocess.CompletedProcess[str]:
        return run_orchestrator(self.path, *args, timeout_s=timeout_s)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        out = open(self.path / "orchestrator.console.txt", "ab")  # noqa: SIM115 - closed by the child's exit
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *args],
            cwd=self.path,
            env=subprocess_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            **new_group_popen_kwargs(),
        )
        out.close()
        self.reaper.add(proc.pid)
        return proc

    def console_text(self) -> str:
        return (self.path / "orchestrator.console.txt").read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def simulator(tmp_path: Path, reaper: Reaper) -> Iterator[Callable[[tuple[str, ...]], str]]:
    """Start an external GeeLark simulator (phones named after accounts); returns its URL."""

    def start(phones: tuple[str, ...]) -> str:
        ready = tmp_path / "sim.ready.json"
        log = open(tmp_path / "simulator.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "geelark.simulator", "--port", "0", "--ready-file", str(ready),
                "--phones", ",".join(phones), "--app-id", "sim-app-id", "--api-key", "sim-api-key",
                "--faults", "none", "--time-scale", "0.005",
            ],
            env=subprocess_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            **new_group_popen_kwargs(),
        )  # fmt: skip
        log.close()
        reaper.add(proc.pid)
        wait_for(ready.exists, 20, "the simulator's ready file")
        port = wait_for(lambda: json.loads(ready.read_text() or "{}").get("port"), 5, "the simulator port")
        return f"http://127.0.0.1:{port}"

    yield start


def running_phones(sim_url: str) -> list[str]:
    """Names of the simulator's phones that are not shut down."""
    state = requests.get(f"{sim_url}/_sim/state", timeout=5).json()
    return [p["serialName"] for p in state["phones"] if p["status"] != 2]


@pytest.fixture
def workdir(tmp_path: Path, reaper: Reaper) -> Workdir:
    folder = tmp_path / "work"
    folder.mkdir()
    wd = Workdir(folder, reaper)
    reaper.run_dirs.append(wd.run_dir)
    return wd
