"""Settings of a run: one TOML file, environment variables for secrets, command-line flags on top.

`load_settings` resolves them into a frozen `Settings` and remembers where each value came from
(for `--show-config`). The orchestrator hands the resolved settings to its workers as JSON
(`dump_settings` / `read_settings`); secrets never go into that file, workers read them from the
environment they inherit.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime.queue_url import EXAMPLE, is_database_url, redacted, without_password
from runtime.state import write_json_atomic

Source = Literal["default", "file", "env", "flag"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says what, where, and how to fix it."""


@dataclass(frozen=True)
class PathsSettings:
    progress_file: Path = Path("parallel_progress.csv")
    state_file: Path = Path("scheduler_state.json")
    accounts_file: Path = Path("accounts.csv")  # the accounts list; accounts.txt is read if it is absent
    logs_dir: Path = Path("logs")
    runtime_dir: Path = Path(".orchestrator")


@dataclass(frozen=True)
class AccountsSection:
    """Defaults for every account; a cell of the accounts list overrides them for its account."""

    app: Literal["instagram", "tiktok"] = "instagram"
    executor: Literal["appium", "geelark_task"] = "appium"
    timezone: str = ""  # IANA name; empty = the machine's local zone
    window: str = ""  # posting window "HH:MM-HH:MM" (may cross midnight); empty = any time
    daily_limit: int = 1  # posts per account per calendar day in its time zone
    min_spacing: str = "0"  # at least this long between two posts of one account: "3h", "90m", "0"


@dataclass(frozen=True)
class QueueSettings:
    daily_limit: int = 1  # deprecated: [accounts] daily_limit (read, with a warning)
    timezone: str = ""  # deprecated: [accounts] timezone (read, with a warning)
    max_attempts: int = 3
    backoff_base_s: float = 300.0
    backoff_cap_s: float = 3600.0
    backoff_factor: float = 2.0
    backoff_jitter: Literal["full", "decorrelated", "none"] = "full"
    infra_budget: int = 5
    infra_failures_before_cooldown: int = 3
    infra_cooldown_s: float = 1800.0
    claim_lease_s: float = 60.0  # deprecated: [orchestrator] heartbeat_timeout_s (read, with a warning)
    journal: bool = True  # every change also appended to parallel_progress.journal.jsonl
    url: str = ""  # a PostgreSQL URL: the queue is in that database (several PCs), not in the CSV
    host: str = ""  # this PC's name on a shared queue (default: the computer's name)


@dataclass(frozen=True)
class GeeLarkSection:
    base_url: str = "https://openapi.geelark.com"
    app_id: str = ""
    auth_mode: Literal["key", "token"] = "key"
    rate_limit_per_min: int = 200
    timeout_s: float = 30.0


@dataclass(frozen=True)
class WorkerSection:
    appium_port_base: int = 4723
    system_port_base: int = 8200
    appium_home: Path = Path("tools/appium")
    flow_file: Path | None = None  # None = the default flow shipped with the worker
    video_transfer: Literal["upload", "adb_push"] = "upload"
    adb_path: str = "adb"
    job_timeout_s: float = 900.0
    phone_boot_timeout_s: float = 180.0
    adb_timeout_s: float = 60.0
    heartbeat_interval_s: float = 2.0
    keep_phone_between_jobs: bool = True
    energy_saving: bool = True  # start phones with GeeLark's energySavingMode: idle 30 min -> stopped
    transfer_timeout_s: float = 300.0  # the video's way to the phone (GeeLark upload or adb push)
    session_tries: int = 3  # Appium session starts in place before the attempt fails (no new boot)
    appium_caps: str = ""  # JSON object of extra Appium capabilities for real runs, e.g. '{"appium:x": 1}'


@dataclass(frozen=True)
class OrchestratorSection:
    workers: int = 3
    grace_period_s: float = 60.0
    progress_interval_s: float = 2.0
    follow: bool = False
    max_worker_restarts: int = 5
    restart_backoff_s: float = 2.0
    start_stagger_s: float = 0.5
    heartbeat_timeout_s: float = 60.0  # a live worker silent this long is hung: killed and restarted
    phone_stop_timeout_s: float = 120.0  # how long to wait for each stopped phone to report "shut down"
    simulator_url: str = ""  # --simulate: use this running GeeLark simulator instead of starting one


