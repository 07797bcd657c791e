"""Everything one worker needs to know, resolved once at start from settings, flags and env.

Sources: `--settings FILE` (the JSON the orchestrator hands over), or `--config FILE` (TOML, when a
worker is run alone), plus `--simulate`; secrets only from the environment (GEELARK_TOKEN or
GEELARK_APP_ID + GEELARK_API_KEY). In simulate mode the GeeLark URL is the simulator's, read from
the run's `run.json` when the orchestrator started one, else `geelark.base_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from geelark.settings import GeeLarkSettings
from jobqueue import QueuePolicy
from jobqueue.roster import AccountEntry, Roster
from runtime.clock import RunClock
from runtime.platform import ProcessRef
from runtime.settings import Settings
from runtime.state import RunDir
from worker.contract import (
    PortBases,
    WorkerPorts,
    account_entry,
    load_accounts,
    port_plan,
    queue_policy,
)

REAL_POLL_S = 2.0
MIN_POLL_S = 0.05


@dataclass(frozen=True)
class WorkerConfig:
    """One worker's resolved configuration (no secrets except inside `geelark`, which hides them)."""

    worker_id: int
    ports: WorkerPorts
    simulate: bool
    settings: Settings
    geelark: GeeLarkSettings
    policy: QueuePolicy
    parent: ProcessRef | None
    poll_s: float  # GeeLark status/ADB/upload polling interval
    time_scale: float  # simulated seconds -> real seconds (1.0 for real phones)
    clock: RunClock  # queue time: real, or a dry run's simulated clock
    roster: Roster  # the accounts list: each account's app and executor

    def account(self, name: str) -> AccountEntry:
        """The account's app and executor (its row of the accounts list, else the defaults)."""
        return account_entry(self.settings, self.roster, name)

    def app_of(self, account: str) -> str:
        return self.account(account).app

    def now(self) -> datetime:
        """The queue's "now" (claims, records, the phones ledger)."""
        return self.clock.now()

    @property
    def logs_dir(self) -> Path:
        return self.settings.paths.logs_dir

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.settings.paths.runtime_dir)

    @property
    def worker_log(self) -> Path:
        return self.logs_dir / f"worker_{self.worker_id}.log"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / f"appium_{self.worker_id}.log"

    def scaled(self, seconds: float) -> float:
        """A GeeLark-side duration (boot, ADB, upload) in real seconds."""
        return seconds * self.time_scale if self.simulate else seconds


def build_config(
    worker_id: int, settings: Settings, *, env: Mapping[str, str], simulate: bool, parent_pid: int | None
) -> WorkerConfig:
    """Resolve a worker's configuration. Raises PortPlanError or geelark ConfigError."""
    simulate = simulate or settings.simulate.enabled
    bases = PortBases(appium=settings.worker.appium_port_base, system=settings.worker.system_port_base)
    scale = settings.simulate.time_scale if simulate else 1.0
    base_url = settings.geelark.base_url
    if simulate:
        run = RunDir(settings.paths.runtime_dir).read_run()
        base_url = (run.simulator_url if run and run.simulator_url else None) or base_url
    overrides: dict[str, object] = {
        "app_id": env.get("GEELARK_APP_ID") or settings.geelark.app_id,
        "base_url": base_url,
        "read_timeout_s": settings.geelark.timeout_s,
        "rate_limit_per_minute": settings.geelark.rate_limit_per_min,
    }
    if not env.get("GEELARK_RATE_LIMIT_DIR"):
        # One request budget for every worker of the run, so N workers cannot trip 40007 together.
        overrides["rate_limit_dir"] = RunDir(settings.paths.runtime_dir).geelark_budget_dir
    geelark = GeeLarkSettings.from_env(env, **overrides)
    if simulate:
        geelark = geelark.time_scaled(scale, MIN_POLL_S)
    parent = ProcessRef.of(parent_pid) if parent_pid else None
    roster = load_accounts(settings)
    return WorkerConfig(
        worker_id=worker_id,
        ports=port_plan(worker_id, 0, bases),
        simulate=simulate,
        settings=settings,
        geelark=geelark,
        policy=queue_policy(settings, roster),
        parent=parent,
        poll_s=max(MIN_POLL_S, REAL_POLL_S * scale),
        time_scale=scale,
        clock=RunClock(settings.paths.runtime_dir),
        roster=roster,
    )
