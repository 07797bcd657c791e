"""Scanning one folder of videos: which files are used (with which caption) and which are skipped, why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from scheduler.captions import CaptionTable, read_caption_table, read_sidecar_caption
from scheduler.errors import FolderNotFound, NoVideos
from scheduler.model import VIDEO_EXTENSIONS, video_key

MAX_CAPTION_CHARS = 4_000  # the longest any supported app takes (TikTok); Instagram takes 2,200
NOT_CAPTION_FILES = ("progress", "parallel_progress", "batch_results", "import_quarantine")
_PART_SUFFIX = re.compile(r"^(?P<base>.+)-\d+$")


@dataclass(frozen=True)
class FoundVideo:
    video_id: str
    path: str
    caption: str
    caption_source: str


@dataclass(frozen=True)
class Skipped:
    item: str
    reason: str


@dataclass(frozen=True)
class FolderScan:
    folder: Path
    videos: tuple[FoundVideo, ...]
    skipped: tuple[Skipped, ...]
    caption_files: tuple[str, ...]
    notes: tuple[str, ...] = ()  # how Excel saved the captions files (semicolons, Windows-1252)


def scan_folder(folder: Path) -> FolderScan:
    """Videos at the top of ``folder`` or one level down, each matched to a caption.

    Caption sources, first match wins: the folder's captions CSVs (by exact file stem, then by
    shortcode prefix ``SC`` -> ``SC-2.mp4``), then a ``<stem>.txt`` next to the video.
    Raises FolderNotFound, NoVideos, CaptionColumnMissing.
    """
    if not folder.is_dir():
        raise FolderNotFound(folder)
    root = folder.resolve()
    videos, skipped = _video_files(root)
    if not videos:
        raise NoVideos(folder, VIDEO_EXTENSIONS)
    tables, table_skips, notes = _caption_tables(root)
    skipped += table_skips
    captions, caption_skips = _caption_index(tables)
    skipped += caption_skips
    found: list[FoundVideo] = []
    seen: dict[str, Path] = {}
    used_keys: set[str] = set()
    for video in videos:
        rel = video.relative_to(root).as_posix()
        key = video_key(video.name)
        if key in seen:
            skipped.append(Skipped(rel, f"duplicate: same name as {seen[key].relative_to(root).as_posix()}"))
            continue
        seen[key] = video
        outcome = _caption_for(video, key, captions, used_keys)
        if isinstance(outcome, Skipped):
            skipped.append(Skipped(rel, outcome.reason))
        else:
            found.append(outcome)
    skipped += [
        Skipped(source, f"caption row for {ref!r} matches no video")
        for key, (ref, _, source) in captions.items()
        if key not in used_keys
    ]
    return FolderScan(
        folder,
        tuple(found),
        tuple(skipped),
        tuple(t.path.relative_to(root).as_posix() for t in tables),
        tuple(notes),
    )


def _video_files(root: Path) -> tuple[list[Path], list[Skipped]]:
    videos: list[Path] = []
    skipped: list[Skipped] = []
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix().casefold()):
        if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
            continue
        depth = len(path.relative_to(root).parts)
        if depth > 2:
            skipped.append(Skipped(path.relative_to(root).as_posix(), "more than one folder down"))
        else:
            videos.append(path)
    return videos, skipped


def _caption_tables(root: Path) -> tuple[list[CaptionTable], list[Skipped], list[str]]:
    """Captions CSVs at the top of the folder and one level down (like the videos); deeper ones
    are listed as skipped. Also returns notes on how Excel saved them."""
    tables: list[CaptionTable] = []
    skipped: list[Skipped] = []
    notes: list[str] = []
    found = sorted(
        (p for p in root.rglob("*.csv") if p.is_file()),
        key=lambda p: p.relative_to(root).as_posix().casefold(),
    )
    for csv_path in found:
        rel = csv_path.relative_to(root).as_posix()
        if len(csv_path.relative_to(root).parts) > 2:
            skipped.append(Skipped(rel, "captions file more than one folder down: move it up"))
            continue
        if csv_path.name.casefold().startswith(NOT_CAPTION_FILES):
            skipped.append(Skipped(rel, "a progress/results file, not captions"))
            continue
        try:
            table = read_caption_table(csv_path, rel)
        except OSError as exc:
            skipped.append(Skipped(rel, f"unreadable: {exc.strerror or exc}"))
            continue
        if table is None:
            skipped.append(Skipped(rel, "no caption or video column: not a captions file"))
        else:
            tables.append(table)
            notes += [f"{rel}: {note}" for note in table.notes]
    return tables, skipped, notes


CaptionIndex = dict[str, tuple[str, str, str]]  # key -> (video ref, caption, source)


def _caption_index(tables: list[CaptionTable]) -> tuple[CaptionIndex, list[Skipped]]:
    index: CaptionIndex = {}
    skipped: list[Skipped] = []
    for table in tables:
        for row in table.rows:
            key = video_key(row.video_ref)
            if not key:
                skipped.append(Skipped(row.source, "row has no video/shortcode value"))
            elif key in index:
                skipped.append(
                    Skipped(row.source, f"duplicate row for {row.video_ref!r}, kept {index[key][2]}")
                )
            else:
                index[key] = (row.video_ref, row.caption, row.source)
    return index, skipped


def _caption_for(video: Path, key: str, captions: CaptionIndex, used: set[str]) -> FoundVideo | Skipped:
    part = _PART_SUFFIX.match(key)
    for candidate in (key, part.group("base") if part else None):
        if candidate is not None and candidate in captions:
            used.add(candidate)
            _, caption, source = captions[candidate]
            if caption:
                return _checked(video, caption, source)
    try:
        sidecar = read_sidecar_caption(video)
    except OSError as exc:
        return Skipped("", f"caption file {video.stem}.txt unreadable: {exc.strerror or exc}")
    if sidecar and sidecar[0]:
        return _checked(video, *sidecar)
    return Skipped("", f"no caption (no captions-CSV row with text, no {video.stem}.txt)")


def _checked(video: Path, caption: str, source: str) -> FoundVideo | Skipped:
    if len(caption) > MAX_CAPTION_CHARS:
        return Skipped(
            "",
            f"its caption ({source}) has {len(caption):,} characters: no app posts more than"
            f" {MAX_CAPTION_CHARS:,} (TikTok 4,000, Instagram 2,200); shorten it",
        )
    try:
        with video.open("rb") as handle:
            if not handle.read(1):
                return Skipped("", "empty file (0 bytes)")
    except OSError as exc:
        return Skipped("", f"unreadable: {exc.strerror or exc}")
    return FoundVideo(video.stem, str(video), caption, source)
