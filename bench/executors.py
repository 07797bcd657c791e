"""Part 5 of `bench/fleet.py`: the two executors side by side (not a test).

Per executor, one `--run` on an external simulator (faults none): the peak RSS (psutil) of every
worker process and, for Appium, of the server it started; the GeeLark API requests of the whole run
(the simulator's `/_sim/state` `calls`, `/open/v1` only) per successful post. In simulation an
Appium worker's server is the simulated phone (Python); the real one is Node: it is started once
from `tools/appium` (when installed), probed with a session request like a worker does, and its
RSS is what an Appium worker adds on a real PC. Workers per PC: (24 GiB - 4 GiB kept for Windows,
the orchestrator and other programs) / RSS per worker (the port plan caps a run at 64 workers).
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.fleet import Fleet
from harness.processes import free_port_base
from jobqueue import JobStatus
from runtime.platform import ProcessRef
from worker.appium_server import ServerProcess, appium_spec
from worker.contract import MAX_WORKERS
from worker.errors import AppiumServerError

MB = 1024 * 1024
PC_GIB = 24
KEPT_GIB = 4
ROOT = Path(__file__).resolve().parent.parent


class RssSampler(threading.Thread):
    """Peak RSS per recorded worker process and per recorded server process, sampled every 0.1 s."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__(daemon=True)
        self.fleet = fleet
        self.workers: dict[int, int] = {}  # pid -> peak bytes
        self.servers: dict[int, int] = {}
        self.halted = threading.Event()

    def run(self) -> None:
        while not self.halted.wait(0.1):
            for hb in self.fleet.run_dir.read_heartbeats().values():
                _peak(self.workers, hb.process)
                if hb.appium is not None:
                    _peak(self.servers, hb.appium)


def _peak(peaks: dict[int, int], ref: ProcessRef) -> None:
    process = ref.process()
    if process is None:
        return
    try:
        rss = process.memory_info().rss
    except psutil.Error:
        return
    peaks[ref.pid] = max(peaks.get(ref.pid, 0), rss)


@dataclass(frozen=True)
class ExecutorFigures:
    executor: str
    posts: int
    worker_mb: float  # median peak RSS of one worker process
    server_mb: float  # median peak RSS of one worker's server (0 for the task executor)
    requests_per_post: float
    top_paths: tuple[tuple[str, float], ...]


def measure(fleet: Fleet, run_to_end: Callable[[Fleet], float], executor: str) -> ExecutorFigures:
    """One run of `fleet` (configured for `executor`); `run_to_end(fleet)` runs it."""
    sampler = RssSampler(fleet)
    sampler.start()
    try:
        run_to_end(fleet)
    finally:
        sampler.halted.set()
        sampler.join(timeout=5)
    assert fleet.simulator is not None
    calls = Counter({p: int(n) for p, n in fleet.simulator.state()["calls"].items()})
    posts = sum(j.status is JobStatus.SUCCESS for j in fleet.snapshot().jobs)
    per_post = {p: n / max(1, posts) for p, n in calls.most_common(4)}
    return ExecutorFigures(
        executor,
        posts,
        statistics.median(sampler.workers.values()) / MB if sampler.workers else float("nan"),
        statistics.median(sampler.servers.values()) / MB if sampler.servers else 0.0,
        sum(calls.values()) / max(1, posts),
        tuple(per_post.items()),
    )


def real_appium_mb(folder: Path) -> float | None:
    """RSS of the project's pinned Appium server (Node, UiAutomator2 loaded by the probe session),
    its whole process tree; None when Node or `tools/appium` is not installed."""
    try:
        spec = appium_spec(ROOT / "tools" / "appium", free_port_base(1), log_path=folder / "appium_bench.log")
    except AppiumServerError:
        return None
    server = ServerProcess(spec, ready_timeout_s=120)
    try:
        server.launch()
        ref = server.ensure_running()
        process = ref.process()
        if process is None:
            return None
        tree = [process, *process.children(recursive=True)]
        return sum(p.memory_info().rss for p in tree if p.is_running()) / MB
    finally:
        server.stop()


def per_pc(mb: float) -> int:
    return int((PC_GIB - KEPT_GIB) * 1024 // mb) if mb > 0 else 0


def report(
    task: ExecutorFigures, appium: ExecutorFigures, node_mb: float | None
) -> tuple[float, float, float]:
    """Print part 5; returns (task worker MB, Appium worker MB, requests per post of the task executor)."""
    server_mb = node_mb if node_mb is not None else appium.server_mb
    server_what = (
        "real Appium server (Node)" if node_mb is not None else "simulated phone server (no Node here)"
    )
    appium_mb = appium.worker_mb + server_mb
    for f in (task, appium):
        paths = ", ".join(f"{p.rsplit('/', 1)[-1]} {n:.1f}" for p, n in f.top_paths)
        print(
            f"   {f.executor:<12} {f.posts} posts: {f.requests_per_post:.1f} GeeLark requests per post"
            f" ({paths})"
        )
    print(
        f"   memory per worker: task worker {task.worker_mb:.0f} MB alone;"
        f" Appium worker {appium.worker_mb:.0f} MB"
        f" + {server_mb:.0f} MB {server_what} = {appium_mb:.0f} MB"
        f" (its simulated phone server here: {appium.server_mb:.0f} MB)"
    )
    print(
        f"   one {PC_GIB} GiB PC ({KEPT_GIB} GiB kept for the system): {per_pc(task.worker_mb)} task workers"
        f" or {per_pc(appium_mb)} Appium workers by memory"
        f" ({appium_mb / task.worker_mb:.1f}x); the port plan caps a run at {MAX_WORKERS} workers"
    )
    return task.worker_mb, appium_mb, task.requests_per_post
