"""The orchestrator's view of the configuration: load, validate, and show where each value came from.

Order: defaults, then the TOML file (`--config FILE`, else `parallel-orchestrator.toml` in the
working folder if there is one), then environment variables, then flags. Secrets (GeeLark API key,
token) come only from the environment and are shown masked. Any problem is a `ConfigError` raised
before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runtime.queue_url import redacted
from runtime.settings import (
    SECRET_ENV,
    SECRET_SETTINGS,
    ConfigError,
    LoadedSettings,
    Settings,
    load_settings,
    settings_to_dict,
)
from worker.contract import (
    MAX_WORKERS,
    PortBases,
    PortPlanError,
    WorkerPorts,
    account_defaults,
    fleet_plan,
    flow_files,
    load_accounts,
)

DEFAULT_CONFIG_NAME = "parallel-orchestrator.toml"


def default_config_file(cwd: Path) -> Path | None:
    """`parallel-orchestrator.toml` in the working folder, if it exists."""
    candidate = cwd / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(
    config_file: Path | None,
    overrides: Mapping[str, object],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedSettings:
    """Load and validate; raises ConfigError with the file, key and what is wrong."""
    file = config_file if config_file is not None else default_config_file(cwd or Path.cwd())
    loaded = load_settings(
        file, {k: v for k, v in overrides.items() if v is not None}, env if env is not None else os.environ
    )
    validate(loaded.settings)
    return loaded


def validate(settings: Settings) -> None:
    """Checks that only make sense across settings (the loader checks types and ranges of one value)."""
    workers = settings.orchestrator.workers
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"[orchestrator] workers: must be between 1 and {MAX_WORKERS}, got {workers}")
    try:
        port_table(settings)
    except PortPlanError as exc:
        raise ConfigError(f"[worker] ports: {exc}") from None
    if settings.orchestrator.progress_interval_s <= 0:
        raise ConfigError("[orchestrator] progress_interval_s: must be more than 0")
    account_defaults(settings)  # [accounts] window and min_spacing parse


def port_table(settings: Settings) -> list[WorkerPorts]:
    """The ports of every worker of the run (the workers' own plan), checked for collisions."""
    bases = PortBases(appium=settings.worker.appium_port_base, system=settings.worker.system_port_base)
    return fleet_plan(range(settings.orchestrator.workers), 0, bases)


@dataclass(frozen=True)
class ConfigEntry:
    key: str  # "section.key"
    value: object
    source: str  # "default", "file", "env", "flag"


@dataclass(frozen=True)
class PortRow:
    worker: int
    appium: int
    system_ports: str
    mjpeg: int
    chromedriver: int
    log_file: str


@dataclass(frozen=True)
class AccountRow:
    """One account of the accounts list as the run uses it (empty cells filled from `[accounts]`)."""

    account: str
    app: str
    executor: str


@dataclass(frozen=True)
class ConfigView:
    config_file: str | None
    ports: tuple[PortRow, ...]
    entries: tuple[ConfigEntry, ...]
    secrets: dict[str, str]  # env var -> "set (***)" / "not set"
    flows: dict[str, str] = field(default_factory=dict)  # app -> the flow file its accounts post with
    accounts_file: str = ""
    accounts: tuple[AccountRow, ...] = ()


def mask(value: str) -> str:
    """A secret as the operator may see it: set or not, never its value."""
    return "set (***)" if value else "not set"


def _shown(settings: Settings, section: str, key: str, value: object) -> object:
    """A setting's value as `--show-config` prints it: a secret one only as set or not."""
    if f"{section}.{key}" in SECRET_SETTINGS:
        return mask(str(getattr(getattr(settings, section), key)))
    if (section, key) == ("queue", "url"):
        return redacted(settings.queue.url)
    return value


def config_view(loaded: LoadedSettings, env: Mapping[str, str]) -> ConfigView:
    """`--show-config` as data: port table, every setting with its source, secrets masked."""
    settings = loaded.settings
    logs = settings.paths.logs_dir
    ports = tuple(
        PortRow(
            worker=p.worker_id,
            appium=p.appium,
            system_ports=f"{p.system_port_first}-{p.system_port_last}",
            mjpeg=p.mjpeg,
            chromedriver=p.chromedriver,
            log_file=str(logs / f"worker_{p.worker_id}.log"),
        )
        for p in port_table(settings)
    )
    entries = tuple(
        ConfigEntry(
            f"{section}.{key}",
            _shown(settings, section, key, value),
            loaded.sources.get(f"{section}.{key}", "default"),
        )
        for section, table in settings_to_dict(settings).items()
        for key, value in table.items()
    )
    roster = load_accounts(settings)
    return ConfigView(
        config_file=str(loaded.config_file) if loaded.config_file else None,
        ports=ports,
        entries=entries,
        secrets={name: mask(env.get(name, "")) for name in SECRET_ENV},
        flows={app: str(path) for app, path in flow_files(settings).items()},
        accounts_file=str(roster.source or settings.paths.accounts_file),
        accounts=tuple(AccountRow(e.name, e.app, e.executor) for e in roster.entries),
    )
