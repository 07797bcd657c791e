"""The queue as the orchestrator opens it: the CSV store with the policy from the settings."""

from __future__ import annotations

from jobqueue.csvstore import CsvJobStore
from jobqueue.policy import BackoffPolicy, QueuePolicy
from runtime.settings import Settings


def queue_policy(settings: Settings) -> QueuePolicy:
    """The `QueuePolicy` the `[queue]` section describes (the same one the workers build)."""
    q = settings.queue
    return QueuePolicy(
        daily_limit=q.daily_limit,
        timezone=q.timezone or None,
        backoff=BackoffPolicy(
            base_s=q.backoff_base_s, factor=q.backoff_factor, cap_s=q.backoff_cap_s, jitter=q.backoff_jitter
        ),
        infra_budget=q.infra_budget,
        infra_failures_before_cooldown=q.infra_failures_before_cooldown,
        infra_cooldown_s=q.infra_cooldown_s,
        claim_lease_s=q.claim_lease_s,
        default_max_attempts=q.max_attempts,
    )


def open_store(settings: Settings) -> CsvJobStore:
    """The progress CSV of this working folder (created on first write)."""
    return CsvJobStore(settings.paths.progress_file, queue_policy(settings))
