"""A whole progress file <-> rows, keeping each record's bytes so a write re-encodes only changed rows.

``parse_file`` reads everything strictly (errors name the physical line); ``reparse`` reuses the rows
of a previous parse whose bytes are unchanged (a peer usually changed one row) and falls back to
``parse_file`` on anything unexpected, so its result is always what a full parse would give.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from jobqueue.csvrow import Layout, RowDecoder, RowError
from jobqueue.errors import CorruptProgressFile
from jobqueue.model import Job

BOM = codecs.BOM_UTF8
Decode = Callable[[Sequence[str], int], tuple[Job, tuple[str, ...]]]


@dataclass(frozen=True)
class Row:
    """A job, the cells of the non-job columns, and the record's bytes as in the file (b"" if none)."""

    job: Job
    extras: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True)
class ParsedFile:
    """The parse of ``data``: layout, header bytes as found and the rows in file order."""

    data: bytes
    layout: Layout
    header_raw: bytes
    rows: list[Row]
    raws: list[bytes]
    exact: bool  # data == BOM? + header_raw + all raws: the byte offsets of rows are known
    changed: range | None = None  # rows that differ from the parse this one was derived from
    foreign: tuple[str, ...] = ()  # what was converted to read it (semicolons, Windows-1252)


@dataclass(frozen=True)
class RowReader:
    """How to turn cells into jobs for one file."""

    path: Path
    timezone: str | None
    default_max_attempts: int

    def decoder(self, layout: Layout) -> Decode:
        """``decode(cells, line)`` for the records of one file: the job and the extra cells."""
        decode = RowDecoder(layout, self.timezone, self.default_max_attempts)

        def job(cells: Sequence[str], line: int) -> tuple[Job, tuple[str, ...]]:
            try:
                return decode(cells)
            except RowError as error:
                raise CorruptProgressFile(self.path, line, error.column, error.reason) from None

        return job


SEMICOLONS = "semicolon-separated"
CP1252 = "Windows-1252"


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """The text of a file body and its encoding: UTF-8, else Windows-1252 (older Excel's "CSV")."""
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as error:
        try:
            return data.decode("cp1252"), CP1252
        except UnicodeDecodeError:
            line = data.count(b"\n", 0, error.start) + 1
            raise CorruptProgressFile(
                path,
                line,
                "",
                f'neither UTF-8 nor Windows-1252 text ({error.reason}): save it as "CSV UTF-8" in'
                f" Excel, or restore {path.name}.bak",
            ) from None


def _semicolons(text: str) -> bool:
    """Is the header semicolon-separated (Excel with a European list separator)?"""
    first = text.split("\n", 1)[0]
    comma_cells = {c.strip().strip('"') for c in first.split(",")}
    return "job_id" not in comma_cells and "job_id" in {c.strip().strip('"') for c in first.split(";")}


def canonical_text(body: bytes, path: Path) -> tuple[str, tuple[str, ...]]:
    """The file's text as the queue writes it (UTF-8 cells, commas) and what had to be converted
    (``SEMICOLONS``, ``CP1252``; empty for a file in the queue's own format)."""
    text, encoding = _decode(body, path)
    notes = (encoding,) if encoding else ()
    if not _semicolons(text):
        return text, notes
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    records = csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    try:
        for cells in records:
            writer.writerow(cells)
    except csv.Error as error:
        raise CorruptProgressFile(
            path, records.line_num, "", f"broken semicolon-separated record: {error}"
        ) from None
    return out.getvalue(), (SEMICOLONS, *notes)


def foreign_format(data: bytes, path: Path) -> tuple[str, ...]:
    """What is foreign about a progress file's format (see ``canonical_text``); () if nothing."""
    body = data[len(BOM) :] if data.startswith(BOM) else data
    return canonical_text(body, path)[1] if body.strip() else ()


def empty_file() -> ParsedFile:
    """The parse of a file that does not exist yet."""
    layout = Layout.default()
    return ParsedFile(b"", layout, b"", [], [], False)


