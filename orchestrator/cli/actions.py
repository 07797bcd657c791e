"""The root command's actions (`--run`, `--status`, `--stop-all`, `--seed-only`, `--show-config`).

Each one: settings -> one library call -> render (text or JSON) -> exit code.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from orchestrator.adapters.queue_store import open_store
from orchestrator.cli import console
from orchestrator.cli.options import CliState, errors_as_exit_codes, setup_logging
from orchestrator.cli.render import config_lines, status_lines
from orchestrator.config import config_view
from orchestrator.exit_codes import ExitCode
from orchestrator.views.status_probe import current_status
from runtime.platform import install_stop_handlers
from runtime.settings import Settings
from runtime.state import RunDir

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
    run = RunDir(settings.paths.runtime_dir).live_run()
    report = current_status(settings, now_local(), lambda ours: probe_phones(settings, run, ours))
    if state.json:
        console.echo_json(report)
    else:
        console.echo_lines(status_lines(report))
    return ExitCode.OK


def do_seed_only(state: CliState) -> ExitCode:
    from orchestrator.run.seeding import seed_from_state

    settings = state.settings()
    outcome = seed_from_state(settings.paths.state_file, open_store(settings))
    if state.json:
        console.echo_json(outcome)
    elif not outcome.state_file_found:
        console.echo(f"Nothing to seed: {outcome.state_file} does not exist.")
        console.echo(
            "Add videos and accounts first:  posting-scheduler --add-folder FOLDER --add-accounts NAME ..."
        )
    else:
        console.echo(
            f"Seeded {settings.paths.progress_file} from {outcome.state_file}: {outcome.added} new job(s), "
            f"{outcome.already_present} already queued, {outcome.unassigned} video(s) unassigned."
        )
    return ExitCode.OK


def do_stop_all(state: CliState) -> ExitCode:
    from orchestrator.run.stop_all import stop_all

    settings = state.settings()
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
        f"  queue {settings.paths.progress_file}, logs {settings.paths.logs_dir}"
        f"  (follow them: parallel-orchestrator logs -f)",
        "  Ctrl+C: graceful stop; Ctrl+C twice: hard stop"
        + (" | --follow: waits for new work" if o.follow else ""),
    ]


def execute_run(settings: Settings, cwd: Path, as_json: bool) -> ExitCode:
    """Run with the console as observer and Ctrl+C wired to the two-stage stop."""
    from orchestrator.run.batch import run_batch
    from orchestrator.run.context import StopSignals

    setup_logging(settings)
    stop = StopSignals()

    def on_signal(n: int) -> None:
        before = stop.count
        stop.on_signal(n)
        count = stop.count
        if count == before:
            return
        if count == 1:
            console.echo("\nStop requested: stopping gracefully. Press Ctrl+C again to force.", err=True)
        elif count == 2:
            console.echo("\nHard stop requested.", err=True)

    install_stop_handlers(on_signal)
    header = (lambda: None) if as_json else (lambda: console.echo_lines(run_header(settings)))
    result = run_batch(
        settings,
        cwd,
        env=os.environ,
        observer=console.ConsoleObserver(to_stderr=as_json),
        stop=stop,
        on_locked=header,
    )
    if as_json:
        console.echo_json(
            {"report": result.report, "files": result.report_files, "exit_code": int(result.exit_code)}
        )
    else:
        console.echo_lines(console.run_result_lines(result))
    return result.exit_code


def do_run(state: CliState) -> ExitCode:
    from orchestrator.run.dryrun import is_dry_run, prepare_dry_run

    loaded = state.loaded()
    settings = loaded.settings
    if not is_dry_run(settings, loaded.sources.get("simulate.enabled")):
        return execute_run(settings, Path.cwd(), state.json)
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
    code = execute_run(dry.settings, Path.cwd(), state.json)
    if not state.json:
        console.echo(f"DRY RUN: results in {dry.folder} (simulated: nothing there was really posted)")
    return code
