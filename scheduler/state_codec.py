"""scheduler_state.json <-> SchedulerState: strict on the keys we know, faithful to the ones we don't.

``decode_state`` names the offending key (``videos[3].caption``) on any type error; unknown keys land
in ``extra`` and ``encode_state`` writes them back, so nothing a newer version wrote is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from scheduler.errors import LegacyStateFile, StateFileCorrupt
from scheduler.model import (
    STATE_FORMAT,
    Account,
    Assignment,
    Folder,
    PostedEntry,
    SchedulerState,
    Settings,
    Video,
)

T = TypeVar("T")
TOP_KEYS = ("format", "settings", "folders", "accounts", "videos", "assignments", "posted", "saved_at")


class _Fields:
    """Typed access to one JSON object; every complaint names ``where.key``."""

    def __init__(self, path: Path, where: str, obj: object, known: tuple[str, ...]) -> None:
        if not isinstance(obj, dict):
            raise StateFileCorrupt(path, where, f"expected an object, found {type(obj).__name__}")
        self.path, self.where, self.obj = path, where, obj
        self.extra = {k: v for k, v in obj.items() if k not in known}

    def _bad(self, key: str, reason: str) -> StateFileCorrupt:
        return StateFileCorrupt(self.path, f"{self.where}.{key}" if self.where else key, reason)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.obj.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "missing" if value is None else f"expected text, found {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, f"expected text or null, found {value!r}")
        return value

    def positive_int(self, key: str, default: int, minimum: int = 1) -> int:
        value = self.obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._bad(key, f"expected a whole number >= {minimum}, found {value!r}")
        return value

    def records(self, key: str, decode: Callable[[_Fields], T], known: tuple[str, ...]) -> tuple[T, ...]:
        value = self.obj.get(key, [])
        if not isinstance(value, list):
            raise self._bad(key, f"expected a list, found {type(value).__name__}")
        return tuple(decode(_Fields(self.path, f"{key}[{i}]", item, known)) for i, item in enumerate(value))


def decode_state(path: Path, data: object) -> SchedulerState:
    """Validate parsed JSON as our state; raise StateFileCorrupt / LegacyStateFile naming the key."""
    if isinstance(data, dict) and "format" not in data and "jobs" in data:
        raise LegacyStateFile(path)
    top = _Fields(path, "", data, TOP_KEYS)
    version = top.positive_int("format", STATE_FORMAT)
    if version > STATE_FORMAT:
        raise StateFileCorrupt(path, "format", f"written by a newer posting-scheduler (format {version})")
    state = SchedulerState(
        settings=_settings(_Fields(path, "settings", top.obj.get("settings", {}), SETTINGS_KEYS)),
        folders=top.records("folders", _folder, ("path", "added_at")),
        accounts=top.records("accounts", _account, ("name", "added_at")),
        videos=top.records("videos", _video, VIDEO_KEYS),
        assignments=top.records("assignments", _assignment, ASSIGNMENT_KEYS),
        posted=top.records("posted", _posted, ("account", "video", "at", "source")),
        extra=top.extra,
    )
    _check_references(path, state)
    return state


def _first_duplicate(keys: list[str]) -> tuple[int, int] | None:
    seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in seen:
            return seen[key], i
        seen[key] = i
    return None


def _check_references(path: Path, state: SchedulerState) -> None:
    """Ids are unique and every assignment names a video of the state."""
    for where, field_name, keys in (
        ("videos", "video_id", [v.video_id.casefold() for v in state.videos]),
        ("accounts", "name", [a.name for a in state.accounts]),
        ("assignments", "job_id", [a.job_id for a in state.assignments]),
    ):
        dup = _first_duplicate(keys)
        if dup:
            raise StateFileCorrupt(path, f"{where}[{dup[1]}].{field_name}", f"same as {where}[{dup[0]}]")
    videos = {v.video_id for v in state.videos}
    for i, a in enumerate(state.assignments):
        if a.video_id not in videos:
            raise StateFileCorrupt(path, f"assignments[{i}].video_id", f"no video {a.video_id!r} in 'videos'")


SETTINGS_KEYS = ("daily_limit", "days_ahead", "seed", "max_attempts")
VIDEO_KEYS = ("video_id", "path", "caption", "folder", "caption_source", "added_at")
ASSIGNMENT_KEYS = ("job_id", "video_id", "account", "assigned_at", "seeded_at")


def _settings(f: _Fields) -> Settings:
    return Settings(
        daily_limit=f.positive_int("daily_limit", 1),
        days_ahead=f.positive_int("days_ahead", 1),
        seed=f.positive_int("seed", 0, minimum=0),
        max_attempts=f.positive_int("max_attempts", 3),
        extra=f.extra,
    )


def _folder(f: _Fields) -> Folder:
    return Folder(path=f.text("path"), added_at=f.text("added_at", ""), extra=f.extra)


def _account(f: _Fields) -> Account:
    name = f.text("name")
    if not name.strip():
        raise f._bad("name", "empty account name")
    return Account(name=name, added_at=f.text("added_at", ""), extra=f.extra)


def _video(f: _Fields) -> Video:
    return Video(
        video_id=f.text("video_id"),
        path=f.text("path"),
        caption=f.text("caption"),
        folder=f.text("folder", ""),
        caption_source=f.text("caption_source", ""),
        added_at=f.text("added_at", ""),
        extra=f.extra,
    )


def _assignment(f: _Fields) -> Assignment:
    return Assignment(
        job_id=f.text("job_id"),
        video_id=f.text("video_id"),
        account=f.text("account"),
        assigned_at=f.text("assigned_at", ""),
        seeded_at=f.optional_text("seeded_at"),
        extra=f.extra,
    )


def _posted(f: _Fields) -> PostedEntry:
    return PostedEntry(
        account=f.text("account"),
        video=f.text("video"),
        at=f.text("at", ""),
        source=f.text("source", ""),
        extra=f.extra,
    )


def _with_extra(known: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {**known, **{k: v for k, v in extra.items() if k not in known}}


def encode_state(state: SchedulerState, saved_at: str) -> dict[str, Any]:
    """The JSON object for ``state``: known keys first, then every preserved unknown key."""
    s = state.settings
    settings = {"daily_limit": s.daily_limit, "days_ahead": s.days_ahead, "seed": s.seed}
    settings["max_attempts"] = s.max_attempts
    known: dict[str, Any] = {
        "format": STATE_FORMAT,
        "settings": _with_extra(settings, s.extra),
        "folders": [_with_extra({"path": x.path, "added_at": x.added_at}, x.extra) for x in state.folders],
        "accounts": [_with_extra({"name": a.name, "added_at": a.added_at}, a.extra) for a in state.accounts],
        "videos": [_with_extra(_video_dict(v), v.extra) for v in state.videos],
        "assignments": [_with_extra(_assignment_dict(a), a.extra) for a in state.assignments],
        "posted": [
            _with_extra({"account": p.account, "video": p.video, "at": p.at, "source": p.source}, p.extra)
            for p in state.posted
        ],
        "saved_at": saved_at,
    }
    return _with_extra(known, state.extra)


def _video_dict(v: Video) -> dict[str, Any]:
    return {
        "video_id": v.video_id,
        "path": v.path,
        "caption": v.caption,
        "folder": v.folder,
        "caption_source": v.caption_source,
        "added_at": v.added_at,
    }


def _assignment_dict(a: Assignment) -> dict[str, Any]:
    return {
        "job_id": a.job_id,
        "video_id": a.video_id,
        "account": a.account,
        "assigned_at": a.assigned_at,
        "seeded_at": a.seeded_at,
    }