@dataclass(frozen=True)
class SimulateSection:
    enabled: bool = False
    time_scale: float = 0.02
    faults: str = "none"  # a dry run answers "does my folder work?"; "realistic" or "demo" add trouble
    clock: Literal["real", "simulated"] = "real"  # queue times: a dry run's run on a simulated clock
    seed: int = 0
    phones: str = ""  # comma-separated names; empty = one phone per account of the run


@dataclass(frozen=True)
class DashboardSection:
    enabled: bool = False  # serve the web dashboard during --run
    host: str = "127.0.0.1"  # anything but loopback needs a token
    port: int = 8765  # 0 = any free port (the URL is printed)
    token: str = ""  # secret: allows the dashboard's actions (requeue, unblock, stop-all)


@dataclass(frozen=True)
class Settings:
    paths: PathsSettings = field(default_factory=PathsSettings)
    accounts: AccountsSection = field(default_factory=AccountsSection)
    queue: QueueSettings = field(default_factory=QueueSettings)
    geelark: GeeLarkSection = field(default_factory=GeeLarkSection)
    worker: WorkerSection = field(default_factory=WorkerSection)
    orchestrator: OrchestratorSection = field(default_factory=OrchestratorSection)
    simulate: SimulateSection = field(default_factory=SimulateSection)
    dashboard: DashboardSection = field(default_factory=DashboardSection)


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    sources: dict[str, Source]
    config_file: Path | None
    warnings: tuple[str, ...] = ()  # deprecated keys read, and where their value went


# Old keys still read: their value moves to the new key, and the operator is told.
DEPRECATED = {
    "queue.daily_limit": "accounts.daily_limit",
    "queue.timezone": "accounts.timezone",
    "queue.claim_lease_s": "orchestrator.heartbeat_timeout_s",  # one rule: silent this long = gone
}
INF = float("inf")
# (setting, lowest, highest, why): values outside cannot work, and are refused when the file is read.
RANGES: tuple[tuple[str, float, float, str], ...] = (
    ("accounts.daily_limit", 1, INF, " (to pause an account, block it: its jobs wait)"),
    ("orchestrator.workers", 1, 64, ""),
    ("orchestrator.heartbeat_timeout_s", 5, INF, ""),
    ("orchestrator.progress_interval_s", 0.1, INF, ""),
    ("orchestrator.phone_stop_timeout_s", 1, INF, ""),
    ("orchestrator.start_stagger_s", 0, 60, ""),
    ("queue.max_attempts", 1, 100, ""),
    ("queue.backoff_factor", 1, 10, ""),
    ("queue.infra_budget", 1, 100, ""),
    ("queue.infra_failures_before_cooldown", 1, 100, ""),
    ("geelark.rate_limit_per_min", 1, 10_000, ""),
    ("geelark.timeout_s", 1, 600, ""),
    ("worker.appium_port_base", 1024, 65000, ""),
    ("worker.system_port_base", 1024, 65000, ""),
    ("worker.job_timeout_s", 30, INF, ""),
    ("worker.phone_boot_timeout_s", 10, INF, ""),
    ("worker.adb_timeout_s", 5, INF, ""),
    ("worker.heartbeat_interval_s", 0.05, 60, ""),
    ("worker.transfer_timeout_s", 10, INF, ""),
    ("dashboard.port", 0, 65535, " (0: any free port)"),
    ("worker.session_tries", 1, 10, ""),
    ("simulate.time_scale", 0.0001, 1, " (simulated seconds per real second: 0.02 runs 50x faster)"),
)


# Environment variables that set a setting (secrets are not settings: see SECRET_ENV).
ENV_SETTINGS = {
    "GEELARK_BASE_URL": "geelark.base_url",
    "GEELARK_APP_ID": "geelark.app_id",
    "PARALLEL_ORCHESTRATOR_QUEUE_URL": "queue.url",
}
SECRET_ENV = ("GEELARK_API_KEY", "GEELARK_TOKEN")
# Settings that are secrets: never handed to workers, shown masked (`--show-config`).
SECRET_SETTINGS = frozenset({"dashboard.token"})
WINDOWS_PATH_HINT = (
    "a Windows path in a TOML string: write it in single quotes, e.g. adb_path = 'C:\\Android\\adb.exe'"
    ' (inside "..." a backslash starts an escape)'
)


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings)}


