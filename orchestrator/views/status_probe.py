"""The shell of `--status`: read the queue once, the run state, and (briefly) GeeLark; then build."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from geelark.errors import GeeLarkError
from orchestrator.adapters.geelark_api import billed_minutes, client_settings, simulator_url_of, status_name
from orchestrator.adapters.queue_store import open_store
from orchestrator.views.status_report import PhoneLine, PhonesView, StatusReport, build_status
from runtime.settings import Settings
from runtime.state import RunDir, RunInfo
from worker.contract import load_accounts


def current_status(
    settings: Settings,
    now: datetime,
    phones_probe: Callable[[set[str]], PhonesView] | None = None,
) -> StatusReport:
    """The status of this working folder, with or without an active run. Never waits on GeeLark
    longer than the probe's own short timeout; raises the queue's errors (corrupt / busy file).

    `phones_probe(ours)` asks GeeLark; `ours` holds the project's account names and ledger phone ids.
    """
    run_dir = RunDir(settings.paths.runtime_dir)
    store = open_store(settings)
    snapshot = store.snapshot()
    run = run_dir.live_run()
    heartbeats = run_dir.read_heartbeats() if run_dir.workers_dir.is_dir() else {}
    alive = {wid for wid, hb in heartbeats.items() if hb.process.is_alive()}
    ours = {j.account for j in snapshot.jobs if j.account} | set(run_dir.phones_left_running())
    roster = load_accounts(settings)
    return build_status(
        snapshot,
        now,
        policy=store.policy,
        progress_file=settings.paths.progress_file,
        logs_dir=settings.paths.logs_dir,
        heartbeats=heartbeats,
        alive_workers=alive,
        run=run,
        run_active=run is not None,
        phones=phones_probe(ours) if phones_probe is not None else None,
        executors={e.name: e.executor for e in roster.entries},
        default_executor=settings.accounts.executor,
    )


def probe_phones(
    settings: Settings,
    run: RunInfo | None,
    ours: Collection[str],
    *,
    env: Mapping[str, str] | None = None,
) -> PhonesView:
    """Running phones and billed minutes for `--status`; never raises, never waits long.

    `ours`: phone ids from the ledger and account names of this project (marked in the list).
    """
    sim_url = simulator_url_of(run)
    if settings.simulate.enabled and not sim_url:
        return PhonesView(False, "simulate mode and no run active: the simulator only lives during a run")
    gl = client_settings(settings, env if env is not None else os.environ, simulator_url=sim_url, quick=True)
    try:
        gl.auth_mode  # noqa: B018 - raises when no credentials are configured
        from geelark.client import GeeLarkClient  # imported here: --status must start fast

        with GeeLarkClient(gl) as client:
            phones = [p for p in client.iter_phones() if p.status.is_up]
    except GeeLarkError as exc:
        return PhonesView(False, str(exc))
    running = tuple(
        PhoneLine(p.id, p.serial_name, status_name(p.status), None, p.id in ours or p.serial_name in ours)
        for p in phones
    )
    return PhonesView(True, "", running, billed_minutes(sim_url))
