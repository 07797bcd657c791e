"""Operator CLI: ``python -m geelark check`` and ``python -m geelark phones [--name X]``.

Talks to whatever ``GEELARK_BASE_URL`` names (the real service or the simulator), with the
credentials from ``GEELARK_TOKEN`` or ``GEELARK_APP_ID`` + ``GEELARK_API_KEY``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

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


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m geelark", description="GeeLark operator commands")
    parser.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check the credentials and show the balance")
    list_cmd = sub.add_parser("phones", help="list cloud phones")
    list_cmd.add_argument("--name", help="only phones whose serial name contains this")
    args = parser.parse_args(argv)
    try:
        with GeeLarkClient(GeeLarkSettings.from_env(max_attempts=2)) as client:
            data: Any = check(client) if args.command == "check" else phones(client, args.name)
    except GeeLarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    render(data, args.json, out)
    return 0
