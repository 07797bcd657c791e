"""The subcommands: `logs`, `requeue`, `unblock`, `demo` (registered on the app in cli.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.adapters.queue_commands import known_accounts
from orchestrator.adapters.queue_commands import requeue as requeue_jobs
from orchestrator.adapters.queue_commands import unblock as unblock_account
from orchestrator.cli import console
from orchestrator.cli.options import CliState, errors_as_exit_codes, fail, state_of
from orchestrator.config import load_config
from orchestrator.exit_codes import ExitCode
from orchestrator.views.logs import follow as follow_files
from orchestrator.views.logs import last_lines, log_files, merged_by_time
from runtime.platform import install_stop_handlers, python_launch


def logs(
    ctx: typer.Context,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines (Ctrl+C to quit).")
    ] = False,
    worker: Annotated[int | None, typer.Option("--worker", "-w", help="Only this worker's log.")] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines of history per file first.")] = 10,
    no_orchestrator: Annotated[
        bool, typer.Option("--no-orchestrator", help="Leave out orchestrator.log.")
    ] = False,
) -> None:
    """Show the workers' logs, multiplexed with a `W0 | ` prefix per worker (or one worker's log).

    Works the same on Windows (no tail -f needed): files are polled, rotation and truncation handled.
    """
    state: CliState = state_of(ctx)
    with errors_as_exit_codes():
        logs_dir = state.settings().paths.logs_dir

    def discover() -> dict[str, Path]:
        found = log_files(logs_dir, worker, include_orchestrator=not no_orchestrator)
        return {prefix: path for prefix, path in found.items() if path.is_file()}

    missing = no_logs_reason(logs_dir, worker, discover())
    if missing is not None and not follow:
        raise fail(missing, ExitCode.USAGE)
    if missing is not None:
        console.echo(f"{missing}\nWaiting for logs to appear (Ctrl+C to quit)...", err=True)
    width = max([len(p) for p in discover()] + [3])
    if not follow:
        history = {prefix: last_lines(path, lines) for prefix, path in discover().items()}
        for prefix, line in merged_by_time(history):
            console.echo(f"{prefix.ljust(width)} | {line}")
        return
    from orchestrator.run.context import StopSignals  # imported here: --status must start fast

    stop = StopSignals()
    install_stop_handlers(stop.on_signal)
    for prefix, line in follow_files(discover, backlog=lines, keep_going=lambda: stop.count == 0):
        console.echo(f"{prefix.ljust(width)} | {line}")


def no_logs_reason(logs_dir: Path, worker: int | None, found: dict[str, Path]) -> str | None:
    """Why `logs` has nothing to show (None: it has)."""
    if found:
        return None
    if not logs_dir.is_dir():
        return (
            f"No logs: {logs_dir.resolve()} does not exist. No run has written logs here yet;"
            " run this in the working folder of a run (where parallel_progress.csv is)."
        )
    if worker is not None:
        others = ", ".join(log_files(logs_dir, None, include_orchestrator=False)) or "none"
        return f"No log of worker {worker} in {logs_dir.resolve()} (workers with logs: {others})."
    return f"No logs in {logs_dir.resolve()} yet: no run has written any."


def requeue(
    ctx: typer.Context,
    job_ids: Annotated[
        list[str] | None, typer.Argument(help="Jobs to requeue (default: all in the chosen states).")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Requeue failed jobs.")] = False,
    review: Annotated[
        bool, typer.Option("--review", help="Requeue review jobs (check they were NOT posted!).")
    ] = False,
) -> None:
    """Put failed (or review) jobs back to pending. Review jobs may already be posted: check first."""
    state = state_of(ctx)
    if not job_ids and not (failed or review):
        raise fail("say what to requeue: JOB_ID ..., --failed and/or --review", ExitCode.USAGE)
    with errors_as_exit_codes():
        result = requeue_jobs(state.settings(), job_ids or [], failed=failed, review=review)
    if state.json:
        console.echo_json(result)
        return
    if not result.requeued:
        console.echo(f"Nothing to requeue: no {' or '.join(result.statuses)} jobs in the queue.")
        return
    console.echo(f"Requeued {len(result.requeued)} job(s) ({' / '.join(result.statuses)} -> pending)")
    for job_id in result.requeued:
        console.echo(f"  {job_id}")


def unblock(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="The account (phone name) to unblock.")],
) -> None:
    """Lift an account's block (account problem) or infrastructure cooldown."""
    state = state_of(ctx)
    with errors_as_exit_codes():
        result = unblock_account(state.settings(), account)
        if not result.known:
            accounts = ", ".join(known_accounts(state.settings())) or "none"
            raise fail(
                f"Unknown account {account!r}: the queue has no job of it (accounts: {accounts})",
                ExitCode.USAGE,
            )
    if state.json:
        console.echo_json(result)
        return
    console.echo(
        f"{account}: unblocked"
        if result.unblocked
        else f"{account} was neither blocked nor cooling down: nothing to do"
    )


def own_command() -> str:
    """How to call parallel-orchestrator from the console the operator has: its bare name when that is
    this installation's script on PATH, else the script's full path (a venv not activated), else
    `python -m orchestrator` with this interpreter."""
    name = "parallel-orchestrator"
    here = Path(sys.executable).parent
    script = shutil.which(name, path=str(here))
    on_path = shutil.which(name)
    if script is not None and on_path is not None and Path(on_path).resolve() == Path(script).resolve():
        return name
    command = script or f"{sys.executable} -m orchestrator"
    return f'"{command}"' if " " in command and script else command


