"""The accounts list the operator edits in Excel (``accounts.csv``): each account's app, executor and
posting rules, read and written here for every process (scheduler, workers, orchestrator).

Columns (any order; names are case-insensitive; unknown columns are kept on rewrite)::

    account, app, executor, timezone, window, daily_limit, min_spacing, note

An empty cell takes the default from the config's ``[accounts]`` section. The old one-name-a-line
``accounts.txt`` is read too (every account takes the defaults). Excel's ways of saving are
accepted: UTF-8 with or without BOM, Windows-1252 (said in ``warnings``), commas or semicolons
(European Excel; said too). A bad cell is a ``RosterError`` naming the file, line and column and
how to fix it; nothing is written when reading fails.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobqueue.csvrow import encode_cells, escape_text, unescape_text
from jobqueue.errors import QueueError
from jobqueue.posting import AccountRules, PostingWindow, parse_spacing

APPS = ("instagram", "tiktok")
CAPTION_LIMITS = {"instagram": 2_200, "tiktok": 4_000}  # characters each app accepts in a caption
EXECUTORS = ("appium", "geelark_task")
T = TypeVar("T")
COLUMNS = ("account", "app", "executor", "timezone", "window", "daily_limit", "min_spacing", "note")


class RosterError(QueueError):
    """The accounts list cannot be used; says where and how to fix it."""

    def __init__(self, path: Path, line: int, column: str, reason: str) -> None:
        self.path, self.line, self.column, self.reason = path, line, column, reason
        where = f"{path} line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class AccountDefaults:
    """What an empty cell means (the config's ``[accounts]`` section)."""

    app: str = "instagram"
    executor: str = "appium"
    rules: AccountRules = field(default_factory=AccountRules)


@dataclass(frozen=True)
class AccountEntry:
    """One account of the list, its empty cells filled from the defaults."""

    name: str
    app: str
    executor: str
    rules: AccountRules
    note: str = ""
    extras: Mapping[str, str] = field(default_factory=dict)  # columns we do not know, kept as they are


@dataclass(frozen=True)
class Roster:
    """The accounts list as read; ``warnings`` say what was accepted but is worth knowing."""

    entries: tuple[AccountEntry, ...] = ()
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> AccountEntry | None:
        return next((e for e in self.entries if e.name == name), None)

    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)

    def app_of(self, name: str, default: str) -> str:
        """The account's app, or ``default`` (the `[accounts]` app) if it is not listed."""
        entry = self.get(name)
        return entry.app if entry is not None else default

    def rules(self) -> dict[str, AccountRules]:
        """Per-account posting rules, for ``QueuePolicy(accounts=...)``."""
        return {e.name: e.rules for e in self.entries}


