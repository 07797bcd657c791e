"""The accounts sidecar ``<csv stem>.accounts.json``: blocks, cooldowns, infra streaks as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jobqueue.errors import CorruptProgressFile
from jobqueue.model import AccountBlock, AccountCooldown, AccountsState

FORMAT_VERSION = 1


def sidecar_path(csv_path: Path) -> Path:
    """``parallel_progress.csv`` -> ``parallel_progress.accounts.json`` in the same folder."""
    return csv_path.with_name(f"{csv_path.stem}.accounts.json")


def encode_accounts(state: AccountsState) -> bytes:
    """The sidecar's bytes for ``state`` (sorted, indented, UTF-8)."""
    document = {
        "version": FORMAT_VERSION,
        "blocked": {
            name: {"reason": b.reason, "job_id": b.job_id, "blocked_at": b.blocked_at.isoformat()}
            for name, b in sorted(state.blocked.items())
        },
        "cooldowns": {
            name: {"reason": c.reason, "until": c.until.isoformat()}
            for name, c in sorted(state.cooldowns.items())
        },
        "infra_streaks": dict(sorted(state.infra_streaks.items())),
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.astimezone()


def _decode(document: Any) -> AccountsState:
    blocked = {
        name: AccountBlock(name, entry["reason"], entry["job_id"], _aware(entry["blocked_at"]))
        for name, entry in document.get("blocked", {}).items()
    }
    cooldowns = {
        name: AccountCooldown(name, entry["reason"], _aware(entry["until"]))
        for name, entry in document.get("cooldowns", {}).items()
    }
    streaks = {name: int(count) for name, count in document.get("infra_streaks", {}).items()}
    return AccountsState(blocked, cooldowns, streaks)


def decode_accounts(data: bytes | None, path: Path) -> AccountsState:
    """The state held in the sidecar's bytes (empty if missing); CorruptProgressFile if unreadable."""
    if not data or not data.strip():
        return AccountsState()
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except json.JSONDecodeError as error:
        raise CorruptProgressFile(path, error.lineno, "", f"invalid JSON: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise CorruptProgressFile(path, 1, "", f"not UTF-8 text ({error.reason})") from None
    try:
        return _decode(document)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CorruptProgressFile(path, 1, "", f"unexpected content: {error!r}") from None
