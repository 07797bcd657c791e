"""posting-scheduler: the operator's way in (thin: parse, call one library function, render).

The original tool's invocation works as written:
    posting-scheduler --add-folder chunk_01 --add-accounts phone1 phone2 phone3
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from typer.core import TyperGroup

from jobqueue import CsvJobStore, QueueError, QueuePolicy
from scheduler.errors import InputError, SchedulerError
from scheduler.importer import import_legacy
from scheduler.operations import ChangeRequest, apply_changes, folder_queue_url, refuse_dry_run
from scheduler.render import as_json, change_lines, import_lines, seed_lines, status_lines
from scheduler.seeding import SeedTarget, seed_progress
from scheduler.status import VideoLine, build_status, list_videos

EXIT_BAD_INPUT = 3
EXIT_BAD_STATE = 4
EXIT_QUEUE_ERROR = 5
HELP = f"""Plan which account posts which video: folders of videos, accounts and their assignments
in scheduler_state.json; `seed` adds the planned jobs to the progress file.

Flags take several values like the original tool (--add-accounts a b c); --state/--progress go
before a command (posting-scheduler --state s.json status). Daily limits, windows and spacing are
the accounts list's (accounts.csv, [accounts] defaults in parallel-orchestrator.toml).

\b
Examples:
  posting-scheduler --add-folder videos/chunk_01 --add-accounts phone1 phone2
  posting-scheduler status
  posting-scheduler list --waiting
  posting-scheduler seed
  posting-scheduler import --from C:\\old-tool

\b
Exit codes:
  0   ok
  2   usage error (an unknown flag or command)
  {EXIT_BAD_INPUT}   bad input (a folder, file or name that cannot be used); nothing was written
  {EXIT_BAD_STATE}   the scheduler state cannot be read or written; nothing was written
  {EXIT_QUEUE_ERROR}   the progress file cannot be read or written (corrupt, busy or locked)
"""
MULTI_VALUE_FLAGS = ("--add-folder", "--add-accounts", "--remove-account", "--from")
T = TypeVar("T")


def expand_multi_value_flags(args: Sequence[str]) -> list[str]:
    """``--add-accounts a b c`` -> ``--add-accounts a --add-accounts b --add-accounts c`` (argparse's
    nargs='+' style of the original tool, which click options cannot express)."""
    out: list[str] = []
    flag: str | None = None
    given = 0
    for token in args:
        if token.startswith("-"):
            name, has_value, _ = token.partition("=")
            flag, given = (name, int(bool(has_value))) if name in MULTI_VALUE_FLAGS else (None, 0)
        elif flag is not None:
            if given:
                out.append(flag)
            given += 1
        out.append(token)
    return out


class MultiValueFlagsGroup(TyperGroup):
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, expand_multi_value_flags(args))


app = typer.Typer(
    cls=MultiValueFlagsGroup,
    help=HELP,
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,  # plain help, the same style as parallel-orchestrator and python -m geelark
)

StateOpt = Annotated[Path, typer.Option("--state", help="scheduler state file")]
ProgressOpt = Annotated[
    Path, typer.Option("--progress", help="the queue's progress CSV (only `seed` writes to it)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the report as JSON")]


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except SchedulerError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo("nothing was written.", err=True)
        raise typer.Exit(EXIT_BAD_INPUT if isinstance(exc, InputError) else EXIT_BAD_STATE) from exc


def _echo(lines: list[str]) -> None:
    typer.echo("\n".join(lines))


DAILY_LIMIT_MOVED = (
    "warning: --daily-limit is deprecated and was not used: an account's daily limit is one setting,"
    " the one the queue enforces: [accounts] daily_limit = {n} in parallel-orchestrator.toml for every"
    " account, or the daily_limit column of accounts.csv for one"
)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    add_folder: Annotated[list[Path] | None, typer.Option("--add-folder", help="folder(s) of videos")] = None,
    add_accounts: Annotated[list[str] | None, typer.Option("--add-accounts", help="phone name(s)")] = None,
    accounts_file: Annotated[Path | None, typer.Option("--accounts-file", help="one name a line")] = None,
    remove_account: Annotated[list[str] | None, typer.Option("--remove-account", help="name(s)")] = None,
    daily_limit: Annotated[
        int | None,
        typer.Option("--daily-limit", min=1, help="deprecated: set [accounts] daily_limit (or accounts.csv)"),
    ] = None,
    days_ahead: Annotated[
        int | None, typer.Option("--days-ahead", min=1, help="open jobs per account = days x daily limit")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="seed of the account tie-break")] = None,
    state: StateOpt = Path("scheduler_state.json"),
    progress: ProgressOpt = Path("parallel_progress.csv"),
    json_out: JsonOpt = False,
) -> None:
    """Without a command: apply the flags given (then assign), or show the status."""
    ctx.obj = (state, progress)
    if daily_limit is not None:
        typer.echo(DAILY_LIMIT_MOVED.format(n=daily_limit), err=True)
    request = ChangeRequest(
        tuple(add_folder or ()),
        tuple(add_accounts or ()),
        accounts_file,
        tuple(remove_account or ()),
        daily_limit,
        days_ahead,
        seed,
    )
    if not request.is_empty:
        report = _run(lambda: apply_changes(state, progress, request))
        _echo([as_json(report)] if json_out else change_lines(report))
    elif ctx.invoked_subcommand is None:
        status_report = _run(lambda: build_status(state, progress))
        _echo([as_json(status_report)] if json_out else status_lines(status_report))


def _paths(ctx: typer.Context) -> tuple[Path, Path]:
    state, progress = ctx.obj
    return state, progress


@app.command("status")
def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Accounts, videos, assignments, the progress file's counts, and what waits and why."""
    state, progress = _paths(ctx)
    report = _run(lambda: build_status(state, progress))
    _echo([as_json(report)] if json_out else status_lines(report))


