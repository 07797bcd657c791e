"""`export-csv` and `import-csv`: the progress CSV as the operator's view of a PostgreSQL queue, and
the one-time move of a CSV queue into PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jobqueue.csvrow import Layout, encode_file
from jobqueue.csvstore import CsvJobStore
from jobqueue.fileio import atomic_write
from jobqueue.model import JobStatus
from jobqueue.pgstore import PostgresJobStore
from jobqueue.sidecar import sidecar_path
from orchestrator.adapters.queue_store import open_store, queue_label, queue_policy
from orchestrator.errors import OperatorMistake
from runtime.settings import Settings
from worker.contract import load_accounts


@dataclass(frozen=True)
class ExportResult:
    file: str
    jobs: int
    queue: str  # where the jobs came from (a database URL without its password, or a file)


@dataclass(frozen=True)
class ImportResult:
    file: str
    jobs: int
    queue: str
    moved_to: str  # the imported file's new name: it is no longer a queue


def default_export(settings: Settings) -> Path:
    """`parallel_progress.export.csv` beside the progress file: never the queue file itself."""
    progress = settings.paths.progress_file
    return progress.with_name(f"{progress.stem}.export.csv")


def export_csv(settings: Settings, target: Path | None = None) -> ExportResult:
    """Write the configured queue's jobs as a progress file (UTF-8 with BOM, CRLF, the same columns)
    that Excel opens; atomically, so a reader never sees half of it. It is a view: editing it
    changes nothing in a database queue."""
    target = target or default_export(settings)
    if not settings.queue.url and target.resolve() == settings.paths.progress_file.resolve():
        raise OperatorMistake(f"{target} is the queue itself: name another file to export to")
    if not target.parent.is_dir():
        raise OperatorMistake(f"cannot export to {target}: the folder {target.parent} does not exist")
    store = open_store(settings)
    jobs = store.snapshot().jobs
    atomic_write(target, encode_file(Layout.default(), jobs, {}, store.policy.timezone))
    return ExportResult(str(target), len(jobs), queue_label(settings))


def import_csv(settings: Settings, source: Path, now: datetime) -> ImportResult:
    """Move the CSV queue `source` (with its accounts' blocks and cooldowns) into the configured
    PostgreSQL queue, all or nothing. Refused when no database is configured, when the file has
    claimed jobs (a run still works it), or when any job id is already in the database. After the
    import the file is renamed (`<name>.imported-<time>.csv`): left as it was, a later run without
    `[queue] url` would post its jobs a second time."""
    if not settings.queue.url:
        raise OperatorMistake(
            "import-csv moves a CSV queue into PostgreSQL: set [queue] url (or"
            " PARALLEL_ORCHESTRATOR_QUEUE_URL) first; nothing was imported"
        )
    if not source.is_file():
        raise OperatorMistake(f"{source} does not exist: name the progress file to import")
    policy = queue_policy(settings, load_accounts(settings))
    snapshot = CsvJobStore(source, policy, journal=False).snapshot()
    claimed = [j.job_id for j in snapshot.jobs if j.status is JobStatus.CLAIMED]
    if claimed:
        raise OperatorMistake(
            f"{source} has {len(claimed)} claimed job(s) ({', '.join(claimed[:3])}): a run still works it."
            " Stop it (--stop-all) and let it end first; nothing was imported"
        )
    stamp = f"imported-{now:%Y%m%d-%H%M%S}"
    moved = source.with_name(f"{source.stem}.{stamp}{source.suffix}")
    try:  # moved aside first: a file Excel holds open stops the import before anything is written
        source.rename(moved)
    except OSError as exc:
        raise OperatorMistake(
            f"cannot rename {source} ({exc.strerror}): close it in Excel or any other program and try"
            " again; nothing was imported"
        ) from None
    store = open_store(settings)
    assert isinstance(store, PostgresJobStore)
    try:
        count = store.adopt(snapshot.jobs, snapshot.accounts)
    except BaseException:
        moved.rename(source)
        raise
    finally:
        store.close()
    sidecar = sidecar_path(source)
    if sidecar.exists():
        sidecar.rename(sidecar.with_name(f"{sidecar.stem}.{stamp}{sidecar.suffix}"))
    return ImportResult(str(source), count, queue_label(settings), str(moved))