def _convert(value: object, annotation: Any, where: str) -> object:
    """Convert a TOML/env/flag value to the field's type, or raise ConfigError naming `where`."""
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (types.UnionType, typing.Union):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if value is None or value == "":
            return None
        return _convert(value, options[0], where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = annotation(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}") from None
        if number < 0:
            raise ConfigError(f"{where}: must not be negative, got {value!r}")
        return number
    if annotation is Path:
        if not isinstance(value, str | Path) or str(value) == "":
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(_no_control_characters(str(value), where))
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return _no_control_characters(value, where)
    raise ConfigError(f"{where}: unsupported setting type {annotation!r}")


def _no_control_characters(value: str, where: str) -> str:
    """No setting holds a tab or a line break: one there came from a backslash escape ("C:\\new")."""
    if any(ord(c) < 32 for c in value):
        raise ConfigError(f"{where}: {value!r} contains a control character; {WINDOWS_PATH_HINT}")
    return value


def _apply(
    settings: Settings, dotted: str, value: object, where: str, sources: dict[str, Source], source: Source
) -> Settings:
    section_name, _, key = dotted.partition(".")
    section_types = _section_types()
    if section_name not in section_types:
        raise ConfigError(f"{where}: unknown section [{section_name}]; known: {', '.join(section_types)}")
    section_cls = section_types[section_name]
    hints = typing.get_type_hints(section_cls)
    if key not in hints:
        known = ", ".join(hints)
        raise ConfigError(f"{where}: unknown key {key!r} in [{section_name}]; known keys: {known}")
    converted = _convert(value, hints[key], where)
    section = replace(getattr(settings, section_name), **{key: converted})
    sources[dotted] = source
    return replace(settings, **{section_name: section})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it or drop --config") from None
    except tomllib.TOMLDecodeError as exc:
        hint = f"; {WINDOWS_PATH_HINT}" if _backslash_trouble(str(exc)) else ""
        raise ConfigError(f"config file {path} is not valid TOML: {exc}{hint}") from None


def _backslash_trouble(message: str) -> bool:
    """The TOML parser's words for a bad backslash escape in a "..." string."""
    return any(word in message for word in ("Unescaped '\\'", "escape", "hex value"))


def load_settings(
    config_file: Path | None,
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Defaults, then the TOML file, then environment, then flags (`{"orchestrator.workers": 3}`)."""
    settings = Settings()
    sources: dict[str, Source] = {}
    if config_file is not None:
        data = _read_toml(config_file)
        for section_name, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(
                    f"{config_file}: top-level key {section_name!r} must be a [section]; "
                    f"known sections: {', '.join(_section_types())}"
                )
            for key, value in table.items():
                where = f"{config_file}: [{section_name}] {key}"
                settings = _apply(settings, f"{section_name}.{key}", value, where, sources, "file")
    for var, dotted in ENV_SETTINGS.items():
        if env and env.get(var):
            settings = _apply(settings, dotted, env[var], f"environment variable {var}", sources, "env")
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        settings = _apply(settings, dotted, value, f"option for {dotted}", sources, "flag")
    settings, warnings = _move_deprecated(settings, sources, str(config_file) if config_file else "settings")
    validate(settings, str(config_file) if config_file else "settings")
    return LoadedSettings(settings, sources, config_file, tuple(warnings))


def _move_deprecated(
    settings: Settings, sources: dict[str, Source], where: str
) -> tuple[Settings, list[str]]:
    """Move each deprecated key that was set to its new home; refuse if both were set differently."""
    warnings = []
    for old, new in DEPRECATED.items():
        if old not in sources:
            continue
        old_value, new_value = _get(settings, old), _get(settings, new)
        if new in sources and new_value != old_value:
            raise ConfigError(
                f"{where}: [{old.replace('.', '] ')} = {old_value!r} and [{new.replace('.', '] ')} = "
                f"{new_value!r} disagree; keep only [{new.replace('.', '] ')}"
            )
        if new not in sources:
            settings = _apply(settings, new, old_value, where, sources, sources[old])
        warnings.append(
            f"{where}: [{old.replace('.', '] ')} is deprecated: its value {old_value!r} is now the default"
            f" [{new.replace('.', '] ')} of every account (rename the key)"
        )
    return settings, warnings


def _get(settings: Settings, dotted: str) -> object:
    section, _, key = dotted.partition(".")
    return getattr(getattr(settings, section), key)


INSTALL_ROOT = Path(__file__).resolve().parents[1]


def install_path(path: Path) -> Path:
    """A tool path from the settings: relative ones (`tools/appium`) are inside this installation,
    not the working folder the operator runs in."""
    return path if path.is_absolute() else INSTALL_ROOT / path


def appium_caps(settings: Settings) -> dict[str, Any]:
    """`[worker] appium_caps` as a dict (validated when the settings were read)."""
    text = settings.worker.appium_caps.strip()
    return dict(json.loads(text)) if text else {}


def validate(settings: Settings, where: str) -> None:
    """Cross-field checks that a single field's type cannot express."""
    if settings.worker.appium_caps.strip():
        try:
            caps = json.loads(settings.worker.appium_caps)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{where}: [worker] appium_caps is not valid JSON ({exc.msg}); write a JSON object in single "
                """quotes, e.g. appium_caps = '{"appium:skipDeviceInitialization": true}'"""
            ) from None
        if not isinstance(caps, dict):
            raise ConfigError(f"{where}: [worker] appium_caps must be a JSON object of capabilities")
    if settings.accounts.timezone:
        try:
            ZoneInfo(settings.accounts.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{where}: [accounts] timezone {settings.accounts.timezone!r} is not a known IANA time zone "
                "(examples: Europe/Berlin, America/New_York; leave empty for the machine's zone)"
            ) from None
    url = settings.queue.url.strip()
    if url and not is_database_url(url):
        raise ConfigError(
            f"{where}: [queue] url = {redacted(url)!r} is not a PostgreSQL URL: write it as {EXAMPLE!r}"
            " (or leave it empty: the queue is then the progress CSV of this folder)"
        )
    for dotted, low, high, hint in RANGES:
        value = _get(settings, dotted)
        if isinstance(value, int | float) and not low <= value <= high:
            section, _, key = dotted.partition(".")
            span = f"at least {low:g}" if high == INF else f"between {low:g} and {high:g}"
            raise ConfigError(f"{where}: [{section}] {key} = {value!r} cannot work: it must be {span}{hint}")
    if settings.orchestrator.heartbeat_timeout_s < 3 * settings.worker.heartbeat_interval_s:
        timeout, beat = settings.orchestrator.heartbeat_timeout_s, settings.worker.heartbeat_interval_s
        raise ConfigError(
            f"{where}: [orchestrator] heartbeat_timeout_s = {timeout!r} cannot work with [worker]"
            f" heartbeat_interval_s = {beat!r}: a live worker would be killed between two beats;"
            " make it at least 3 beats long"
        )


def settings_to_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """Plain JSON-able data (paths as strings); secret settings (`SECRET_SETTINGS`) are left empty."""
    out: dict[str, dict[str, Any]] = {}
    for f in fields(settings):
        section = dataclasses.asdict(getattr(settings, f.name))
        out[f.name] = {
            k: "" if f"{f.name}.{k}" in SECRET_SETTINGS else (str(v) if isinstance(v, Path) else v)
            for k, v in section.items()
        }
    out["queue"]["url"] = without_password(settings.queue.url)[0]  # workers get it in PGPASSWORD
    return out


def dump_settings(settings: Settings, path: Path) -> None:
    write_json_atomic(path, settings_to_dict(settings))


def read_settings(path: Path) -> Settings:
    """Settings from a file written by `dump_settings` (the orchestrator's hand-off to workers)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid JSON: {exc}") from None
    settings = Settings()
    sources: dict[str, Source] = {}
    for section_name, table in data.items():
        for key, value in table.items():
            where = f"{path}: {section_name}.{key}"
            settings = _apply(settings, f"{section_name}.{key}", value, where, sources, "file")
    return settings


def queue_host(settings: Settings) -> str:
    """This PC's name on a shared (PostgreSQL) queue: ``[queue] host``, else the computer's name."""
    return settings.queue.host.strip() or platform.node() or "this-pc"
