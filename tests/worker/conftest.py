"""Fixtures for the worker tests: a GeeLark simulator in process, a seeded queue, real worker
subprocesses on free ports, and a finalizer that stops everything that was started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from geelark.simulator import SimulatorConfig, SimulatorServer, parse_faults
from jobqueue import CsvJobStore, Job, NewJob, QueuePolicy
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs
from runtime.settings import dump_settings, load_settings
from runtime.state import RunDir
from worker.flow import default_flow_path

REPO = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.01


def free_port_base(count: int = 1, stride: int = 2) -> int:
    """A port p such that p, p+stride, ... (count ports) are all free right now."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + stride * count > 65000:
            continue
        if all(_free(base + stride * i) for i in range(count)):
            return base
    raise RuntimeError("no free port range found")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@dataclass
class SimRun:
    """One simulated run: folder, simulator, queue and the workers started in it."""

    root: Path
    sim: SimulatorServer
    accounts: tuple[str, ...]
    port_base: int
    flow_timeouts: tuple[float, float]
    handoff: bool = False
    backoff_base_s: float = 3600.0
    job_timeout_s: float = 60.0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def progress(self) -> Path:
        return self.root / "parallel_progress.csv"

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.root / ".orchestrator")

    def store(self) -> CsvJobStore:
        return CsvJobStore(self.progress, QueuePolicy(daily_limit=100))

    def seed(self, per_account: int = 1, accounts: tuple[str, ...] | None = None) -> list[str]:
        jobs = []
        for n in range(per_account):
            for account in accounts or self.accounts:
                video = self.root / "videos" / f"{account}_{n}.mp4"
                video.parent.mkdir(exist_ok=True)
                video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(256))
                jobs.append(NewJob(f"{account}-{n}", account, str(video), f"post {n} of {account} #sim"))
        self.store().seed(jobs)
        return [j.job_id for j in jobs]

    def write_accounts(self, rows: dict[str, tuple[str, str]]) -> None:
        """accounts.csv in the run's folder: account -> (app, executor)."""
        lines = ["account,app,executor", *(f"{a},{app},{ex}" for a, (app, ex) in rows.items())]
        (self.root / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def jobs(self) -> dict[str, Job]:
        return {job.job_id: job for job in self.store().snapshot().jobs}

    def write_config(self) -> Path:
        step_s, success_s = self.flow_timeouts
        flow = json.loads(default_flow_path().read_text(encoding="utf-8"))
        flow["step_timeout_s"] = step_s
        flow["outcome"]["confirm_timeout_s"] = success_s
        flow_file = self.root / "flow.json"
        flow_file.write_text(json.dumps(flow), encoding="utf-8")
        config = self.root / "config.toml"
        config.write_text(
            f"""
[paths]
progress_file = '{self.progress.as_posix()}'
logs_dir = '{(self.root / "logs").as_posix()}'
runtime_dir = '{(self.root / ".orchestrator").as_posix()}'
[queue]
daily_limit = 100
backoff_base_s = {self.backoff_base_s}
backoff_jitter = "none"
[worker]
appium_port_base = {self.port_base}
flow_file = '{flow_file.as_posix()}'
job_timeout_s = {self.job_timeout_s}
heartbeat_interval_s = 0.2
[simulate]
time_scale = {TIME_SCALE}
""",
            encoding="utf-8",
        )
        return config

    def start_worker(self, worker_id: int = 0, *extra: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "GEELARK_TOKEN": self.sim.config.token,
            "GEELARK_BASE_URL": self.sim.url,
        }
        env.pop("GEELARK_APP_ID", None)
        env.pop("GEELARK_API_KEY", None)
        source = ["--config", str(self.write_config())]
        if self.handoff:  # the orchestrator's way: resolved settings as JSON
            loaded = load_settings(self.write_config(), {}, {})
            dump_settings(loaded.settings, self.run_dir.settings_file)
            source = ["--settings", str(self.run_dir.settings_file)]
        cmd = [sys.executable, "-m", "worker", "--id", str(worker_id), *source, "--simulate", *extra]
        out = open(self.root / f"worker_{worker_id}.out", "ab")  # noqa: SIM115 - closed by the process end
        proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT, **new_group_popen_kwargs()
        )
        out.close()
        self.procs.append(proc)
        return proc

    def start_sleeper(self) -> subprocess.Popen[bytes]:
        """A stand-in parent process (killed by the test)."""
        proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], **new_group_popen_kwargs()
        )
        self.procs.append(proc)
        return proc

    def run_workers(self, count: int = 1, timeout_s: float = 60.0) -> list[int]:
        procs = [self.start_worker(i) for i in range(count)]
        return [p.wait(timeout=timeout_s) for p in procs]

    def output(self, worker_id: int = 0) -> str:
        parts = [self.root / f"worker_{worker_id}.out", self.root / "logs" / f"worker_{worker_id}.log"]
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in parts if p.exists())

    def phones_running(self) -> list[str]:
        return [p["serialName"] for p in self.sim.state()["phones"] if p["status"] != 2]

    def wait_phones_stopped(self, timeout_s: float = 5.0) -> None:
        wait_until(lambda: not self.phones_running(), timeout_s, "every phone to be stopped")

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                ref = ProcessRef.of(proc.pid)
                if ref is not None:
                    kill_tree(ref, grace_s=2.0)
                proc.wait(timeout=5)
        for hb in self.run_dir.read_heartbeats().values():
            if hb.appium is not None and hb.appium.is_alive():
                kill_tree(hb.appium, grace_s=2.0)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[..., SimRun]]:
    runs: list[SimRun] = []

    def factory(
        accounts: tuple[str, ...],
        faults: dict[str, Any] | None = None,
        workers: int = 1,
        flow_timeouts: tuple[float, float] = (3.0, 10.0),
        **sim_options: Any,
    ) -> SimRun:
        config = SimulatorConfig(
            phones=accounts, time_scale=TIME_SCALE, faults=parse_faults(faults or {}), **sim_options
        )
        sim = SimulatorServer(config).start()
        run = SimRun(tmp_path, sim, accounts, free_port_base(workers), flow_timeouts)
        runs.append(run)
        return run

    yield factory
    for run in runs:
        try:
            run.cleanup()
        finally:
            run.sim.stop()