def demo(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Option("--dir", help="Where to create the sample working folder.")] = Path(
        "demo"
    ),
    workers: Annotated[int, typer.Option("--workers", "-w", help="Parallel workers.")] = 3,
    videos: Annotated[int, typer.Option("--videos", help="Sample videos (one job each).")] = 16,
    accounts: Annotated[
        int, typer.Option("--accounts", help="Sample accounts (one simulated phone each).")
    ] = 4,
    faults: Annotated[
        str, typer.Option("--faults", help="Simulated trouble: demo (a quick mix), realistic or none.")
    ] = "demo",
    port_base: Annotated[
        int | None, typer.Option("--port-base", help="First Appium port if 4723.. are taken.")
    ] = None,
) -> None:
    """Create a sample folder (videos, captions, accounts) and run it end to end on the simulator."""
    from orchestrator.cli.actions import execute_run
    from orchestrator.cli.demo import create_demo_folder

    state = state_of(ctx)
    with errors_as_exit_codes():
        made = create_demo_folder(
            folder.resolve(),
            videos=videos,
            accounts=accounts,
            workers=workers,
            faults=faults,
            port_base=port_base,
        )
        console.echo(f"Demo folder {made.folder}: {made.videos} videos, accounts {', '.join(made.accounts)}")
        os.chdir(made.folder)  # the demo behaves like an operator working in that folder
        settings = load_config(made.config_file, {}, env=os.environ, cwd=made.folder).settings
        code = execute_run(settings, made.folder, state.json)
    if not state.json:
        command = own_command()
        console.echo(f"Look around:  cd {made.folder}")
        console.echo(f"  then:  {command} --status    and:  {command} logs")
    # failed or review jobs are part of the simulation; the demo itself worked
    raise typer.Exit(int(ExitCode.OK if code is ExitCode.JOBS_FAILED else code))


def flow(ctx: typer.Context) -> None:
    """Check a flow against a screen, or replay recorded sessions through it.

    \b
    parallel-orchestrator flow check FLOW --page-source FILE.xml [--json]
    parallel-orchestrator flow replay FLOW RECORDING... [--json]

    FLOW is a flow file or an app name (instagram, tiktok). RECORDING: session files
    (logs/jobs/<job>/attempt_<n>.session.jsonl, the original tool's flow_analysis files, .gz too)
    or folders of them. See README "Real phones".
    """
    command = [python_launch().executable, "-m", "worker.flowtool", *ctx.args]
    env = {**os.environ, **python_launch().env}
    raise typer.Exit(subprocess.run(command, env=env, check=False).returncode)


def doctor(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option("--offline", help="Do not call GeeLark (/pay/wallet).")] = False,
) -> None:
    """Is this PC ready for real phones? One line per check; each problem with its fix."""
    from orchestrator.cli.doctor_view import run_doctor

    state = state_of(ctx)
    with errors_as_exit_codes():
        code = run_doctor(state, offline=offline)
    raise typer.Exit(int(code))


def dashboard(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default 8765; 0: any free port).")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default 127.0.0.1; others need a token)."),
    ] = None,
) -> None:
    """Serve the web dashboard of this folder until Ctrl+C: fleet, queue, accounts, failures, reports.

    Read-only unless [dashboard] token is set in the config; then the page can requeue, unblock and
    stop all, sending the token with each action.
    """
    from orchestrator.cli.dashboard import make_server
    from orchestrator.run.context import StopSignals  # imported here: --status must start fast

    state = state_of(ctx)
    with errors_as_exit_codes():
        settings = state.settings()
        d = settings.dashboard
        server = make_server(settings, host=host or d.host, port=d.port if port is None else port)
        stop = StopSignals()
        install_stop_handlers(stop.on_signal)
        with server:
            console.echo(f"Dashboard of {Path.cwd()}: {server.url}   (Ctrl+C to stop)")
            if not d.token:
                console.echo("  read-only: set [dashboard] token in the config to allow its actions")
            while stop.count == 0:
                time.sleep(0.2)


def export_csv(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="The file to write (default: parallel_progress.export.csv beside the queue)."),
    ] = None,
) -> None:
    """Write the queue's jobs as a progress file that Excel opens (from PostgreSQL, or a copy of the CSV).

    The file is a view: editing it changes nothing in a database queue.
    """
    from orchestrator.adapters.queue_transfer import export_csv as export_jobs

    state = state_of(ctx)
    with errors_as_exit_codes():
        result = export_jobs(state.settings(), file)
    if state.json:
        console.echo_json(result)
        return
    console.echo(f"Exported {result.jobs} job(s) from {result.queue} to {result.file}")


def import_csv(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The progress file (CSV queue) to move into PostgreSQL.")],
) -> None:
    """Move a CSV queue into the PostgreSQL queue of [queue] url, once: all its jobs or none.

    Refused if a job id is already in the database or a run still works the file. The file is then
    renamed (.imported-<time>.csv) so that no later run posts its jobs again.
    """
    from datetime import datetime

    from orchestrator.adapters.queue_transfer import import_csv as import_jobs

    state = state_of(ctx)
    with errors_as_exit_codes():
        result = import_jobs(state.settings(), file, datetime.now().astimezone())
    if state.json:
        console.echo_json(result)
        return
    console.echo(f"Imported {result.jobs} job(s) from {result.file} into {result.queue}")
    console.echo(f"  {result.file} is now {result.moved_to} (kept for your records; it is no longer a queue)")
