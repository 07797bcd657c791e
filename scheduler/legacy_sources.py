"""Finding and reading the original tool's files (seed-ancestor §1.1, §1.2, §1.5) into plain data.

Nothing here decides what to import; rows that cannot be understood come back as Quarantined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.errors import ImportSourceNotFound, NotALegacyFile
from scheduler.progress_rows import ProgressFile, Quarantined, read_progress_file
from scheduler.textfiles import normalise_newlines, read_operator_text


@dataclass(frozen=True)
class LegacyJob:
    """A job of the original scheduler_state.json (HEAD or the older parallel layout)."""

    job_id: str
    video_path: str
    caption: str
    status: str
    account: str
    completed_at: str
    source: str


@dataclass(frozen=True)
class LegacyState:
    path: Path
    jobs: tuple[LegacyJob, ...]
    accounts: tuple[str, ...]
    quarantined: tuple[Quarantined, ...]


@dataclass(frozen=True)
class LedgerLine:
    account: str
    video: str
    at: str
    source: str


@dataclass(frozen=True)
class LegacyBundle:
    progress: tuple[ProgressFile, ...] = ()
    states: tuple[LegacyState, ...] = ()
    accounts: tuple[tuple[str, str], ...] = ()  # (name, source)
    ledger: tuple[LedgerLine, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()


def kind_of(path: Path) -> str | None:
    """progress | state | accounts | ledger, from the file name (None: not one of the original's)."""
    name = path.name.casefold()
    if name.endswith(".csv") and (name.startswith("parallel_progress") or name.startswith("progress")):
        return "progress"
    if name.endswith(".json") and name.startswith("scheduler_state"):
        return "state"
    if name.endswith(".txt") and "posted" in name:
        return "ledger"
    if name.endswith(".txt") and name.startswith("accounts"):
        return "accounts"
    return None


def discover(sources: list[Path]) -> list[tuple[str, Path]]:
    """The files to import: named files, and the original's files at the top of named folders."""
    found: list[tuple[str, Path]] = []
    for source in sources:
        if source.is_dir():
            inside = [(kind_of(p), p) for p in sorted(source.iterdir(), key=lambda p: p.name.casefold())]
            hits = [(k, p) for k, p in inside if k is not None and p.is_file()]
            if not hits:
                raise ImportSourceNotFound(source, "no file of the original tool in this folder")
            found += hits
        elif source.is_file():
            kind = kind_of(source) or _kind_by_suffix(source)
            found.append((kind, source))
        else:
            raise ImportSourceNotFound(source, "no such file or folder")
    return found


def _kind_by_suffix(path: Path) -> str:
    suffix = path.suffix.casefold()
    if suffix in (".csv", ".json"):
        return "progress" if suffix == ".csv" else "state"
    if suffix == ".txt":
        return "accounts"
    raise NotALegacyFile(path, "expected a .csv progress file, a .json state or a .txt list")


def read_bundle(sources: list[Path]) -> LegacyBundle:
    """Read every source; raises ImportSourceNotFound / NotALegacyFile for a file it cannot use."""
    progress, states, accounts, ledger, quarantined = [], [], [], [], []
    for kind, path in discover(sources):
        try:
            if kind == "progress":
                progress.append(read_progress_file(path))
            elif kind == "state":
                states.append(read_legacy_state(path))
            elif kind == "accounts":
                accounts += _accounts(path)
            else:
                lines, bad = _ledger(path)
                ledger += lines
                quarantined += bad
        except OSError as exc:
            raise NotALegacyFile(path, f"cannot be read: {exc.strerror or exc}") from exc
    return LegacyBundle(tuple(progress), tuple(states), tuple(accounts), tuple(ledger), tuple(quarantined))


def _accounts(path: Path) -> list[tuple[str, str]]:
    text, _ = read_operator_text(path)
    return [
        (line.strip(), f"{path.name}:{n}")
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def _ledger(path: Path) -> tuple[list[LedgerLine], list[Quarantined]]:
    """``account|video_filename|timestamp`` lines; the timestamp may be ``rebuilt``."""
    text, _ = read_operator_text(path)
    good, bad = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [p.strip() for p in stripped.split("|")]
        if len(parts) in (2, 3) and parts[0] and parts[1]:
            good.append(
                LedgerLine(parts[0], parts[1], parts[2] if len(parts) == 3 else "", f"{path.name}:{n}")
            )
        else:
            bad.append(Quarantined(f"{path.name}:{n}", "expected account|video_filename|timestamp", stripped))
    return good, bad


def read_legacy_state(path: Path) -> LegacyState:
    """The original's scheduler_state.json / scheduler_state_parallel.json; unknown keys are ignored."""
    text, _ = read_operator_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotALegacyFile(
            path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("jobs", []), list):
        raise NotALegacyFile(path, "expected an object with a 'jobs' list (the original's layout)")
    if "format" in data and "jobs" not in data:
        raise NotALegacyFile(path, "this is already posting-scheduler's own state; nothing to import")
    jobs, bad = [], []
    for i, raw in enumerate(data.get("jobs", [])):
        job = _legacy_job(raw, f"{path.name}:jobs[{i}]")
        if isinstance(job, LegacyJob):
            jobs.append(job)
        else:
            bad.append(Quarantined(f"{path.name}:jobs[{i}]", job, json.dumps(raw, ensure_ascii=False)))
    accounts = data.get("accounts", [])
    names = [a.get("name", "") for a in accounts if isinstance(a, dict)] if isinstance(accounts, list) else []
    return LegacyState(
        path, tuple(jobs), tuple(n.strip() for n in names if isinstance(n, str) and n.strip()), tuple(bad)
    )


def _legacy_job(raw: Any, source: str) -> LegacyJob | str:
    if not isinstance(raw, dict):
        return "a job that is not an object"
    text = {
        k: raw.get(k) if isinstance(raw.get(k), str) else ""
        for k in ("id", "video_path", "caption", "status", "account", "completed_at")
    }
    if not text["id"] or not text["video_path"]:
        return "job without id or video_path"
    return LegacyJob(
        text["id"].strip(),
        text["video_path"].strip(),
        normalise_newlines(text["caption"] or "").strip(),
        (text["status"] or "").strip().casefold(),
        (text["account"] or "").strip(),
        text["completed_at"] or "",
        source,
    )
