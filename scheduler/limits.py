"""The one daily limit per account, as the queue enforces it: the accounts list's `daily_limit`
cell, else the config's `[accounts] daily_limit`. The scheduler assigns at most
`days_ahead x daily limit` open jobs to an account, so it plans with exactly that number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobqueue import QueuePolicy
from jobqueue.posting import AccountRules, rules_from_text
from jobqueue.roster import AccountDefaults, RosterError, load_roster
from runtime.settings import ConfigError, Settings, load_settings
from scheduler.errors import InputError

CONFIG_NAME = "parallel-orchestrator.toml"


@dataclass(frozen=True)
class DailyLimits:
    default: int = 1
    per_account: Mapping[str, int] = field(default_factory=dict)
    source: str = "defaults"
    # every account's posting rules (window, spacing, timezone) for the plan's not_before times;
    # None: no times are planned
    policy: QueuePolicy | None = None

    def of(self, account: str) -> int:
        return self.per_account.get(account, self.default)


def daily_limits(folder: Path) -> DailyLimits:
    """The limits of the working folder ``folder``: its `parallel-orchestrator.toml` (the file the
    orchestrator loads by itself there) and its accounts list. Raises InputError naming the file."""
    config = folder / CONFIG_NAME
    try:
        settings = load_settings(config).settings if config.is_file() else Settings()
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    default = settings.accounts.daily_limit
    defaults = default_rules(settings)
    listed = settings.paths.accounts_file
    path = listed if listed.is_absolute() else folder / listed
    legacy = path.with_name("accounts.txt")
    if path.name == "accounts.csv" and not path.exists() and legacy.exists():
        path = legacy
    try:
        roster = load_roster(path, AccountDefaults(rules=defaults))
    except RosterError as exc:
        raise InputError(str(exc)) from exc
    where = (
        f"{CONFIG_NAME} [accounts] daily_limit" if config.is_file() else "the default [accounts] daily_limit"
    )
    return DailyLimits(
        default,
        {e.name: e.rules.daily_limit for e in roster.entries},
        f"{where} ({default}), {path.name} per account" if roster.entries else f"{where} ({default})",
        policy_of(defaults, roster.rules()),
    )


def default_rules(settings: Settings) -> AccountRules:
    """The `[accounts]` defaults as posting rules. Raises InputError on a bad window or spacing."""
    a = settings.accounts
    try:
        return rules_from_text(
            daily_limit=a.daily_limit, timezone=a.timezone, window=a.window, min_spacing=a.min_spacing
        )
    except ValueError as exc:
        raise InputError(f"{CONFIG_NAME} [accounts]: {exc}") from None


def policy_of(defaults: AccountRules, accounts: Mapping[str, AccountRules]) -> QueuePolicy:
    """The queue policy's posting rules (the only part the plan reads)."""
    return QueuePolicy(
        daily_limit=defaults.daily_limit,
        timezone=defaults.timezone,
        window=defaults.window,
        min_spacing_s=defaults.min_spacing_s,
        accounts=accounts,
    )


def queue_url(folder: Path, env: Mapping[str, str]) -> str:
    """The PostgreSQL queue the orchestrator of ``folder`` works (``[queue] url`` of its
    `parallel-orchestrator.toml`, or PARALLEL_ORCHESTRATOR_QUEUE_URL); "" for its progress CSV."""
    config = folder / CONFIG_NAME
    try:
        return load_settings(config if config.is_file() else None, env=env).settings.queue.url
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
