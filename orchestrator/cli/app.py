"""`parallel-orchestrator` / `python -m orchestrator`: the operator's console.

The seed's flags (`--run`, `--status`, `--stop-all`, `--seed-only`, `--show-config`) are actions of
the root command; `logs`, `requeue`, `unblock`, `demo`, `doctor` and `flow` are subcommands (`flow` runs
`python -m worker.flowtool`). Commands are thin: parse,
call one library function that returns data, render it as text or (`--json`) the same data as JSON.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import typer

from orchestrator.cli import actions as cli_actions
from orchestrator.cli import commands as cli_commands
from orchestrator.cli import console
from orchestrator.cli.options import CliState, errors_as_exit_codes, fail
from orchestrator.exit_codes import EXIT_CODE_HELP, ExitCode

HELP = f"""Post videos from a fleet of GeeLark cloud phones, several at once, never twice.

Pick one action (--run, --status, --stop-all, --seed-only, --show-config) or a command.

\b
Examples:
  parallel-orchestrator --workers 3 --run
  parallel-orchestrator --status --json
  parallel-orchestrator --stop-all
  parallel-orchestrator --status --watch
  parallel-orchestrator logs -f --worker 1
  parallel-orchestrator dashboard --port 8765
  python -m orchestrator demo

Ctrl+C once: graceful stop (workers finish or abort at a safe point, claims are released, phones
stopped). Ctrl+C twice: hard stop, then phones are stopped.

\b
{EXIT_CODE_HELP}
"""

log = logging.getLogger(__name__)
app = typer.Typer(help=HELP, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

ACTIONS: Mapping[str, Callable[[CliState], ExitCode]] = MappingProxyType(
    {
        "--run": cli_actions.do_run,
        "--status": cli_actions.do_status,
        "--stop-all": cli_actions.do_stop_all,
        "--seed-only": cli_actions.do_seed_only,
        "--show-config": cli_actions.do_show_config,
    }
)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    run: Annotated[
        bool, typer.Option("--run", help="Seed, start the workers, supervise until done.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Queue, accounts, claims, workers, phones.")
    ] = False,
    stop_all: Annotated[
        bool, typer.Option("--stop-all", help="Stop the run, its workers and our phones.")
    ] = False,
    seed_only: Annotated[
        bool, typer.Option("--seed-only", help="Seed the queue from scheduler_state.json only.")
    ] = False,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="Port table and settings with sources.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Parallel workers (default 3).")
    ] = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Dry run on a copy: simulated cloud and clock.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="--run keeps waiting for retries and new seeds.")
    ] = False,
    all_phones: Annotated[
        bool, typer.Option("--all-phones", help="--stop-all stops EVERY phone of the account.")
    ] = False,
    fleet: Annotated[
        bool, typer.Option("--fleet", help="--stop-all stops every PC on the shared PostgreSQL queue.")
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file.")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="JSON output (the same data as the text).")
    ] = False,
    plain: Annotated[
        bool, typer.Option("--plain", help="--run prints plain progress lines, no live table.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="--status keeps the fleet table on screen, refreshed.")
    ] = False,
) -> None:
    overrides: dict[str, object] = {"orchestrator.workers": workers}
    if simulate:
        overrides["simulate.enabled"] = True
    if follow:
        overrides["orchestrator.follow"] = True
    ctx.obj = CliState(config, overrides, json_out, all_phones, fleet=fleet, plain=plain, watch=watch)
    flags = {"--run": run, "--status": status, "--stop-all": stop_all, "--seed-only": seed_only}
    flags["--show-config"] = show_config
    chosen = [name for name, on in flags.items() if on]
    if ctx.invoked_subcommand is not None:
        if chosen:
            raise fail(
                f"{chosen[0]} cannot be combined with the '{ctx.invoked_subcommand}' command", ExitCode.USAGE
            )
        return
    if len(chosen) != 1:
        if chosen:
            raise fail(f"choose one action, not {' and '.join(chosen)}", ExitCode.USAGE)
        console.echo(ctx.get_help())
        raise typer.Exit(int(ExitCode.OK))
    if watch and (chosen[0] != "--status" or json_out):
        raise fail("--watch goes with --status (and not with --json)", ExitCode.USAGE)
    if fleet and chosen[0] != "--stop-all":
        raise fail("--fleet goes with --stop-all", ExitCode.USAGE)
    with errors_as_exit_codes():
        code = ACTIONS[chosen[0]](ctx.obj)
    raise typer.Exit(int(code))


app.command("logs", help=cli_commands.logs.__doc__)(cli_commands.logs)
app.command("requeue", help=cli_commands.requeue.__doc__)(cli_commands.requeue)
app.command("unblock", help=cli_commands.unblock.__doc__)(cli_commands.unblock)
app.command("demo", help=cli_commands.demo.__doc__)(cli_commands.demo)
app.command("doctor", help=cli_commands.doctor.__doc__)(cli_commands.doctor)
app.command(
    "flow",
    help=cli_commands.flow.__doc__,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(cli_commands.flow)
app.command("dashboard", help=cli_commands.dashboard.__doc__)(cli_commands.dashboard)
app.command("export-csv", help=cli_commands.export_csv.__doc__)(cli_commands.export_csv)
app.command("import-csv", help=cli_commands.import_csv.__doc__)(cli_commands.import_csv)


def main() -> None:
    """Console-script entry point: every known failure has its exit code; a bug gets 70."""
    console.make_console_safe()
    try:
        app(prog_name="parallel-orchestrator")
    except Exception:
        log.exception("internal error")
        traceback.print_exc()
        console.echo("Internal error (a bug): the traceback is above and in logs/orchestrator.log.", err=True)
        sys.exit(int(ExitCode.INTERNAL_ERROR))


if __name__ == "__main__":
    main()
