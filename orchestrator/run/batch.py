"""`--run` end to end: one function the CLI (and the demo) call, returning the run's result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator.errors import PreflightFailed
from orchestrator.run.context import RunObserver, StopSignals
from orchestrator.run.fleet import Fleet, Spawner
from orchestrator.run.hosts import join_fleet, leave_fleet
from orchestrator.run.runner import make_fleet, supervise
from orchestrator.run.shutdown import RunResult, finish
from orchestrator.run.startup import open_run, prepare, run_lock
from orchestrator.views.report import RunEnd
from runtime.settings import Settings

log = logging.getLogger(__name__)


def run_batch(
    settings: Settings,
    cwd: Path,
    *,
    env: Mapping[str, str],
    observer: RunObserver,
    stop: StopSignals,
    spawner: Spawner | None = None,
    on_locked: Callable[[], None] | None = None,
) -> RunResult:
    """Hold the run lock, recover, seed, supervise the workers until done or stopped, shut down,
    report. Raises AlreadyRunning before anything is touched when another run holds the lock."""
    run = open_run(settings, cwd, env=env, observer=observer, stop=stop)
    with run_lock(run):
        if on_locked is not None:
            on_locked()
        fleet: Fleet | None = None
        ended_by = RunEnd.ERROR
        refused = False
        try:
            join_fleet(run)
            prepare(run)
            fleet = make_fleet(run, spawner)
            ended_by = supervise(run, fleet)
        except PreflightFailed:
            refused = True  # nothing was started: nothing to stop, nothing to report
            raise
        finally:
            if ended_by is RunEnd.ERROR and not refused:
                log.error("the run failed; shutting everything down")
            if not refused:
                result = finish(run, fleet, ended_by)
            leave_fleet(run)
    return result
