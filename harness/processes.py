"""Helpers shared by the test suites that run real processes (orchestrator, chaos, fleet bench)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T | None], timeout_s: float, what: str, *, interval_s: float = 0.05
) -> T:
    """Poll until `predicate()` is truthy; raise AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def subprocess_env() -> dict[str, str]:
    """The environment for children: our packages importable from any folder, no real GeeLark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEELARK_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(workers: int) -> int:
    """An Appium port base whose worker ports (base+2N, systemPorts base+200+10N..) are all free."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 45000, 2)
        ports = [base + 2 * n for n in range(workers)] + [base + 200 + p for p in range(10 * workers)]
        if all(_bindable(p) for p in ports):
            return base
    raise RuntimeError("no free port range found")


def run_orchestrator(cwd: Path, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """`python -m orchestrator ARGS` in `cwd` as an operator would run it; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout_s,
    )
