"""A simulated fleet in a tmp folder: an external GeeLark simulator, a seeded queue, `--run` processes.

Shared by the chaos suite and `bench/fleet.py`. Everything started here is a child in its own process
group, named by its `ProcessRef`, and stopped by `Fleet.close()` (call it from a finalizer).
Waiting is polling with a deadline (`wait_for`), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests

from harness.processes import run_orchestrator, wait_for
from harness.processes import subprocess_env as child_env
from jobqueue import CsvJobStore, NewJob, QueuePolicy, QueueSnapshot
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs
from runtime.state import RunDir

ROOT = Path(__file__).resolve().parents[1]
FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 256
T = TypeVar("T")


@dataclass(frozen=True)
class FleetConfig:
    """The run's TOML: simulated, an external simulator, fast backoff and cooldowns."""

    simulator_url: str
    port_base: int
    workers: int = 8
    time_scale: float = 0.01
    grace_period_s: float = 10.0
    daily_limit: int = 100_000
    max_attempts: int = 3
    max_worker_restarts: int = 1000
    restart_backoff_s: float = 0.2
    start_stagger_s: float = 0.1
    heartbeat_timeout_s: float = 30.0
    backoff_base_s: float = 0.3
    backoff_cap_s: float = 1.0
    infra_cooldown_s: float = 0.5
    keep_phone_between_jobs: bool = True
    flow_file: Path | None = None
    executor: str = ""  # [accounts] executor: the default for accounts the accounts list leaves empty
    job_timeout_s: float = 900.0
    extra: str = ""

    def toml(self) -> str:
        keep = "true" if self.keep_phone_between_jobs else "false"
        flow = f'flow_file = "{self.flow_file.as_posix()}"' if self.flow_file else ""
        executor = f'executor = "{self.executor}"\n' if self.executor else ""
        return f"""[accounts]
daily_limit = {self.daily_limit}
{executor}
[orchestrator]
workers = {self.workers}
grace_period_s = {self.grace_period_s}
restart_backoff_s = {self.restart_backoff_s}
max_worker_restarts = {self.max_worker_restarts}
start_stagger_s = {self.start_stagger_s}
heartbeat_timeout_s = {self.heartbeat_timeout_s}
progress_interval_s = 1
phone_stop_timeout_s = 30
simulator_url = "{self.simulator_url}"

[queue]
max_attempts = {self.max_attempts}
backoff_base_s = {self.backoff_base_s}
backoff_cap_s = {self.backoff_cap_s}
infra_cooldown_s = {self.infra_cooldown_s}

[simulate]
enabled = true
time_scale = {self.time_scale}

[worker]
appium_port_base = {self.port_base}
system_port_base = {self.port_base + 200}
keep_phone_between_jobs = {keep}
job_timeout_s = {self.job_timeout_s}
{flow}
{self.extra}"""


def fast_flow_file(
    folder: Path, step_timeout_s: float = 2.0, success_timeout_s: float = 6.0, *, flow_name: str = "default"
) -> Path:
    """A shipped flow (`default` = the example app, `instagram_reels`) with short waits: its element
    waits are real seconds, not scaled by the simulator's time scale (a missing element would
    otherwise cost 20 s of every such attempt)."""
    flow = json.loads((ROOT / "worker" / "flows" / f"{flow_name}.json").read_text(encoding="utf-8"))
    flow["step_timeout_s"] = step_timeout_s
    for step in flow["steps"]:
        step.pop("timeout_s", None)
        if "retry_after_s" in step or step.get("retries"):
            step["retry_after_s"] = min(step.get("retry_after_s", 3.0), step_timeout_s / 2)
    for handler in flow.get("handlers", []):
        if "stuck_s" in handler:
            handler["stuck_s"] = min(handler["stuck_s"], step_timeout_s / 2)
    flow["outcome"]["confirm_timeout_s"] = success_timeout_s
    flow["outcome"]["upload_wait_s"] = max(success_timeout_s, flow["outcome"].get("upload_wait_s", 0) / 50)
    path = folder / "fast_flow.json"
    path.write_text(json.dumps(flow, indent=1), encoding="utf-8")
    return path


