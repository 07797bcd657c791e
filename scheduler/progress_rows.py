"""A tolerant, read-only reader of progress CSVs: ours and the original tool's four layouts.

The original wrote 13 (..error_type), 15 (+error_category, pass_number), 16 (+platform) and 17
(+run_id, video_id) columns, and some files hold rows split by non-CSV-aware edits. Rows are read by
header name; a row with the wrong number of fields or an unknown status is set aside with the reason.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from scheduler.errors import NotALegacyFile
from scheduler.textfiles import normalise_newlines, read_operator_text

REQUIRED = ("job_id", "account", "video_path", "status")
KNOWN_STATUSES = frozenset(
    {"pending", "claimed", "success", "failed", "skipped", "retrying", "verification_pending", "review"}
)
LEGACY_LAYOUTS = {
    13: "original, 13 columns",
    15: "original, 15 columns (+error_category, pass_number)",
    16: "original, 16 columns (+platform)",
    17: "original, 17 columns (+run_id, video_id)",
}


@dataclass(frozen=True)
class ProgressRow:
    job_id: str
    account: str
    video_path: str
    caption: str
    status: str
    completed_at: str
    source: str  # "file.csv:12"
    not_before: str = ""  # the plan's earliest time (ISO 8601), when the row has one


@dataclass(frozen=True)
class Quarantined:
    source: str
    reason: str
    raw: str


@dataclass(frozen=True)
class ProgressFile:
    path: Path
    layout: str
    rows: tuple[ProgressRow, ...]
    quarantined: tuple[Quarantined, ...]


def _cell(record: list[str], at: int | None) -> str:
    if at is None or at >= len(record):
        return ""
    value = record[at]
    return value[1:] if value.startswith("'") else value  # our store's spreadsheet-formula escape


def _raw(record: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(record)
    return out.getvalue()


def read_progress_file(path: Path) -> ProgressFile:
    """Every row of ``path`` that can be understood, and the others with a reason.

    Raises NotALegacyFile if the header lacks job_id/account/video_path/status, OSError if unreadable.
    """
    text, _ = read_operator_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().casefold() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise NotALegacyFile(path, f"not a progress file: no {', '.join(missing)} column(s)")
    at = {name: i for i, name in reversed(list(enumerate(header)))}
    layout = LEGACY_LAYOUTS.get(len(header), f"{len(header)} columns") if "claim_token" not in at else "ours"
    rows: list[ProgressRow] = []
    quarantined: list[Quarantined] = []
    line = reader.line_num + 1
    for record in reader:
        source = f"{path.name}:{line}"
        line = reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        job_id, account, video_path = (_cell(record, at.get(c)).strip() for c in REQUIRED[:3])
        row = ProgressRow(
            job_id,
            account,
            video_path,
            caption=normalise_newlines(_cell(record, at.get("caption"))).strip(),
            status=_cell(record, at["status"]).strip().casefold(),
            completed_at=_cell(record, at.get("completed_at")).strip(),
            source=source,
            not_before=_cell(record, at.get("not_before")).strip(),
        )
        reason = _problem(record, len(header), row)
        if reason:
            quarantined.append(Quarantined(source, reason, _raw(record)))
        else:
            rows.append(row)
    return ProgressFile(path, layout, tuple(rows), tuple(quarantined))


def _problem(record: list[str], width: int, row: ProgressRow) -> str:
    if len(record) != width:
        return (
            f"{len(record)} fields where the header has {width} "
            "(a caption or error split over lines by a non-CSV edit?)"
        )
    if row.status not in KNOWN_STATUSES:
        return f"unknown status {row.status!r}"
    if not row.job_id:
        return "empty job_id"
    if not row.video_path:
        return "empty video_path"
    return ""
