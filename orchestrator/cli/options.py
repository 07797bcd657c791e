"""What every CLI command shares: the global options and the mapping of errors to exit codes."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer

from jobqueue.errors import QueueError, UnknownJob
from jobqueue.roster import RosterError
from orchestrator.cli import console
from orchestrator.config import load_config
from orchestrator.errors import (
    AlreadyRunning,
    OperatorMistake,
    OrchestratorError,
    PreflightFailed,
    SeedError,
)
from orchestrator.exit_codes import ExitCode
from runtime.logs import register_secret, setup_process_logging
from runtime.queue_url import without_password
from runtime.settings import SECRET_ENV, ConfigError, LoadedSettings, Settings


@dataclass
class CliState:
    """The global options, given to every command through the typer context."""

    config: Path | None = None
    overrides: dict[str, object] = field(default_factory=dict)
    json: bool = False
    all_phones: bool = False
    fleet: bool = False  # --stop-all --fleet: every PC on the shared queue
    warned: bool = False  # deprecation warnings of the config are said once per command
    plain: bool = False  # plain progress lines, never the live table
    watch: bool = False  # --status --watch: the live table, refreshed

    def loaded(self) -> LoadedSettings:
        loaded = load_config(self.config, self.overrides, env=os.environ, cwd=Path.cwd())
        if not self.warned:
            self.warned = True
            for warning in loaded.warnings:
                console.echo(f"WARNING: {warning}", err=True)
        return loaded

    def settings(self) -> Settings:
        return self.loaded().settings


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print `message` on stderr; the caller raises the returned Exit."""
    console.echo(message, err=True)
    return typer.Exit(int(code))


@contextmanager
def errors_as_exit_codes() -> Iterator[None]:
    """The documented exit code and a clear message for every known failure."""
    try:
        yield
    except ConfigError as exc:
        raise fail(f"Configuration error: {exc}", ExitCode.USAGE) from None
    except AlreadyRunning as exc:
        raise fail(str(exc), ExitCode.ALREADY_RUNNING) from None
    except RosterError as exc:
        raise fail(f"Accounts list: {exc}", ExitCode.USAGE) from None
    except UnknownJob as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except QueueError as exc:
        raise fail(f"Queue error: {exc}", ExitCode.QUEUE_ERROR) from None
    except PreflightFailed as exc:
        raise fail(f"Not started: {exc}", ExitCode.USAGE) from None
    except OperatorMistake as exc:
        raise fail(f"Error: {exc}", ExitCode.USAGE) from None
    except SeedError as exc:
        raise fail(f"Error: {exc}", ExitCode.QUEUE_ERROR) from None
    except OrchestratorError as exc:
        raise fail(f"Error: {exc}", ExitCode.START_FAILED) from None


def setup_logging(settings: Settings, file_name: str = "orchestrator.log") -> None:
    """Log this process's events to `logs/<file_name>`, with the GeeLark secrets and the queue
    database's password masked."""
    setup_process_logging(settings.paths.logs_dir / file_name, "ORC", level=logging.INFO, console=False)
    for name in SECRET_ENV:
        register_secret(os.environ.get(name))
    register_secret(without_password(settings.queue.url)[1] or None)
