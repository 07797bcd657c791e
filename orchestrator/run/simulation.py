"""`--simulate`: the run starts the GeeLark simulator itself and stops it at the end.

The simulator is a child process in its own group (`python -m geelark.simulator --port 0
--ready-file F ...`); it writes `{"port", "pid"}` to F once it listens. Its credentials are fixed,
well-known test values (they protect nothing), so `--stop-all` can still reach it after a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.adapters.geelark_api import SIM_API_KEY, SIM_APP_ID, SIM_TOKEN
from orchestrator.errors import SimulatorFailed
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs, python_launch, request_stop
from runtime.settings import Settings

READY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RunningSimulator:
    ref: ProcessRef
    url: str


def simulator_env() -> dict[str, str]:
    """Environment variables that point GeeLark clients (workers, us) at the simulator's credentials."""
    return {"GEELARK_APP_ID": SIM_APP_ID, "GEELARK_API_KEY": SIM_API_KEY, "GEELARK_TOKEN": SIM_TOKEN}


def simulator_command(settings: Settings, phones: Sequence[str], ready_file: Path) -> list[str]:
    """The command line of the simulator for these phone names (serialName = account name)."""
    sim = settings.simulate
    names = sim.phones or ",".join(phones) or "phone1"
    return [
        python_launch().executable,
        "-m",
        "geelark.simulator",
        "--port",
        "0",
        "--ready-file",
        str(ready_file),
        "--phones",
        names,
        "--app-id",
        SIM_APP_ID,
        "--api-key",
        SIM_API_KEY,
        "--faults",
        sim.faults,
        "--time-scale",
        str(sim.time_scale),
        "--parent-pid",  # a SIGKILLed orchestrator must not leave the simulator running
        str(os.getpid()),
    ]


def start_simulator(
    settings: Settings,
    phones: Sequence[str],
    *,
    run_root: Path,
    log_file: Path,
    clock: Callable[[], float] = time.monotonic,
) -> RunningSimulator:
    """Start the simulator and wait (with a deadline) until it listens. Raises SimulatorFailed."""
    ready_file = run_root / "simulator.ready.json"
    ready_file.unlink(missing_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            simulator_command(settings, phones, ready_file),
            env={**os.environ, **python_launch().env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **new_group_popen_kwargs(),
        )
    ref = ProcessRef.of(proc.pid)
    deadline = clock() + READY_TIMEOUT_S
    while clock() < deadline:
        port = _ready_port(ready_file)
        if port is not None and ref is not None:
            return RunningSimulator(ref, f"http://127.0.0.1:{port}")
        if proc.poll() is not None:
            raise SimulatorFailed(f"the GeeLark simulator exited with code {proc.returncode}; see {log_file}")
        time.sleep(0.05)
    if ref is not None:
        kill_tree(ref, grace_s=2.0)
    raise SimulatorFailed(
        f"the GeeLark simulator did not start within {READY_TIMEOUT_S:.0f} s; see {log_file}"
    )


def _ready_port(ready_file: Path) -> int | None:
    try:
        data = json.loads(ready_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    port = data.get("port") if isinstance(data, dict) else None
    return int(port) if isinstance(port, int) and port > 0 else None


def stop_simulator(ref: ProcessRef, grace_s: float = 5.0) -> None:
    """Ask the simulator to stop, then make sure its tree is gone."""
    if request_stop(ref):
        deadline = time.monotonic() + grace_s
        while ref.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    kill_tree(ref, grace_s=2.0)
