"""The shell of `--status`: read the queue once, the run state, and (briefly) GeeLark; then build."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestrator.instance import recorded_run
from orchestrator.queue_access import open_store
from orchestrator.status import PhonesView, StatusReport, build_status
from runtime.settings import Settings
from runtime.state import RunDir


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
    snapshot = open_store(settings).snapshot()
    run = recorded_run(run_dir)
    heartbeats = run_dir.read_heartbeats() if run_dir.workers_dir.is_dir() else {}
    alive = {wid for wid, hb in heartbeats.items() if hb.process.is_alive()}
    ours = {j.account for j in snapshot.jobs if j.account} | set(run_dir.phones_left_running())
    return build_status(
        snapshot,
        now,
        daily_limit=settings.queue.daily_limit,
        timezone=settings.queue.timezone or None,
        progress_file=settings.paths.progress_file,
        logs_dir=settings.paths.logs_dir,
        heartbeats=heartbeats,
        alive_workers=alive,
        run=run,
        run_active=run is not None,
        phones=phones_probe(ours) if phones_probe is not None else None,
    )
