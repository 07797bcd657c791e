"""The queue as the orchestrator opens it: the CSV store with the policy from the settings."""

from __future__ import annotations

from jobqueue.csvstore import CsvJobStore
from runtime.settings import Settings
from worker.contract import load_accounts, queue_policy

__all__ = ["open_store", "queue_policy"]


def open_store(settings: Settings, lock_timeout_s: float = 60.0) -> CsvJobStore:
    """The progress CSV of this working folder (created on first write)."""
    return CsvJobStore(
        settings.paths.progress_file,
        queue_policy(settings, load_accounts(settings)),
        lock_timeout_s=lock_timeout_s,
        journal=settings.queue.journal,
    )
