"""The scheduler's state as plain frozen data: settings, folders, accounts, videos, assignments, ledger.

Every record keeps the keys it does not know in ``extra`` so that a file written by a newer version
(or edited by hand) survives a round-trip through this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import Any

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".m4v")
STATE_FORMAT = 1

Extra = Mapping[str, Any]


def no_extra() -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Settings:
    """How far ahead to assign: at most ``days_ahead * daily_limit`` open jobs per account."""

    daily_limit: int = 1
    days_ahead: int = 1
    seed: int = 0
    max_attempts: int = 3
    extra: Extra = field(default_factory=no_extra)

    @property
    def open_jobs_per_account(self) -> int:
        return self.days_ahead * self.daily_limit


@dataclass(frozen=True)
class Folder:
    path: str
    added_at: str
    extra: Extra = field(default_factory=no_extra)


@dataclass(frozen=True)
class Account:
    name: str
    added_at: str
    extra: Extra = field(default_factory=no_extra)


@dataclass(frozen=True)
class Video:
    """One video with its caption; ``video_id`` (the file stem) is unique, case-insensitively."""

    video_id: str
    path: str
    caption: str
    folder: str
    caption_source: str
    added_at: str
    extra: Extra = field(default_factory=no_extra)


@dataclass(frozen=True)
class Assignment:
    """Video -> account. ``seeded_at`` is set once the job is in the progress file; never re-seeded."""

    job_id: str
    video_id: str
    account: str
    assigned_at: str
    seeded_at: str | None = None
    extra: Extra = field(default_factory=no_extra)


@dataclass(frozen=True)
class PostedEntry:
    """One line of the posted ledger: ``account`` has posted ``video`` (a file name); never again."""

    account: str
    video: str
    at: str
    source: str
    extra: Extra = field(default_factory=no_extra)

    @property
    def key(self) -> tuple[str, str]:
        return (self.account, video_key(self.video))


@dataclass(frozen=True)
class SchedulerState:
    settings: Settings = field(default_factory=Settings)
    folders: tuple[Folder, ...] = ()
    accounts: tuple[Account, ...] = ()
    videos: tuple[Video, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    posted: tuple[PostedEntry, ...] = ()
    extra: Extra = field(default_factory=no_extra)

    @property
    def account_names(self) -> list[str]:
        return [a.name for a in self.accounts]

    def posted_keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(p.key for p in self.posted)

    def video_by_id(self) -> dict[str, Video]:
        return {v.video_id: v for v in self.videos}


def file_name(path_text: str) -> str:
    """The last component of a POSIX or Windows path (``C:\\a\\b.mp4`` and ``a/b.mp4`` alike)."""
    return PureWindowsPath(path_text.strip()).name


def video_stem(path_text: str) -> str:
    """File name without a video extension: the video id (``SC-2.mp4`` -> ``SC-2``)."""
    name = file_name(path_text)
    for ext in VIDEO_EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def video_key(path_text: str) -> str:
    """Case-insensitive identity of a video, from an id, a file name or a path."""
    return video_stem(path_text).casefold()


def job_id_for(video_id: str, account: str) -> str:
    return f"{video_id}@{account}"
