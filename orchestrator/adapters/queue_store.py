"""The queue as the orchestrator opens it: the CSV store, or PostgreSQL when `[queue] url` is set,
with the policy from the settings."""

from __future__ import annotations

from jobqueue.store import JobStore
from jobqueue.stores import open_job_store
from runtime.queue_url import redacted
from runtime.settings import Settings, queue_host
from worker.contract import load_accounts, queue_policy

__all__ = ["open_store", "queue_label", "queue_policy"]


def queue_label(settings: Settings) -> str:
    """Where the queue is, for messages: the database URL without its password, or the CSV file."""
    return redacted(settings.queue.url) if settings.queue.url else str(settings.paths.progress_file)


def open_store(settings: Settings, lock_timeout_s: float = 60.0, reconnect_s: float = 60.0) -> JobStore:
    """This working folder's queue: its progress CSV (created on first write) or the database."""
    return open_job_store(
        settings.paths.progress_file,
        settings.queue.url,
        queue_policy(settings, load_accounts(settings)),
        lock_timeout_s=lock_timeout_s,
        journal=settings.queue.journal,
        host=queue_host(settings),
        reconnect_s=reconnect_s,
    )
