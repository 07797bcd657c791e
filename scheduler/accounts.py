"""Account names from the command line and from accounts.txt, checked before anything is written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scheduler.errors import AccountNameError, InputError
from scheduler.textfiles import read_operator_text

_BAD_CHARS = re.compile(r"[\s,|\"#]")


@dataclass(frozen=True)
class AccountInput:
    name: str
    where: str  # "command line" or "accounts.txt line 4"


@dataclass(frozen=True)
class AccountPlan:
    to_add: tuple[str, ...]
    already_present: tuple[str, ...]


def accounts_from_file(path: Path) -> list[AccountInput]:
    """One phone name per line; blank lines and ``#`` comments are ignored. Raises InputError."""
    try:
        text, _ = read_operator_text(path)
    except FileNotFoundError as exc:
        raise InputError(f"accounts file not found: {path} (working folder {Path.cwd()})") from exc
    except OSError as exc:
        raise InputError(f"cannot read accounts file {path}: {exc.strerror or exc}") from exc
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if name and not name.startswith("#"):
            found.append(AccountInput(name, f"{path.name} line {number}"))
    return found


def plan_accounts(existing: Sequence[str], incoming: Iterable[AccountInput]) -> AccountPlan:
    """Which of ``incoming`` to add; raises AccountNameError on a malformed name, a name given twice,
    or a name that differs from another only by letter case (a typo that would make a second account).
    """
    known = {name.casefold(): name for name in existing}
    given: dict[str, AccountInput] = {}
    to_add: list[str] = []
    present: list[str] = []
    for item in incoming:
        if _BAD_CHARS.search(item.name):
            raise AccountNameError(item.name, item.where, "contains a space, comma, '|', '\"' or '#'")
        folded = item.name.casefold()
        if folded in given:
            first = given[folded]
            raise AccountNameError(
                item.name, item.where, f"given twice (first as {first.name!r}, {first.where}); remove one"
            )
        given[folded] = item
        if folded in known and known[folded] != item.name:
            raise AccountNameError(
                item.name, item.where, f"the state already has {known[folded]!r}; names differ only by case"
            )
        (present if folded in known else to_add).append(item.name)
    return AccountPlan(tuple(to_add), tuple(present))
