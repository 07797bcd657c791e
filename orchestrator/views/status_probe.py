"""The shell of `--status`: read the queue once, the run state, and (briefly) GeeLark; then build."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from geelark.errors import GeeLarkError
from geelark.ratelimit import recent_requests
from jobqueue import CsvJobStore, JobStore
from jobqueue.edits import read_edits
from orchestrator.adapters.geelark_api import (
    SimulatorMeter,
    billed_minutes,
    client_settings,
    simulator_url_of,
    status_name,
)
from orchestrator.adapters.queue_store import open_store, queue_label
from orchestrator.views.fleet_view import ALIVE_SUPERVISION, FleetView, RunTick, fleet_view
from orchestrator.views.phone_use import PhoneUse, ledger_minutes
from orchestrator.views.status_report import HostStatus, PhoneLine, PhonesView, StatusReport, build_status
from orchestrator.views.usage import GeeLarkUse
from runtime.settings import Settings, queue_host
from runtime.state import RunDir, RunInfo
from worker.contract import load_accounts

RECENT_EDITS = 10
STATUS_DIGEST = "status-digest.bin"  # in the runtime folder: the queue's digest for one-shot --status


def current_status(
    settings: Settings,
    now: datetime,
    phones_probe: Callable[[set[str]], PhonesView] | None = None,
    *,
    meter: Callable[[str | None], SimulatorMeter | None] | None = None,
    store: JobStore | None = None,
) -> StatusReport:
    """The status of this working folder, with or without an active run. Never waits on GeeLark
    longer than the probe's own short timeout; raises the queue's errors (corrupt / busy file).

    `phones_probe(ours)` asks GeeLark; `ours` holds the project's account names and ledger phone ids.
    `meter(simulator_url)`: the billed minutes of a simulated run without asking for its phones.
    `store`: one kept between refreshes (`--status --watch`, the dashboard) re-reads only the rows
    that changed since its last read.
    """
    run_dir = RunDir(settings.paths.runtime_dir)
    run = run_dir.live_run()
    started = time.perf_counter()
    kept = store is not None
    store = store or open_store(settings)
    if not kept and isinstance(store, CsvJobStore):  # a one-shot --status: from the queue's digest
        digest_file = run_dir.root / STATUS_DIGEST
        snapshot = store.view_snapshot(digest_file, now, run.started_at if run is not None else None)
    else:
        snapshot = store.snapshot()
    read_s = time.perf_counter() - started
    heartbeats = run_dir.read_heartbeats() if run_dir.workers_dir.is_dir() else {}
    alive = {wid for wid, hb in heartbeats.items() if hb.process.is_alive()}
    ours = {j.account for j in snapshot.jobs if j.account} | set(run_dir.phones_left_running())
    phones = phones_probe(ours) if phones_probe is not None else None
    sim = meter(simulator_url_of(run)) if meter is not None and simulator_url_of(run) else None
    simulator_billed = phones.billed_minutes if phones is not None else None
    if simulator_billed is None and sim is not None:
        simulator_billed = sim.billed_minutes
    roster = load_accounts(settings)
    return build_status(
        snapshot,
        now,
        policy=store.policy,
        progress_file=queue_label(settings),
        logs_dir=settings.paths.logs_dir,
        heartbeats=heartbeats,
        alive_workers=alive,
        run=run,
        run_active=run is not None,
        phone_starts=run_dir.phone_starts_since(run.started_at) if run is not None else (0, 0),
        outside_edits=read_edits(settings.paths.progress_file)[:RECENT_EDITS],
        phones=phones,
        phone_use=phone_use(run_dir, run.started_at if run else None, now, simulator_billed),
        geelark=geelark_use(settings, run_dir, sim),
        queue_read_s=read_s,
        executors={e.name: e.executor for e in roster.entries},
        default_executor=settings.accounts.executor,
        hosts=hosts_status(store, settings.orchestrator.heartbeat_timeout_s),
        host=queue_host(settings),
    )


def hosts_status(store: JobStore, lease_s: float) -> tuple[HostStatus, ...]:
    """Every PC on a shared PostgreSQL queue (none for a CSV queue)."""
    from jobqueue.pgstore import PostgresJobStore

    if not isinstance(store, PostgresJobStore):
        return ()
    return tuple(HostStatus(h.host, h.folder, h.pid, h.seen_s, h.seen_s > lease_s) for h in store.hosts())


def geelark_use(settings: Settings, run_dir: RunDir, sim: SimulatorMeter | None) -> GeeLarkUse:
    """Requests in the last minute from the workers' shared budget, and the simulator's counters."""
    return GeeLarkUse(
        requests_last_minute=recent_requests(run_dir.geelark_budget_dir, time.time()),
        rate_limit_per_min=settings.geelark.rate_limit_per_min,
        simulator_calls=sim.calls if sim is not None else None,
        simulator_rate_limited=sim.rate_limited if sim is not None else None,
    )


def phone_use(
    run_dir: RunDir, started_at: datetime | None, now: datetime, simulator_billed: float | None
) -> PhoneUse:
    """Phones our ledger says run, and the minutes billed since the run started: the simulator's meter
    when there is one, else the ledger's estimate (no run: only the count)."""
    running = len(run_dir.phones_left_running())
    if simulator_billed is not None:
        return PhoneUse(running, simulator_billed, simulated=True, source="simulator")
    if started_at is None:
        return PhoneUse(running)
    minutes = ledger_minutes(run_dir.phone_events(), since=started_at, now=now)
    return PhoneUse(running, minutes, source="ledger")


def run_fleet(settings: Settings, tick: RunTick, simulator_billed: float | None) -> FleetView:
    """The fleet view of the run in this process: its own tick, the workers' heartbeats, the ledger."""
    run_dir = RunDir(settings.paths.runtime_dir)
    heartbeats = run_dir.read_heartbeats() if run_dir.workers_dir.is_dir() else {}
    return fleet_view(
        tick.snapshot,
        now=tick.now,
        policy=tick.policy,
        started_at=tick.started_at,
        heartbeats=heartbeats,
        alive={w.worker_id for w in tick.workers if w.state in ALIVE_SUPERVISION},
        supervised={w.worker_id: w for w in tick.workers},
        phones=phone_use(run_dir, tick.started_at, tick.now, simulator_billed),
        simulate=tick.simulate,
        follow=tick.follow,
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
