"""Operator CLI: ``python -m geelark check`` and ``python -m geelark phones [--name X]``.

Talks to whatever ``GEELARK_BASE_URL`` names (the real service or the simulator), with the
credentials from ``GEELARK_TOKEN`` or ``GEELARK_APP_ID`` + ``GEELARK_API_KEY``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TextIO

import typer

from geelark.client import GeeLarkClient
from geelark.errors import GeeLarkError
from geelark.settings import GeeLarkSettings


def check(client: GeeLarkClient) -> dict[str, Any]:
    """Credentials and balance."""
    client.check_auth()
    wallet = client.wallet()
    return {
        "auth": "ok",
        "mode": client.settings.auth_mode,
        "balance": wallet.balance,
        "giftMoney": wallet.gift_money,
    }


def phones(client: GeeLarkClient, name: str | None) -> list[dict[str, Any]]:
    """Every phone (or those whose name contains ``name``), with its status name."""
    return [
        {"id": p.id, "serialName": p.serial_name, "status": p.status.name.lower(), "group": p.group_name}
        for p in client.iter_phones(serial_name=name)
    ]


def render(data: Any, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(data, indent=2) + "\n")
    elif isinstance(data, list):
        for row in data:
            out.write(f"{row['id']:>20}  {row['status']:<9} {row['serialName']}  {row['group']}\n")
        out.write(f"{len(data)} phone(s)\n")
    else:
        out.write("  ".join(f"{k}={v}" for k, v in data.items()) + "\n")


HELP = """Ask GeeLark directly: check the credentials, list the cloud phones.

It talks to whatever GEELARK_BASE_URL names (the real service or the simulator), with GEELARK_TOKEN
or GEELARK_APP_ID + GEELARK_API_KEY from the environment (never from a file or a flag).

\b
Examples:
  python -m geelark check
  python -m geelark --json phones

\b
Exit codes:
  0   ok
  1   GeeLark refused the request or could not be reached (the message says which)
  2   usage error
"""

app = typer.Typer(
    help=HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # the same plain help as parallel-orchestrator and posting-scheduler
    no_args_is_help=True,
)


@dataclass(frozen=True)
class _Options:
    json: bool
    out: TextIO


@app.callback()
def _root(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", help="JSON output (the same data as the text).")
    ] = False,
) -> None:
    ctx.obj = _Options(json_out, ctx.obj.out if isinstance(ctx.obj, _Options) else sys.stdout)


@app.command("check", help="Check the credentials and show the balance.")
def _check(ctx: typer.Context) -> None:
    _answer(ctx, check)


@app.command("phones", help="List the cloud phones with their status.")
def _phones(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", help="Only phones whose serial name contains this.")
    ] = None,
) -> None:
    _answer(ctx, lambda client: phones(client, name))


def _answer(ctx: typer.Context, ask: Callable[[GeeLarkClient], Any]) -> None:
    options: _Options = ctx.obj
    try:
        with GeeLarkClient(GeeLarkSettings.from_env(max_attempts=2)) as client:
            data = ask(client)
    except GeeLarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    render(data, options.json, options.out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 GeeLark refused or unreachable, 2 usage)."""
    try:
        app(
            args=list(argv) if argv is not None else None,
            prog_name="python -m geelark",
            obj=_Options(False, out),
        )
    except SystemExit as done:  # the command line's own end (typer's standalone mode)
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0
