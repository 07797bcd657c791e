"""The root command's actions (`--run`, `--status`, `--stop-all`, `--seed-only`, `--show-config`).

Each one: settings -> one library call -> render (text or JSON) -> exit code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.adapters.queue_store import open_store, queue_label
from orchestrator.cli import console
from orchestrator.cli.options import CliState, errors_as_exit_codes, setup_logging
from orchestrator.cli.render import config_lines, status_lines
from orchestrator.config import config_view
from orchestrator.errors import OperatorMistake
from orchestrator.exit_codes import ExitCode
from orchestrator.views.status_probe import current_status
from runtime.platform import install_stop_handlers
from runtime.settings import Settings
from runtime.state import RunDir

if TYPE_CHECKING:
    from orchestrator.run.context import RunObserver, StopSignals
    from orchestrator.views.fleet_view import FleetView

# The run, seeding and stop-all machinery (GeeLark client, requests, scheduler) is imported inside
# the actions that use it: --status must start fast.


def now_local() -> datetime:
    return datetime.now().astimezone()


def do_show_config(state: CliState) -> ExitCode:
    view = config_view(state.loaded(), os.environ)
    if state.json:
        console.echo_json(view)
    else:
        console.echo_lines(config_lines(view))
    return ExitCode.OK


def do_status(state: CliState) -> ExitCode:
    from orchestrator.views.status_probe import probe_phones

    settings = state.settings()
    if state.watch:
        return watch_status(settings, plain=state.plain)
    run = RunDir(settings.paths.runtime_dir).live_run()
    report = current_status(settings, now_local(), lambda ours: probe_phones(settings, run, ours))
    if state.json:
        console.echo_json(report)
    else:
        console.echo_lines(status_lines(report))
    return ExitCode.OK


def watch_status(settings: Settings, *, plain: bool) -> ExitCode:
    """The fleet table of this folder's run, refreshed until Ctrl+C (GeeLark is not asked: a refresh
    every few seconds would eat the workers' request budget; a simulated run's meter is)."""
    from orchestrator.adapters.geelark_api import simulator_meter
    from orchestrator.cli.live import screen, watch
    from orchestrator.run.context import StopSignals

    stop = StopSignals()
    install_stop_handlers(stop.on_signal)
    store = open_store(settings)  # kept: each refresh re-reads only the rows that changed

    def fetch() -> FleetView:
        fleet = current_status(settings, now_local(), meter=simulator_meter, store=store).fleet
        assert fleet is not None  # build_status always makes one
        return fleet

    interval_s = max(1.0, settings.orchestrator.progress_interval_s)
    watch(fetch, screen(), keep_going=lambda: stop.count == 0, interval_s=interval_s, plain=plain)
    return ExitCode.OK


def do_seed_only(state: CliState) -> ExitCode:
    from orchestrator.run.seeding import run_limits, seed_from_state

    settings = state.settings()
    outcome = seed_from_state(settings.paths.state_file, open_store(settings), run_limits(settings))
    if state.json:
        console.echo_json(outcome)
    elif not outcome.state_file_found:
        console.echo(f"Nothing to seed: {outcome.state_file} does not exist.")
        console.echo(
            "Add videos and accounts first:  posting-scheduler --add-folder FOLDER --add-accounts NAME ..."
        )
    else:
        console.echo(
            f"Seeded {queue_label(settings)} from {outcome.state_file}: {outcome.added} new job(s), "
            f"{outcome.already_present} already queued, {outcome.unassigned} video(s) unassigned."
        )
    return ExitCode.OK


def do_stop_all(state: CliState) -> ExitCode:
    from orchestrator.run.stop_all import stop_all

    settings = state.settings()
    if state.fleet:
        if not settings.queue.url:
            raise OperatorMistake(
                "--fleet stops every PC on a shared PostgreSQL queue, and this folder's queue is its CSV"
                " file: set [queue] url, or leave out --fleet"
            )
        from orchestrator.run.stop_all import stop_fleet

        others = stop_fleet(settings)
        if not state.json:
            console.echo(f"Asked every host to stop ({', '.join(others) or 'no other host was working'});")
            console.echo("  each stops its workers and phones within its grace period")
    if not state.json:
        console.echo("Stopping: asking a running orchestrator first (it gets its grace period)...")
    result = stop_all(settings, os.environ, all_phones=state.all_phones, now=now_local)
    if state.json:
        console.echo_json(result)
    else:
        console.echo_lines(console.stop_all_lines(result))
    return ExitCode.OK if result.complete else ExitCode.STOP_INCOMPLETE


def run_header(settings: Settings) -> list[str]:
    o = settings.orchestrator
    mode = (
        "SIMULATED (GeeLark simulator, simulated phones)"
        if settings.simulate.enabled
        else "GeeLark cloud phones"
    )
    return [
        f"parallel-orchestrator: {o.workers} worker(s) on {mode}",
        f"  queue {queue_label(settings)}, logs {settings.paths.logs_dir}"
        f"  (follow them: parallel-orchestrator logs -f)",
        "  Ctrl+C: graceful stop; Ctrl+C twice: hard stop"
        + (" | --follow: waits for new work" if o.follow else ""),
    ]


def nothing_to_run(settings: Settings, cwd: Path) -> str | None:
    """Why `--run` here would be a mistake (an empty folder: no queue and nothing to seed it from)."""
    paths = settings.paths
    if settings.orchestrator.follow or paths.state_file.is_file():
        return None
    if (settings.queue.url or paths.progress_file.is_file()) and open_store(settings).snapshot().jobs:
        return None
    return (
        f"Nothing to run in {cwd.resolve()}: no jobs in {queue_label(settings)} and no {paths.state_file}"
        " to seed them from.\n  Add videos and accounts first:"
        "  posting-scheduler --add-folder FOLDER --add-accounts NAME ...\n"
        "  (or see it work on the simulator:  parallel-orchestrator demo)"
    )


def execute_run(settings: Settings, cwd: Path, as_json: bool, *, plain: bool = False) -> ExitCode:
    """Run with the console as observer (the live table in a terminal) and Ctrl+C wired to the
    two-stage stop. An empty folder is refused before anything is written."""
    from orchestrator.cli.dashboard import dashboard_during_run
    from orchestrator.run.batch import run_batch
    from orchestrator.run.context import StopSignals

    why_not = nothing_to_run(settings, cwd)
    if why_not is not None:
        console.echo(why_not, err=True)
        return ExitCode.USAGE
    setup_logging(settings)
    stop = StopSignals()
    install_stop_handlers(lambda n: on_stop_signal(stop, n))
    header = (lambda: None) if as_json else (lambda: console.echo_lines(run_header(settings)))
    with (
        dashboard_during_run(settings, quiet=as_json),
        run_observer(settings, as_json=as_json, plain=plain) as observer,
    ):
        result = run_batch(settings, cwd, env=os.environ, observer=observer, stop=stop, on_locked=header)
    if as_json:
        console.echo_json(
            {"report": result.report, "files": result.report_files, "exit_code": int(result.exit_code)}
        )
    else:
        console.echo_lines(console.run_result_lines(result))
    return result.exit_code


def on_stop_signal(stop: StopSignals, n: int) -> None:
    """Count a Ctrl+C and say what it does (also when it was taken as the same keypress)."""
    before = stop.count
    stop.on_signal(n)
    if stop.count == before:
        if before == 1:
            console.echo(
                f"\nCtrl+C within {stop.debounce_s:.0f}s of the first: taken as the same keypress."
                " Press Ctrl+C again to force a hard stop.",
                err=True,
            )
        return
    if stop.count == 1:
        console.echo("\nStop requested: stopping gracefully. Press Ctrl+C again to force.", err=True)
    elif stop.count == 2:
        console.echo("\nHard stop requested.", err=True)


@contextmanager
def run_observer(settings: Settings, *, as_json: bool, plain: bool) -> Iterator[RunObserver]:
    """The live table when the console can redraw, else the plain progress lines (`--plain`, a pipe,
    a dumb terminal; with `--json` on stderr)."""
    from orchestrator.adapters.geelark_api import billed_minutes
    from orchestrator.cli.live import LiveObserver, screen

    terminal = screen()
    if as_json or plain or not terminal.is_terminal:
        yield console.ConsoleObserver(to_stderr=as_json)
        return
    with LiveObserver(settings, terminal, meter=billed_minutes) as live:
        yield live


def do_run(state: CliState) -> ExitCode:
    from orchestrator.run.dryrun import is_dry_run, prepare_dry_run

    loaded = state.loaded()
    settings = loaded.settings
    if not is_dry_run(settings, loaded.sources.get("simulate.enabled")):
        return execute_run(settings, Path.cwd(), state.json, plain=state.plain)
    with errors_as_exit_codes():
        dry = prepare_dry_run(settings, Path.cwd())
    if not state.json:
        copied = ", ".join(dry.copied) or "nothing yet (no progress file)"
        console.echo_lines(
            [
                f"DRY RUN in {dry.folder}: a copy of the queue ({copied}) on a simulated clock;",
                "  your progress file, scheduler state and posted videos are not touched.",
            ]
        )
    code = execute_run(dry.settings, Path.cwd(), state.json, plain=state.plain)
    if not state.json:
        console.echo(f"DRY RUN: results in {dry.folder} (simulated: nothing there was really posted)")
    return code
