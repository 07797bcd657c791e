"""Queue policies: small frozen dataclasses (daily limit, timezone, backoff, infra budget, lease)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from jobqueue.posting import AccountRules, PostingWindow

Jitter = Literal["full", "decorrelated", "none"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff ``base_s * factor**(attempt-1)`` capped at ``cap_s``, with jitter.

    ``full``: U(0, delay) (AWS "full jitter", Celery); ``decorrelated``: U(base, 3 * previous) capped;
    ``none``: the plain exponential delay.
    """

    base_s: float = 60.0
    factor: float = 2.0
    cap_s: float = 3600.0
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0 or self.factor < 1:
            raise ValueError("backoff needs base_s >= 0, cap_s >= 0 and factor >= 1")


@dataclass(frozen=True)
class QueuePolicy:
    """Rules of the queue shared by every worker.

    - ``daily_limit``: successes per account per calendar day in ``timezone``.
    - ``timezone``: IANA name (``"Europe/Berlin"``); None means the machine's local zone.
    - ``infra_budget``: INFRASTRUCTURE outcomes a job may have before it fails
      with error_type ``infra_budget_exhausted``.
    - ``infra_failures_before_cooldown`` consecutive INFRASTRUCTURE outcomes on an account put it
      in a cooldown of ``infra_cooldown_s``.
    - ``claim_lease_s``: heartbeat age after which a claim is presumed orphaned (see ``lease_expired``).
    - ``window`` / ``min_spacing_s``: the default posting window and spacing between two posts.
    - ``accounts``: per-account rules (the accounts list); an account not in it takes the defaults
      above (``rules_for``).
    """

    daily_limit: int = 1
    timezone: str | None = None
    window: PostingWindow | None = None
    min_spacing_s: float = 0.0
    accounts: Mapping[str, AccountRules] = field(default_factory=dict)
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    infra_budget: int = 5
    infra_failures_before_cooldown: int = 3
    infra_cooldown_s: float = 900.0
    claim_lease_s: float = 120.0
    default_max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.daily_limit < 0 or self.infra_budget < 1 or self.infra_failures_before_cooldown < 1:
            raise ValueError("daily_limit >= 0, infra_budget >= 1, infra_failures_before_cooldown >= 1")
        if self.default_max_attempts < 1:
            raise ValueError("default_max_attempts must be >= 1")
        for zone in {self.timezone, *(r.timezone for r in self.accounts.values())} - {None}:
            ZoneInfo(str(zone))  # raises ZoneInfoNotFoundError (a KeyError) for an unknown name
        object.__setattr__(self, "accounts", MappingProxyType(dict(self.accounts)))

    @property
    def default_rules(self) -> AccountRules:
        return AccountRules(self.daily_limit, self.timezone, self.window, self.min_spacing_s)

    def rules_for(self, account: str) -> AccountRules:
        """The account's own rules, or the defaults."""
        rules = self.accounts.get(account)
        return rules if rules is not None else self.default_rules