@app.command("list")
def list_command(
    ctx: typer.Context,
    waiting: Annotated[bool, typer.Option("--waiting", help="only videos without an account")] = False,
    json_out: JsonOpt = False,
) -> None:
    """One line per video: account, job status (or waiting) and the caption's first line."""
    state, progress = _paths(ctx)
    lines = [v for v in _run(lambda: list_videos(state, progress)) if not waiting or not v.account]
    if json_out:
        _echo([json.dumps([dataclasses.asdict(v) for v in lines], indent=2, ensure_ascii=False)])
    else:
        _echo([f"{v.video_id}\t{v.account or '-'}\t{_status_text(v)}\t{v.caption_start}" for v in lines])


def _status_text(line: VideoLine) -> str:
    """A job's status, with its planned time when it has one ("pending, not before 06 Dec 14:05")."""
    if not line.not_before:
        return line.status
    try:
        moment = datetime.fromisoformat(line.not_before)
    except ValueError:
        return line.status
    return f"{line.status}, not before {moment:%d %b %H:%M}"


@app.command("add-folder")
def add_folder_command(ctx: typer.Context, folders: list[Path], json_out: JsonOpt = False) -> None:
    """Add folders of videos (same as --add-folder)."""
    _change(ctx, ChangeRequest(folders=tuple(folders)), json_out)


@app.command("add-accounts")
def add_accounts_command(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument()] = None,
    accounts_file: Annotated[Path | None, typer.Option("--file", help="accounts.txt")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add accounts by name and/or from an accounts file."""
    _change(ctx, ChangeRequest(accounts=tuple(names or ()), accounts_file=accounts_file), json_out)


@app.command("remove-account")
def remove_account_command(ctx: typer.Context, names: list[str], json_out: JsonOpt = False) -> None:
    """Remove accounts; their unseeded assignments go back to the waiting list."""
    _change(ctx, ChangeRequest(remove_accounts=tuple(names)), json_out)


def _change(ctx: typer.Context, request: ChangeRequest, json_out: bool) -> None:
    state, progress = _paths(ctx)
    report = _run(lambda: apply_changes(state, progress, request))
    _echo([as_json(report)] if json_out else change_lines(report))


@app.command("import")
def import_command(
    ctx: typer.Context,
    sources: Annotated[list[Path], typer.Option("--from", help="the original tool's folder or files")],
    json_out: JsonOpt = False,
) -> None:
    """Import the original tool's progress CSVs, scheduler_state*.json, accounts.txt and
    all_posted_videos.txt; rows it cannot understand go to import_quarantine_<ts>.csv."""
    state, progress = _paths(ctx)
    report = _run(lambda: import_legacy(state, progress, list(sources)))
    _echo([as_json(report)] if json_out else import_lines(report))


def seed_target(state: Path, progress: Path) -> SeedTarget:
    """The queue seeding goes to: the orchestrator's PostgreSQL queue when its folder's config (or
    the environment) names one, else the progress CSV."""
    url = folder_queue_url(state)
    if not url:
        return CsvJobStore(progress)
    from jobqueue.stores import open_job_store

    return open_job_store(progress, url, QueuePolicy())


@app.command("seed")
def seed_command(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Assign waiting videos and add the new jobs to the progress file (a second seed adds nothing)."""
    state, progress = _paths(ctx)
    _run(lambda: refuse_dry_run(state, progress))
    try:
        report = _run(lambda: seed_progress(state, seed_target(state, progress)))
    except QueueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_QUEUE_ERROR) from exc
    _echo([as_json(report)] if json_out else seed_lines(report))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``posting-scheduler``)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # a redirected Windows console is cp1252: keep emoji
            stream.reconfigure(errors="backslashreplace")
    app(args=list(argv) if argv is not None else None, prog_name="posting-scheduler")