def load_roster(path: Path, defaults: AccountDefaults) -> Roster:
    """The accounts list at ``path`` (``.csv`` with a header, or one name a line); an empty roster if
    there is no such file. Raises RosterError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Roster(source=path)
    except OSError as exc:
        raise RosterError(path, 0, "", f"cannot be read: {exc.strerror or exc}") from None
    return parse_roster(data, path, defaults)


def parse_roster(data: bytes, path: Path, defaults: AccountDefaults) -> Roster:
    """Parse the bytes of an accounts list (see the module docstring). Raises RosterError."""
    text, warnings = _decode(data, path)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if not _looks_like_header(first):
        return _name_per_line(lines, path, defaults, warnings)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    if delimiter == ";":
        warnings.append(f"{path.name} is semicolon-separated (European Excel): read as such")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return Roster(tuple(_entries(rows, path, defaults)), path, tuple(warnings))


def format_roster(roster: Roster) -> bytes:
    """The Excel-safe CSV of a roster (UTF-8 with BOM, CRLF, formula-looking cells escaped); empty
    cells for values equal to nothing the operator set are not invented: every value is written."""
    extra_columns = sorted({k for e in roster.entries for k in e.extras})
    out = [b"\xef\xbb\xbf" + encode_cells([*COLUMNS, *extra_columns])]
    for e in roster.entries:
        rules = e.rules
        cells = [
            e.name,
            e.app,
            e.executor,
            rules.timezone or "",
            str(rules.window) if rules.window else "",
            str(rules.daily_limit),
            _format_spacing(rules.min_spacing_s),
            e.note,
        ]
        cells += [e.extras.get(k, "") for k in extra_columns]
        out.append(encode_cells([escape_text(c) for c in cells]))
    return b"".join(out)


def _decode(data: bytes, path: Path) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), [
            f"{path.name} is not UTF-8: read as Windows-1252 (in Excel: Save As 'CSV UTF-8')"
        ]


def _looks_like_header(line: str) -> bool:
    cells = [c.strip().strip('"').casefold() for c in line.replace(";", ",").split(",")]
    return "account" in cells


def _name_per_line(
    lines: Sequence[str], path: Path, defaults: AccountDefaults, warnings: list[str]
) -> Roster:
    entries = []
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        entries.append(
            AccountEntry(_name(name, path, number), defaults.app, defaults.executor, defaults.rules)
        )
    return Roster(tuple(_unique(entries, path)), path, tuple(warnings))


def _entries(rows: list[list[str]], path: Path, defaults: AccountDefaults) -> Iterator[AccountEntry]:
    header = [c.strip().casefold() for c in rows[0]]
    known = {name: header.index(name) for name in COLUMNS if name in header}
    extras = {i: rows[0][i].strip() for i in range(len(header)) if header[i] not in COLUMNS and header[i]}
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue

        def cell(column: str, row: list[str] = row) -> str:
            at = known.get(column)
            return unescape_text(row[at].strip()) if at is not None and at < len(row) else ""

        entry = _entry(cell, path, number, defaults)
        entry = replace(entry, extras={name: row[i] for i, name in extras.items() if i < len(row)})
        folded = entry.name.casefold()
        if folded in seen:
            raise RosterError(
                path, number, "account", f"{entry.name!r} is listed twice (also line {seen[folded]})"
            )
        seen[folded] = number
        yield entry


def _entry(cell: Callable[[str], str], path: Path, line: int, defaults: AccountDefaults) -> AccountEntry:
    """One row, ``cell(column)`` giving its stripped text."""
    base = defaults.rules

    def value(column: str, parse: Callable[[str], T], default: T) -> T:
        text = cell(column)
        if not text:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            raise RosterError(path, line, column, str(exc)) from None

    rules = AccountRules(
        daily_limit=value("daily_limit", _count, base.daily_limit),
        timezone=value("timezone", _zone, base.timezone),
        window=value("window", PostingWindow.parse, base.window),
        min_spacing_s=value("min_spacing", parse_spacing, base.min_spacing_s),
    )
    return AccountEntry(
        name=_name(cell("account"), path, line),
        app=_choice(cell("app") or defaults.app, APPS, path, line, "app"),
        executor=_choice(cell("executor") or defaults.executor, EXECUTORS, path, line, "executor"),
        rules=rules,
        note=cell("note"),
    )


def _name(text: str, path: Path, line: int) -> str:
    name = text.strip()
    if not name:
        raise RosterError(path, line, "account", "the account name is empty")
    if any(ch in name for ch in ' ,;|"#\t'):
        raise RosterError(
            path, line, "account", f"{name!r}: an account name has no spaces, commas, ';', '|', '\"' or '#'"
        )
    return name


def _choice(value: str, allowed: Sequence[str], path: Path, line: int, column: str) -> str:
    if value.casefold() not in allowed:
        raise RosterError(path, line, column, f"{value!r} is not one of {', '.join(allowed)}")
    return value.casefold()


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not a time zone name (e.g. Europe/Berlin, America/New_York)") from None
    return text


def _unique(entries: list[AccountEntry], path: Path) -> list[AccountEntry]:
    seen: set[str] = set()
    for e in entries:
        if e.name.casefold() in seen:
            raise RosterError(path, 0, "account", f"{e.name!r} is listed twice")
        seen.add(e.name.casefold())
    return entries


def _format_spacing(seconds: float) -> str:
    if seconds <= 0:
        return "0"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"
