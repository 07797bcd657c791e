"""One way to open the queue, for the orchestrator, its workers and the scheduler alike."""

from __future__ import annotations

from pathlib import Path

from jobqueue.csvstore import CsvJobStore
from jobqueue.policy import QueuePolicy
from jobqueue.store import JobStore


def open_job_store(
    progress_file: Path,
    url: str,
    policy: QueuePolicy,
    *,
    lock_timeout_s: float = 60.0,
    journal: bool = True,
    host: str = "",
    reconnect_s: float = 60.0,
) -> JobStore:
    """The PostgreSQL queue at ``url`` when one is set (claims made through it carry ``host``; a
    dropped connection is retried for ``reconnect_s``), else the progress CSV ``progress_file``.
    psycopg is imported only for a database."""
    if url:
        from jobqueue.pgstore import PostgresJobStore

        return PostgresJobStore(
            url, policy, lock_timeout_s=lock_timeout_s, host=host, reconnect_s=reconnect_s
        )
    return CsvJobStore(progress_file, policy, lock_timeout_s=lock_timeout_s, journal=journal)
