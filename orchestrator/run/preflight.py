"""Checks of the machine a run depends on: free ports for every worker, and free disk space.

Run before anything is started (a failed check starts nothing and says how to fix it), and the
disk check again during the run: a full disk must stop the run cleanly, before workers crash on
`ENOSPC` in the middle of a job.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from orchestrator.config import port_table
from orchestrator.errors import PreflightFailed
from runtime.ports import PortInUse, ensure_port_free
from runtime.settings import Settings
from worker.contract import PortPlanError, WorkerPorts

PORT_SHIFT, PORT_SHIFT_TRIES = 1000, 40
MIN_FREE_DISK_BYTES = 100 * 1024 * 1024  # logs, evidence and a few copies of the progress file
DISK_CHECK_EVERY_S = 5.0

FreeBytes = Callable[[Path], int]


def free_bytes(path: Path) -> int:
    """Free bytes on the disk holding `path` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(Path.cwd()).free


def check_ports(plans: Iterable[WorkerPorts], probe: Callable[[int], None] = ensure_port_free) -> None:
    """Raise PreflightFailed naming every port of the plan that something listens on, and its holder."""
    taken: list[str] = []
    for plan in plans:
        for port in plan.all_ports():
            try:
                probe(port)
            except PortInUse as exc:
                holder = exc.holder or "a process we cannot see"
                taken.append(f"port {port} (worker {plan.worker_id}) is in use by {holder}")
    if taken:
        raise PreflightFailed(
            "; ".join(taken)
            + ". Stop that program, or move the workers' ports with [worker] appium_port_base /"
            " system_port_base in the config (see --show-config for the port table)."
        )


def shifted_to_free_ports(settings: Settings, probe: Callable[[int], None] = ensure_port_free) -> Settings:
    """The settings with every worker's ports moved (by whole steps) to a range nobody listens on;
    PreflightFailed when none is found."""
    worker = settings.worker
    for step in range(1, PORT_SHIFT_TRIES + 1):
        shift = step * PORT_SHIFT
        moved = replace(
            worker,
            appium_port_base=worker.appium_port_base + shift,
            system_port_base=worker.system_port_base + shift,
        )
        candidate = replace(settings, worker=moved)
        try:
            check_ports(port_table(candidate), probe)
        except (PreflightFailed, PortPlanError):
            continue
        return candidate
    raise PreflightFailed(
        "no free range of ports found for the workers; free some or set [worker] appium_port_base"
    )


def low_disk(
    paths: Iterable[Path], minimum: int = MIN_FREE_DISK_BYTES, free: FreeBytes = free_bytes
) -> str | None:
    """Why the run must not go on for lack of disk space (None: enough everywhere)."""
    for path in paths:
        left = free(path)
        if left < minimum:
            return (
                f"only {left / 1024 / 1024:.0f} MB free on the disk of {path}"
                f" (the run needs at least {minimum / 1024 / 1024:.0f} MB)"
            )
    return None


def is_disk_full(exc: BaseException) -> bool:
    """True for the errors a full disk (or a full quota) raises."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
