"""Pure translations of the run settings into worker collaborators (importable by the orchestrator)."""

from __future__ import annotations

from jobqueue import BackoffPolicy, QueuePolicy
from runtime.settings import Settings


def queue_policy(settings: Settings) -> QueuePolicy:
    """The queue rules from the `[queue]` settings section: the one policy workers and orchestrator share."""
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