def parse_file(data: bytes, reader: RowReader) -> ParsedFile:
    """Every row of ``data``; CorruptProgressFile names the first record that cannot be understood."""
    body = data[len(BOM) :] if data.startswith(BOM) else data
    if not body.strip():
        return ParsedFile(data, Layout.default(), b"", [], [], False)
    text, foreign = canonical_text(body, reader.path)
    lines = io.StringIO(text, newline="").readlines()
    records = csv.reader(lines, strict=True)
    try:
        header = next(records)
        layout = Layout.from_header(header)
    except RowError as error:
        raise CorruptProgressFile(reader.path, 1, error.column, error.reason) from None
    except csv.Error as error:
        raise CorruptProgressFile(reader.path, 1, "", f"unreadable header: {error}") from None
    header_raw = "".join(lines[: records.line_num]).encode("utf-8")
    decode = reader.decoder(layout)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    consumed = records.line_num
    while True:
        start = consumed + 1
        try:
            cells = next(records, None)
        except csv.Error as error:
            raise CorruptProgressFile(reader.path, start, "", f"broken CSV record: {error}") from None
        if cells is None:
            break
        end = records.line_num
        raw = (lines[consumed] if end == start else "".join(lines[consumed:end])).encode("utf-8")
        consumed = end
        if not cells:
            continue
        job, extras = decode(cells, start)
        if job.job_id in seen:
            reason = f"duplicate job_id {job.job_id!r} (first on line {seen[job.job_id]})"
            raise CorruptProgressFile(reader.path, start, "job_id", reason)
        seen[job.job_id] = start
        rows.append(Row(job, extras, raw if raw.endswith(b"\n") else raw + b"\r\n"))
    raws = [row.raw for row in rows]
    if foreign:  # rows and header as the queue writes them: the next write rewrites every row
        return ParsedFile(data, layout, b"", rows, raws, False, foreign=foreign)
    exact = len(body) == len(header_raw) + sum(map(len, raws))
    return ParsedFile(data, layout, header_raw, rows, raws, exact)


def common_prefix_length(a: bytes, b: bytes, start: int) -> int:
    """Index of the first byte from ``start`` where ``a`` and ``b`` differ (compared in C-sized blocks)."""
    end = min(len(a), len(b))
    position = start
    for step in (65536, 2048, 64, 1):
        while position + step <= end and a[position : position + step] == b[position : position + step]:
            position += step
    return position


def common_suffix_length(a: bytes, b: bytes, limit: int) -> int:
    """How many trailing bytes ``a`` and ``b`` share, at most ``limit``."""
    length = 0
    for step in (65536, 2048, 64, 1):
        while (
            length + step <= limit
            and a[len(a) - length - step : len(a) - length] == b[len(b) - length - step : len(b) - length]
        ):
            length += step
    return length


def _one_record(data: bytes, offset: int, end: int) -> tuple[list[str], int]:
    """The cells of the record starting at ``offset`` and where it ends (no further than ``end``)."""
    stop_at = [offset]

    def lines() -> Iterator[str]:
        position = offset
        while position < end:
            newline = data.find(b"\n", position, end)
            stop = end if newline < 0 else newline + 1
            stop_at[0] = stop
            yield data[position:stop].decode("utf-8")
            position = stop

    cells = next(csv.reader(lines(), strict=True))
    return cells, stop_at[0]


def _spliced(data: bytes, previous: ParsedFile, base: int, reader: RowReader) -> ParsedFile:
    """Rows of ``data``: the previous rows before and after the changed bytes are reused as they are;
    inside the changed region, previous rows found byte-for-byte are reused and the others parsed."""
    old, old_rows, old_raws = previous.data, previous.rows, previous.raws
    offsets = [0, *accumulate(map(len, old_raws))]
    body = offsets[-1]
    head = bisect.bisect_right(offsets, common_prefix_length(old, data, base) - base) - 1
    same_tail = common_suffix_length(old, data, min(body - offsets[head], len(data) - base - offsets[head]))
    tail = max(head, bisect.bisect_left(offsets, body - same_tail))
    position, end = base + offsets[head], len(data) - (body - offsets[tail])
    middle: list[Row] = []
    decode = reader.decoder(previous.layout)
    k = head
    while position < end:
        raw = old_raws[k] if k < tail else b""
        if raw and position + len(raw) <= end and data.startswith(raw, position):
            middle.append(old_rows[k])
            position, k = position + len(raw), k + 1
            continue
        cells, stop = _one_record(data, position, end)
        raw = data[position:stop]
        if not cells or not raw.endswith(b"\n"):
            raise ValueError("not a whole record")
        job, extras = decode(cells, 0)
        middle.append(Row(job, extras, raw))
        position = stop
        if k < tail and old_rows[k].job.job_id == job.job_id:
            k += 1
    removed = [row.job.job_id for row in old_rows[head:tail]]
    added = [row.job.job_id for row in middle]
    rows = [*old_rows[:head], *middle, *old_rows[tail:]]
    if added != removed and len({row.job.job_id for row in rows}) != len(rows):
        raise ValueError("duplicate job_id")
    raws = [*old_raws[:head], *(row.raw for row in middle), *old_raws[tail:]]
    changed = range(head, tail) if len(middle) == tail - head else None
    return ParsedFile(data, previous.layout, previous.header_raw, rows, raws, True, changed)


def reparse(data: bytes, previous: ParsedFile, reader: RowReader) -> ParsedFile:
    """The parse of ``data``, reusing the rows of ``previous`` before and after the changed bytes.

    Falls back to ``parse_file`` whenever the shortcut does not apply, so errors name their line.
    """
    prefix = (BOM if previous.data.startswith(BOM) else b"") + previous.header_raw
    if not previous.exact or not previous.header_raw or not data.startswith(prefix):
        return parse_file(data, reader)
    try:
        return _spliced(data, previous, len(prefix), reader)
    except (ValueError, csv.Error, CorruptProgressFile):
        return parse_file(data, reader)
