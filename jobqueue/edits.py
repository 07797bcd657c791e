"""What the queue did about outside edits of the progress file: ``<stem>.edits.json``, the latest
notices first, for the console and ``--status`` ("job X kept as success: an edit cannot make it due
again"). Written under the queue lock, only when an edit was reconciled (rare)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from jobqueue.reconcile import Kept
from jobqueue.seal import digest

KEEP = 100


@dataclass(frozen=True)
class EditNotice:
    at: str  # when the edit was found (ISO 8601)
    edit: str  # short id of the edited file's content: notices of one edit share it
    job_id: str
    queue_status: str
    edited_status: str
    why: str


def edits_path(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}.edits.json")


def read_edits(csv_path: Path) -> list[EditNotice]:
    """The notices, newest first; [] if there are none or the file cannot be read."""
    try:
        raw = json.loads(edits_path(csv_path).read_text(encoding="utf-8"))
        return [EditNotice(**item) for item in raw]
    except (OSError, ValueError, TypeError):
        return []


def add_edits(csv_path: Path, kept: Sequence[Kept], edited_data: bytes, now: datetime) -> list[EditNotice]:
    """Record the rows kept against one edit; returns the new notices."""
    edit = digest(edited_data)[:12]
    new = [EditNotice(now.isoformat(), edit, k.job_id, k.queue_status, k.edited_status, k.why) for k in kept]
    _store(csv_path, new)
    return new


def add_file_notice(csv_path: Path, why: str, edited_data: bytes, now: datetime) -> EditNotice:
    """Record what the queue did about a whole saved file (no job: ``job_id`` is empty)."""
    notice = EditNotice(now.isoformat(), digest(edited_data)[:12], "", "", "", why)
    _store(csv_path, [notice])
    return notice


def _store(csv_path: Path, new: Sequence[EditNotice]) -> None:
    notices = ([*new, *read_edits(csv_path)])[:KEEP]
    target = edits_path(csv_path)
    staged = target.with_name(target.name + ".tmp")
    staged.write_text(
        json.dumps([asdict(n) for n in notices], indent=1, ensure_ascii=False), encoding="utf-8"
    )
    staged.replace(target)
