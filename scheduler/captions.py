"""Captions CSVs in the layouts operators have (seed-ancestor §1.4, §1.5).

- bulk-scheduler exports: ``Text`` + ``Image/Video link 1 (...)`` (+ extra columns, multi-line cells)
- ``Text`` + ``Shortcode``; ``filename,caption``; ``filename,onscreen_text,post_caption``
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from scheduler.errors import CaptionColumnMissing
from scheduler.textfiles import normalise_newlines, read_operator_text

CAPTION_HEADERS = ("post_caption", "caption", "text")
VIDEO_HEADERS = ("filename", "file", "file_name", "video", "video_path", "video_id", "shortcode")
VIDEO_HEADER_WORDS = ("video", "image", "shortcode")


@dataclass(frozen=True)
class CaptionRow:
    video_ref: str
    caption: str
    source: str


@dataclass(frozen=True)
class CaptionTable:
    path: Path
    caption_column: str
    video_column: str
    encoding: str
    rows: tuple[CaptionRow, ...]
    delimiter: str = ","

    @property
    def notes(self) -> tuple[str, ...]:
        """How Excel saved it, when not as CSV UTF-8 (read all the same)."""
        out = []
        if self.delimiter == ";":
            out.append("semicolon-separated (European Excel): read as such")
        if self.encoding != "utf-8":
            out.append(f"saved as {self.encoding} (older Excel), not UTF-8: read as such")
        return tuple(out)


def sniff_delimiter(text: str) -> str:
    """`;` when the header line holds more semicolons than commas (Excel in much of Europe saves
    "CSV" that way), else `,`."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def find_columns(header: list[str]) -> tuple[int | None, int | None]:
    """Indexes of the caption and the video column in ``header`` (None when absent)."""
    folded = [h.strip().lstrip("\ufeff").casefold() for h in header]
    caption = next((folded.index(c) for c in CAPTION_HEADERS if c in folded), None)
    video = next((folded.index(c) for c in VIDEO_HEADERS if c in folded), None)
    if video is None:
        video = next(
            (i for i, h in enumerate(folded) if i != caption and any(w in h for w in VIDEO_HEADER_WORDS)),
            None,
        )
    return caption, video


def read_caption_table(path: Path, label: str = "") -> CaptionTable | None:
    """The captions in ``path`` (``label``: how messages name it, default its file name); None if
    it has neither a caption nor a video column (not ours). Commas or semicolons, UTF-8 or
    Windows-1252 (``CaptionTable.notes`` says which).

    Raises CaptionColumnMissing when exactly one of the two columns is there, OSError if unreadable.
    """
    label = label or path.name
    text, encoding = read_operator_text(path)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    caption_at, video_at = find_columns(header)
    if caption_at is None and video_at is None:
        return None
    if caption_at is None or video_at is None:
        missing = "caption" if caption_at is None else "video/shortcode"
        raise CaptionColumnMissing(path, missing, [h.strip() for h in header])
    rows: list[CaptionRow] = []
    start_line = reader.line_num + 1
    for record in reader:
        if any(cell.strip() for cell in record):
            ref = record[video_at].strip() if video_at < len(record) else ""
            caption = record[caption_at] if caption_at < len(record) else ""
            rows.append(CaptionRow(ref, normalise_newlines(caption).strip(), f"{label}:{start_line}"))
        start_line = reader.line_num + 1
    return CaptionTable(
        path, header[caption_at].strip(), header[video_at].strip(), encoding, tuple(rows), delimiter
    )


def read_sidecar_caption(video: Path) -> tuple[str, str] | None:
    """``(caption, source)`` from ``<video stem>.txt`` next to the video, or None if there is none."""
    sidecar = video.with_suffix(".txt")
    if not sidecar.is_file():
        return None
    text, _ = read_operator_text(sidecar)
    return normalise_newlines(text).strip(), sidecar.name
