"""One CSV row <-> one Job: columns, value formats, and the spreadsheet formula escape.

Columns: the seed's 13 (``SEED_COLUMNS``), then any columns the file already has (the original
tool's ``error_category, pass_number, run_id, video_id, platform``, operator columns), kept in
their order and written back verbatim, then the store-only ``STORE_COLUMNS`` if missing.
Timestamps are written as ISO 8601 with the offset of the policy timezone
(``2026-03-29T03:10:00+02:00``); naive ones (the original tool's) are read as local time there.
A text cell starting with ``= + - @``, tab, CR or ``'`` is written with a leading ``'`` so a
spreadsheet shows it as text; one leading ``'`` is removed on read, so every text round-trips.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from jobqueue.daily import localize, to_zone
from jobqueue.model import Job, JobStatus

BOM_BYTES = codecs.BOM_UTF8
# A spreadsheet cell holds at most 32,767 characters (Excel): a longer caption would be cut by the
# first save in Excel, and no posting app takes one that long anyway (Instagram 2,200, TikTok 4,000).
MAX_CELL_CHARS = 32_767
# Python's csv reader refuses fields over 131,072 characters by default; ours never write one
# (MAX_CELL_CHARS), but a file another program wrote may hold one: read it, then say what is wrong.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))

SEED_COLUMNS = (
    "job_id", "account", "video_path", "caption", "status", "worker_id", "claimed_at",
    "completed_at", "error", "attempts", "max_attempts", "retry_at", "error_type",
)  # fmt: skip
STORE_COLUMNS = (
    "claim_token", "worker_pid", "checkpoint_at", "infra_attempts", "external_id", "post_url", "not_before",
    "host",
)  # fmt: skip
TEXT_COLUMNS = (
    "job_id", "account", "video_path", "caption", "error", "error_type", "claim_token",
    "external_id", "post_url", "host",
)  # fmt: skip
TIME_COLUMNS = ("claimed_at", "completed_at", "retry_at", "checkpoint_at", "not_before")
INT_COLUMNS = ("worker_id", "attempts", "max_attempts", "worker_pid", "infra_attempts")
# The original tool's statuses: "skipped" rows were set aside by hand (terminal, requeue-able),
# "verification_pending" ones may have been posted and need a human look.
LEGACY_STATUSES = {"skipped": JobStatus.FAILED, "verification_pending": JobStatus.REVIEW}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


class RowError(ValueError):
    """A cell that cannot be understood; the caller adds the path and line."""

    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"{column}: {reason}")


def escape_text(value: str) -> str:
    """The cell for a text value: prefixed with ``'`` if a spreadsheet could take it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape_text(cell: str) -> str:
    """The text value of a cell written by ``escape_text``."""
    return cell[1:] if cell.startswith("'") else cell


@dataclass(frozen=True)
class Layout:
    """The header of a progress file and where each known column sits in it."""

    header: tuple[str, ...]
    positions: dict[str, int]
    extra_positions: tuple[int, ...]
    file_width: int

    @classmethod
    def from_header(cls, header: Sequence[str]) -> Layout:
        """The layout for a file's header, with missing store columns appended. RowError if unusable."""
        names = [name.strip() for name in header]
        seen: set[str] = set()
        for name in names:
            if name in seen and name:
                raise RowError(name, "duplicate column name in the header")
            seen.add(name)
        for name in SEED_COLUMNS:
            if name not in seen:
                raise RowError(name, "missing required column")
        names += [name for name in STORE_COLUMNS if name not in seen]
        positions = {name: names.index(name) for name in (*SEED_COLUMNS, *STORE_COLUMNS)}
        known = set(positions.values())
        extra = tuple(i for i in range(len(names)) if i not in known)
        return cls(tuple(names), positions, extra, len(header))

    @classmethod
    def default(cls) -> Layout:
        return cls.from_header(SEED_COLUMNS + STORE_COLUMNS)


def encode_cells(cells: Sequence[str]) -> bytes:
    """One CSV record (CRLF-terminated, minimal quoting) as UTF-8 bytes."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _format(value: object, timezone: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_zone(value, timezone).isoformat()
    return str(value)


def job_cells(job: Job, extras: Sequence[str], layout: Layout, timezone: str | None) -> list[str]:
    """The cells of a row for ``job``; ``extras`` fill the non-job columns in order."""
    cells = [""] * len(layout.header)
    for position, value in zip(layout.extra_positions, extras, strict=False):
        cells[position] = value
    for name, position in layout.positions.items():
        value = getattr(job, name)
        cells[position] = escape_text(value) if name in TEXT_COLUMNS else _format(value, timezone)
    return cells


def _parse_int(column: str, cell: str, default: int | None) -> int | None:
    cell = cell.strip()
    if not cell:
        return default
    try:
        value = int(cell)
    except ValueError:
        raise RowError(column, f"not a whole number: {cell!r}") from None
    if value < 0:
        raise RowError(column, f"negative number: {cell!r}")
    return value


def _parse_time(column: str, cell: str, timezone: str | None) -> datetime | None:
    cell = cell.strip()
    if not cell:
        return None
    try:
        return localize(datetime.fromisoformat(cell), timezone)
    except ValueError:
        raise RowError(column, f"not an ISO 8601 timestamp: {cell!r}") from None


def _parse_status(cell: str) -> JobStatus:
    value = cell.strip().lower()
    if value in LEGACY_STATUSES:
        return LEGACY_STATUSES[value]
    try:
        return JobStatus(value)
    except ValueError:
        raise RowError("status", f"unknown status {cell!r}") from None


# The canonical status cells (what ``job_cells`` writes) and the legacy ones, looked up as they are.
_STATUS_CELLS: dict[str, JobStatus] = {**{s.value: s for s in JobStatus}, **LEGACY_STATUSES}


class _IntCells(dict[str, int | None]):
    """One integer column's values by cell, parsed on first sight (a column holds few distinct cells)."""

    def __init__(self, column: str, default: int | None) -> None:
        super().__init__()
        self.column = column
        self.default = default

    def __missing__(self, cell: str) -> int | None:
        value = self[cell] = _parse_int(self.column, cell, self.default)
        return value