@dataclass
class Simulator:
    """An external GeeLark simulator (phones named after accounts) that outlives the runs."""

    ref: ProcessRef
    url: str
    popen: subprocess.Popen[bytes]

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_sim/state", timeout=10).json()

    def set_faults(self, faults: dict[str, Any]) -> None:
        requests.post(f"{self.url}/_sim/faults", json=faults, timeout=10).raise_for_status()

    def outage(self, seconds: float) -> None:
        """GeeLark's API drops every connection for `seconds` (the /_sim/ routes keep working)."""
        requests.post(f"{self.url}/_sim/outage", json={"seconds": seconds}, timeout=10).raise_for_status()

    def stop(self) -> None:
        kill_tree(self.ref, grace_s=2.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


def start_simulator(
    folder: Path,
    phones: Sequence[str],
    faults: str,
    time_scale: float,
    seed: int = 0,
    boot_s: float = 30.0,
    task_time_s: float = 120.0,
    task_credits: int = 10_000,
) -> Simulator:
    ready = folder / "sim.ready.json"
    ready.unlink(missing_ok=True)
    with open(folder / "simulator.log", "ab") as log:
        popen = subprocess.Popen(
            [
                sys.executable, "-m", "geelark.simulator", "--port", "0", "--ready-file", str(ready),
                "--phones", ",".join(phones), "--app-id", "sim-app-id", "--api-key", "sim-api-key",
                "--faults", faults, "--time-scale", str(time_scale), "--seed", str(seed),
                "--boot-time", str(boot_s), "--rate-limit", "100000", "--task-time", str(task_time_s),
                "--task-credits", str(task_credits),
            ],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **new_group_popen_kwargs(),
        )  # fmt: skip
    ref = ProcessRef.of(popen.pid) or ProcessRef(popen.pid, 0.0)

    def port() -> int | None:
        assert popen.poll() is None, f"the simulator exited: {(folder / 'simulator.log').read_text()}"
        try:
            return int(json.loads(ready.read_text(encoding="utf-8"))["port"])
        except (OSError, ValueError, KeyError):
            return None

    sim = Simulator(ref, "", popen)
    try:
        sim.url = f"http://127.0.0.1:{wait_for(port, 30, 'the simulator ready file')}"
    except BaseException:
        sim.stop()
        raise
    return sim


@dataclass
class Fleet:
    """A working folder with a seeded queue; starts `--run` and other CLI commands in it."""

    path: Path
    accounts: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    runs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    simulator: Simulator | None = None

    @property
    def progress_file(self) -> Path:
        return self.path / "parallel_progress.csv"

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.path / ".orchestrator")

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def store(self) -> CsvJobStore:
        return CsvJobStore(self.progress_file, QueuePolicy(daily_limit=100_000))

    def snapshot(self) -> QueueSnapshot:
        return self.store().snapshot()

    def seed(self, jobs: int, accounts: int, consecutive: int = 1) -> None:
        """`jobs` jobs over `accounts` accounts; `consecutive` jobs in a row share an account."""
        media = self.path / "videos"
        media.mkdir(exist_ok=True)
        self.accounts = tuple(f"acct{n:02d}" for n in range(1, accounts + 1))
        new = []
        for n in range(jobs):
            video = media / f"v{n:04d}.mp4"
            video.write_bytes(FAKE_MP4 + n.to_bytes(4, "big"))
            account = self.accounts[(n // consecutive) % accounts]
            new.append(NewJob(f"job{n:04d}", account, str(video), f"caption {n}, with a comma"))
        self.store().seed(new)
        self.job_ids = tuple(j.job_id for j in new)

    def write_accounts(
        self, apps: dict[str, tuple[str, str]], rules: dict[str, tuple[str, str, str]] | None = None
    ) -> None:
        """`accounts.csv`: account -> (app, executor), and optionally account -> (timezone, window,
        min_spacing); an empty string leaves the cell to the defaults."""
        rules = rules or {}
        lines = ["account,app,executor,timezone,window,min_spacing"]
        for account, (app, executor) in apps.items():
            zone, window, spacing = rules.get(account, ("", "", ""))
            lines.append(f"{account},{app},{executor},{zone},{window},{spacing}")
        (self.path / "accounts.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    def mixed_accounts(self, every: int = 2) -> dict[str, tuple[str, str]]:
        """Every `every`-th account posts through GeeLark's tasks, the others through Appium; apps
        alternate TikTok / Instagram within each executor. Written to `accounts.csv`; returned."""
        apps = {}
        for n, account in enumerate(self.accounts):
            executor = "geelark_task" if n % every == 0 else "appium"
            apps[account] = ("tiktok" if (n // every) % 2 == 0 else "instagram", executor)
        self.write_accounts(apps)
        return apps

    def configure(self, config: FleetConfig) -> None:
        (self.path / "parallel-orchestrator.toml").write_text(config.toml(), encoding="utf-8")

    def start_run(self, *extra: str) -> subprocess.Popen[bytes]:
        """`--run` in its own process group, console to `run_<n>.console.txt`."""
        with open(self.path / f"run_{len(self.runs) + 1}.console.txt", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "orchestrator", "--run", *extra],
                cwd=self.path,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **new_group_popen_kwargs(),
            )
        self.runs.append(proc)
        return proc

    def console(self, run_number: int) -> str:
        return (self.path / f"run_{run_number}.console.txt").read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        return run_orchestrator(self.path, *args, timeout_s=timeout_s)

    def recorded_refs(self) -> set[ProcessRef]:
        """The run itself, its simulator, every worker and Appium/simdevice server it recorded."""
        refs: set[ProcessRef] = set()
        run = self.run_dir.read_run()
        if run is not None:
            refs |= {r for r in (run.process, run.simulator) if r is not None}
        for hb in self.run_dir.read_heartbeats().values():
            refs |= {r for r in (hb.process, hb.appium) if r is not None}
        return refs

    def close(self) -> None:
        """Kill whatever is still running (finalizer): runs, recorded processes, the simulator."""
        refs = self.recorded_refs()
        for proc in self.runs:
            ref = ProcessRef.of(proc.pid)
            if ref is not None:
                refs.add(ref)
        for ref in refs:
            kill_tree(ref, grace_s=1.0)
        for proc in self.runs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if self.simulator is not None:
            self.simulator.stop()


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl+C for a child in its own group: SIGINT (POSIX), CTRL_BREAK_EVENT (Windows)."""
    if sys.platform == "win32":
        os.kill(proc.pid, signal.CTRL_BREAK_EVENT)
    else:
        proc.send_signal(signal.SIGINT)


def sigkill(ref: ProcessRef) -> bool:
    """SIGKILL exactly this process (never a reused PID); True if it was alive."""
    process = ref.process()
    if process is None:
        return False
    try:
        process.kill()
    except psutil.NoSuchProcess:  # it ended on its own just now
        return False
    return True
