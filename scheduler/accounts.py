"""Account names from the command line and from accounts.txt, checked before anything is written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobqueue.roster import COLUMNS
from scheduler.errors import AccountNameError, InputError
from scheduler.state_io import write_text_atomic
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


ACCOUNTS_CSV = "accounts.csv"
ACCOUNTS_TXT = "accounts.txt"


def accounts_list_path(folder: Path) -> Path:
    """The orchestrator's accounts list in ``folder``: accounts.csv, or an old accounts.txt when
    only that exists (the same rule as the orchestrator's)."""
    csv_path, txt_path = folder / ACCOUNTS_CSV, folder / ACCOUNTS_TXT
    return txt_path if txt_path.is_file() and not csv_path.is_file() else csv_path


def add_to_accounts_list(path: Path, names: Sequence[str]) -> tuple[str, ...]:
    """Add a row (only the name: empty cells take the config's `[accounts]` defaults) for each
    name the list lacks; create the list (Excel-safe CSV) if there is none. The operator's rows,
    columns, notes, delimiter and encoding are kept as they are. Returns the names added."""
    if not names:
        return ()
    if not path.is_file():
        rows = [",".join(COLUMNS)] + [name + "," * (len(COLUMNS) - 1) for name in names]
        write_text_atomic(path, "\ufeff" + "\r\n".join(rows) + "\r\n", newline="")
        return tuple(names)
    text, encoding = read_operator_text(path)
    lines = text.splitlines()
    is_csv = path.suffix.lower() == ".csv"
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    present = {_first_cell(line, delimiter if is_csv else "\n").casefold() for line in lines}
    new = [n for n in names if n.casefold() not in present]
    if not new:
        return ()
    width = max(1, first.count(delimiter) + 1) if is_csv else 1
    added = [n + delimiter * (width - 1) for n in new] if is_csv else list(new)
    ending = "\r\n" if "\r\n" in text or not text else "\n"
    body = text if text.endswith(("\n", "\r")) or not text else text + ending
    data = body + ending.join(added) + ending
    bom = "\ufeff" if encoding == "utf-8" and path.read_bytes().startswith(b"\xef\xbb\xbf") else ""
    write_text_atomic(path, bom + data, newline="", encoding=encoding)
    return tuple(new)


def _first_cell(line: str, delimiter: str) -> str:
    return line.split(delimiter, 1)[0].strip().strip('"').lstrip("\ufeff")