class RowDecoder:
    """Turns the records of one file into jobs: column positions resolved once, integer cells
    memoized, empty cells and canonical statuses on a fast path. Same results and errors as
    decoding cell by cell; RowError names the first bad column in the order of ``Job``'s fields."""

    def __init__(self, layout: Layout, timezone: str | None, default_max_attempts: int) -> None:
        at = layout.positions
        self.timezone = timezone
        self.file_width = layout.file_width
        self.width = len(layout.header)
        self.extra_positions = layout.extra_positions
        self.texts = itemgetter(*(at[name] for name in TEXT_COLUMNS))
        self.times = itemgetter(*(at[name] for name in TIME_COLUMNS))
        self.status = at["status"]
        self.ints = itemgetter(*(at[name] for name in INT_COLUMNS))
        self.int_values = tuple(
            _IntCells(name, default)
            for name, default in zip(INT_COLUMNS, (None, 0, default_max_attempts, None, 0), strict=True)
        )
        self.default_max_attempts = default_max_attempts

    def __call__(self, cells: Sequence[str]) -> tuple[Job, tuple[str, ...]]:
        """The job and the extra cells of one record. RowError names the first bad column."""
        if len(cells) > self.file_width:
            raise RowError("", f"{len(cells)} cells but the header has {self.file_width} columns")
        if len(cells) < self.width:
            cells = [*cells, *[""] * (self.width - len(cells))]
        job_id, account, video_path, caption, error, error_type, claim_token, external_id, post_url, host = [
            cell[1:] if cell[:1] == "'" else cell for cell in self.texts(cells)
        ]
        if not job_id.strip():
            raise RowError("job_id", "empty job_id")
        status = cells[self.status]
        claimed_at, completed_at, retry_at, checkpoint_at, not_before = self.times(cells)
        worker_id, attempts, max_attempts, worker_pid, infra_attempts = self.ints(cells)
        worker_ids, attempt_counts, max_attempt_counts, worker_pids, infra_counts = self.int_values
        tz = self.timezone
        job = Job(
            job_id=job_id,
            account=account,
            video_path=video_path,
            caption=caption,
            status=_STATUS_CELLS.get(status) or _parse_status(status),
            worker_id=worker_ids[worker_id],
            claimed_at=_parse_time("claimed_at", claimed_at, tz) if claimed_at else None,
            completed_at=_parse_time("completed_at", completed_at, tz) if completed_at else None,
            error=error,
            attempts=attempt_counts[attempts] or 0,
            max_attempts=max_attempt_counts[max_attempts] or self.default_max_attempts,
            retry_at=_parse_time("retry_at", retry_at, tz) if retry_at else None,
            error_type=error_type,
            claim_token=claim_token,
            worker_pid=worker_pids[worker_pid],
            checkpoint_at=_parse_time("checkpoint_at", checkpoint_at, tz) if checkpoint_at else None,
            infra_attempts=infra_counts[infra_attempts] or 0,
            not_before=_parse_time("not_before", not_before, tz) if not_before else None,
            external_id=external_id,
            post_url=post_url,
            host=host,
        )
        extras = self.extra_positions
        return job, tuple([cells[i] for i in extras]) if extras else ()


def job_from_cells(
    cells: Sequence[str], layout: Layout, timezone: str | None, default_max_attempts: int
) -> tuple[Job, tuple[str, ...]]:
    """The job and the extra cells of one record. RowError names the first bad column.

    Decoding many records of one layout: build one ``RowDecoder`` and call it per record.
    """
    return RowDecoder(layout, timezone, default_max_attempts)(cells)


def encode_file(
    layout: Layout, jobs: Sequence[Job], extras: Mapping[str, Sequence[str]], timezone: str | None
) -> bytes:
    """A whole progress file (BOM, header, every row) in ``layout``; ``extras`` by job id."""
    blank = ("",) * len(layout.extra_positions)
    rows = [encode_cells(job_cells(job, extras.get(job.job_id, blank), layout, timezone)) for job in jobs]
    return b"".join([BOM_BYTES, encode_cells(layout.header), *rows])


def safe_csv(rows: Iterable[Sequence[str]]) -> bytes:
    """Any CSV we write for people to open (quarantine, exports): UTF-8 with BOM, CRLF, and every
    cell that a spreadsheet could run as a formula escaped (``escape_text``)."""
    return BOM_BYTES + b"".join(encode_cells([escape_text(str(cell)) for cell in row]) for row in rows)
