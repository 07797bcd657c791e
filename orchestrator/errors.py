"""The orchestrator's exception tree; the CLI maps each to a message and an exit code.

OrchestratorError
├── AlreadyRunning     another orchestrator holds the run lock of this working folder
├── SimulatorFailed    the GeeLark simulator did not start (or said nothing in time)
├── SeedError          scheduler_state.json could not be turned into jobs
├── PreflightFailed    a check before anything is started failed (a port taken, ...); nothing was started
└── OperatorMistake    a command asked for something that cannot be done as asked; nothing was done
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


class OrchestratorError(Exception):
    """Root of the orchestrator's own errors."""


class AlreadyRunning(OrchestratorError):
    """The run lock is held; names the running orchestrator and how to stop it."""

    def __init__(self, lock_file: Path, pid: int | None, started_at: datetime | None) -> None:
        self.lock_file = lock_file
        self.pid = pid
        self.started_at = started_at
        who = f"PID {pid}" if pid is not None else "another process"
        since = f", started {started_at:%Y-%m-%d %H:%M:%S}" if started_at else ""
        super().__init__(
            f"An orchestrator is already running in this folder ({who}{since}; lock {lock_file}).\n"
            "Watch it with:  parallel-orchestrator --status\n"
            "Stop it with:   Ctrl+C in its console, or  parallel-orchestrator --stop-all"
        )


class SimulatorFailed(OrchestratorError):
    """The GeeLark simulator process did not come up."""


class SeedError(OrchestratorError):
    """Seeding the progress file from the scheduler state failed; nothing was added."""


class PreflightFailed(OrchestratorError):
    """A check before the run starts anything failed; the message says what and how to fix it."""


class OperatorMistake(OrchestratorError):
    """The command cannot do what was asked (a job that is not requeueable, ...); nothing was done."""
