"""`--run`: prepare (lock, recover, seed, simulator), supervise the workers, then shut down and report.

The loop wakes every half second: it reaps exits, kills stuck workers, recovers orphaned claims,
starts workers while there is work for them (staggered by `start_stagger_s`), prints a progress
line, and ends when nothing is due, claimed or coming due today (never, with `--follow`), or when
a stop is asked (Ctrl+C, `--stop-all`). Everything it starts is recorded before it is relied on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jobqueue.csvstore import CsvJobStore
from jobqueue.errors import FileBusy, LockTimeout
from jobqueue.model import QueueSnapshot
from jobqueue.outlook import work_outlook
from orchestrator.adapters.queue_store import open_store
from orchestrator.config import port_table
from orchestrator.errors import PreflightFailed
from orchestrator.run import supervision as sv
from orchestrator.run.cloud import OutageWatch, geelark_down
from orchestrator.run.context import Run, RunObserver, StopSignals, now_local
from orchestrator.run.fleet import Fleet, Spawner, WorkerLaunch
from orchestrator.run.instance import RunLock
from orchestrator.run.preflight import DISK_CHECK_EVERY_S, check_ports, is_disk_full, low_disk
from orchestrator.run.recovery import (
    forget_vanished_phones,
    recover_claims,
    stop_phones,
    stop_recorded_processes,
)
from orchestrator.run.seeding import seed_from_state
from orchestrator.run.simulation import start_simulator, stop_simulator
from orchestrator.run.stuck import find_stuck, observe
from orchestrator.views.fleet_view import RunTick, SupervisedWorker
from orchestrator.views.progress import (
    nothing_to_do_text,
    progress_key,
    progress_line,
    progress_line_due,
    progress_view,
)
from orchestrator.views.report import RunEnd
from runtime.outage import OutageRecord
from runtime.platform import ProcessRef, kill_tree
from runtime.settings import Settings, dump_settings
from runtime.state import Heartbeat, RunDir, RunInfo

log = logging.getLogger(__name__)
TICK_S = 0.5
MAX_SPAWNS_PER_TICK = 64
BUSY_WARNING_EVERY_S = 30.0
FOLLOW_SEED_EVERY_S = 30.0
# The supervision loop never waits long on the queue lock: a frozen lock holder (a worker stopped
# in the debugger, a hung tool) must not keep it from killing stuck workers. It tries again next tick.
LOOP_LOCK_TIMEOUT_S = 0.5


def prepare(run: Run) -> None:
    """Recover what a previous run left, seed, start the simulator, record the run."""
    run.run_dir.ensure()
    previous = run.run_dir.read_run()
    killed = stop_recorded_processes(run.run_dir, grace_s=min(10.0, run.settings.orchestrator.grace_period_s))
    for name in killed:
        run.say(f"Recovery: killed {name} left by a previous run")
    if previous is not None and previous.simulate:
        _recover_simulation(run, previous)
    elif not run.settings.simulate.enabled:
        _stop_ledger_phones(run, "Recovery")
    for line in recover_claims(run.store, set(), now_local()):
        run.say(f"Recovery: {line}")
    preflight(run)
    record_run(run)  # before anything is started, so a crash from here on is recoverable
    run.run_dir.clear_stops()
    OutageRecord(run.run_dir).clear()  # an outage a previous run saw is found again if it lasts
    seed(run, quiet=False)
    snapshot = run.store.snapshot()
    outlook = work_outlook(snapshot, now_local(), run.store.policy)
    if outlook.finished() and not run.settings.orchestrator.follow:
        run.say(nothing_to_do_text(progress_view(snapshot, now_local(), policy=run.store.policy)))
        return
    if run.settings.simulate.enabled:
        _start_simulation(run)
        record_run(run)
    dump_settings(run.worker_settings(), run.run_dir.settings_file)


def preflight(run: Run) -> None:
    """Refuse to start (PreflightFailed) when a worker's port is taken or the disk is nearly full."""
    check_ports(port_table(run.settings))
    short = low_disk(run_paths(run))
    if short is not None:
        raise PreflightFailed(f"{short}. Free some space, then run again.")


def run_paths(run: Run) -> list[Path]:
    """The folders the run writes to (the queue, logs, run state)."""
    paths = run.settings.paths
    return [paths.progress_file.parent, paths.logs_dir, paths.runtime_dir]


def record_run(run: Run) -> None:
    """run.json: who we are and what we started that outlives no one (the simulator)."""
    run.run_dir.write_run(
        RunInfo(
            process=ProcessRef.current(),
            started_at=run.started_at,
            workers=run.settings.orchestrator.workers,
            simulate=run.settings.simulate.enabled,
            simulator=run.simulator.ref if run.simulator else None,
            simulator_url=run.simulator_url,
        )
    )


def seed(run: Run, *, quiet: bool, store: CsvJobStore | None = None) -> None:
    """Seed from scheduler_state.json (idempotent); `quiet`: say something only if jobs were added."""
    seeded = seed_from_state(run.settings.paths.state_file, store or run.store)
    if seeded.state_file_found and (seeded.added or not quiet):
        run.say(
            f"Seeded from {seeded.state_file}: {seeded.added} new job(s),"
            f" {seeded.already_present} already queued"
        )


def _recover_simulation(run: Run, previous: RunInfo) -> None:
    """Phones of a previous simulated run: stop them if its simulator still runs, else forget them."""
    own = previous.simulator
    if previous.simulator_url and (own is None or own.is_alive()):  # None: an external simulator
        run.simulator_url = previous.simulator_url
        _stop_ledger_phones(run, "Recovery")
        run.simulator_url = None
    else:
        for name in forget_vanished_phones(run.run_dir, now_local()):
            run.say(f"Recovery: phone {name} vanished with the previous run's simulator")
    if own is not None and own.is_alive():
        stop_simulator(own)
        run.say(f"Recovery: stopped the simulator of the previous run (pid {own.pid})")


def _start_simulation(run: Run) -> None:
    external = run.settings.orchestrator.simulator_url
    if external:
        run.simulator_url = external.rstrip("/")
        run.say(f"Simulate: using the GeeLark simulator at {run.simulator_url}")
        return
    accounts = sorted({j.account for j in run.store.snapshot().jobs if j.account})
    log_file = run.settings.paths.logs_dir / "simulator.log"
    run.simulator = start_simulator(run.settings, accounts, run_root=run.run_dir.root, log_file=log_file)
    run.simulator_url = run.simulator.url
    run.say(f"Simulate: GeeLark simulator at {run.simulator_url} with {len(accounts)} phone(s)")


def _stop_ledger_phones(run: Run, label: str, worker_id: int | None = None) -> None:
    left = run.run_dir.phones_left_running()
    if not any(worker_id is None or rec.worker_id == worker_id for rec in left.values()):
        return
    timeout_s = run.settings.orchestrator.phone_stop_timeout_s
    sleep = run.stoppable(stop_at=1)  # a Ctrl+C during a wait for GeeLark stops the run at once
    api = run.phone_api(sleep)
    cleanup = stop_phones(
        api,
        run_dir=run.run_dir,
        project_accounts=(),
        all_phones=False,
        deadline_s=timeout_s,
        now=now_local,
        only_worker=worker_id,
        sleep=sleep,
    )
    for r in cleanup.results:
        state = "stopped" if r.stopped else f"NOT CONFIRMED ({r.final_status_name} {r.error})"
        run.say(f"{label}: phone {r.serial_name} ({r.phone_id}) {state}")
    if cleanup.error:
        run.say(f"{label}: could not stop recorded phones: {cleanup.error}")


def make_fleet(run: Run, spawner: Spawner | None = None) -> Fleet:
    o = run.settings.orchestrator
    policy = sv.RestartPolicy(
        start_secs=min(3.0, o.heartbeat_timeout_s),
        max_crashes=max(1, o.max_worker_restarts),
        backoff_base_s=o.restart_backoff_s,
    )
    launch = spawner or WorkerLaunch(
        settings_file=run.run_dir.settings_file.resolve(),
        logs_dir=run.settings.paths.logs_dir,
        cwd=run.cwd,
        env=run.worker_env(),
        parent_pid=os.getpid(),
    )
    return Fleet(o.workers, launch, policy)


def supervise(run: Run, fleet: Fleet) -> RunEnd:
    """The loop; returns how the run ended: completed, interrupted, stopped or workers_fatal."""
    loop = LoopState()
    while True:
        if run.stop.count:
            return RunEnd.INTERRUPTED
        if run.run_dir.stop_all_file.exists():
            return RunEnd.STOPPED
        try:
            ended = tick(run, fleet, loop)
        except (FileBusy, LockTimeout) as exc:
            ended = None
            if run.clock() >= loop.next_busy_warning:
                run.say(f"WARNING: {exc} (the run goes on and retries)")
                loop.next_busy_warning = run.clock() + BUSY_WARNING_EVERY_S
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            ended = disk_full(run, str(exc))
        if ended is not None:
            return ended
        time.sleep(TICK_S)


def disk_full(run: Run, why: str) -> RunEnd:
    run.say(
        f"DISK FULL: {why}. Stopping everything this run started; free some space, then run again"
        " (the queue is kept and the next run recovers where this one stopped)."
    )
    return RunEnd.DISK_FULL


@dataclass
class LoopState:
    outage: OutageWatch = field(default_factory=OutageWatch)
    next_disk_check: float = 0.0
    last_spawn: float = -1e9
    last_line: str = ""
    last_key: object = None
    line_said_at: float = -1e9
    next_busy_warning: float = 0.0
    recover_pending: bool = False


def tick(run: Run, fleet: Fleet, loop: LoopState) -> RunEnd | None:
    """One round of supervision; returns how the run ended, or None to go on."""
    o = run.settings.orchestrator
    mono, now = run.clock(), now_local()
    loop.recover_pending |= watch_workers(run, fleet, mono)  # first, and without the queue lock
    if mono >= loop.next_disk_check:
        loop.next_disk_check = mono + DISK_CHECK_EVERY_S
        short = low_disk(run_paths(run))
        if short is not None:
            return disk_full(run, short)
    if loop.recover_pending:
        for line in recover_claims(run.loop_store, fleet.alive_pids(), now):
            run.say(f"Recovered {line}")
        loop.recover_pending = False
    if run.stop.count or run.run_dir.stop_all_file.exists():
        return None  # a stop came in during the clean-up: start nothing more, the loop stops the run
    mono, now = run.clock(), now_local()  # the clean-up above may have taken a while
    if o.follow and mono >= run.next_seed_at:
        seed(run, quiet=True, store=run.loop_store)  # --follow picks up what posting-scheduler adds meanwhile
        run.next_seed_at = mono + FOLLOW_SEED_EVERY_S
    snapshot = run.loop_store.snapshot()
    outlook = work_outlook(snapshot, now, run.store.policy)
    if fleet.given_up() and not outlook.finished():
        return RunEnd.WORKERS_FATAL
    if outlook.finished() and fleet.all_down() and not o.follow:
        return RunEnd.COMPLETED
    if geelark_down(run, loop.outage, mono):
        return None  # workers wait for GeeLark; starting more of them would not help
    for _ in range(spawns_due(mono - loop.last_spawn, o.start_stagger_s)):
        spawned = fleet.spawn_one(outlook.claimed + len(outlook.due_accounts), mono)
        if spawned is None:
            break
        loop.last_spawn = mono
        run.say(spawned.message)
    view = progress_view(snapshot, now, policy=run.store.policy, started_at=run.started_at)
    line = progress_line(view)
    since_s = mono - loop.line_said_at
    if progress_line_due(
        view, line=line, last_key=loop.last_key, last_line=loop.last_line, since_last_s=since_s,
        interval_s=o.progress_interval_s,
    ):  # fmt: skip
        run.observer.progress(line)
        log.info("%s", line)
        loop.last_line, loop.last_key, loop.line_said_at = line, progress_key(view), mono
    run.observer.tick(run_tick(run, fleet, snapshot, now))
    return None


def run_tick(run: Run, fleet: Fleet, snapshot: QueueSnapshot, now: datetime) -> RunTick:
    """What the observer gets every tick: the loop's snapshot and the workers' supervision states."""
    mono = run.clock()
    return RunTick(
        now=now,
        started_at=run.started_at,
        snapshot=snapshot,
        policy=run.store.policy,
        workers=tuple(
            SupervisedWorker(
                s.worker_id, s.state.value, s.reason, None if s.restart_at is None else s.restart_at - mono
            )
            for s in fleet.slots.values()
        ),
        simulate=run.settings.simulate.enabled,
        simulator_url=run.simulator_url,
        follow=run.settings.orchestrator.follow,
    )


def spawns_due(since_last_s: float, stagger_s: float) -> int:
    """How many workers one tick may start: one per `stagger_s` of a tick, at least one when due."""
    if since_last_s < stagger_s:
        return 0
    return max(1, int(TICK_S / stagger_s)) if stagger_s > 0 else MAX_SPAWNS_PER_TICK


def watch_workers(run: Run, fleet: Fleet, mono: float) -> bool:
    """Reap exits and kill stuck workers; True if a worker ended (its claims need recovering)."""
    events = fleet.reap(mono)
    heartbeats = run.run_dir.read_heartbeats()
    for event in events:
        run.say(event.message)
        run.watches.pop(event.worker_id, None)
        clean_up_after_worker(run, event.worker_id, event.pid, heartbeats.pop(event.worker_id, None))
    run.watches = {
        wid: observe(run.watches.get(wid), ref.pid, heartbeats.get(wid), mono)
        for wid, ref in fleet.refs().items()
    }
    stuck = find_stuck(
        run.watches,
        heartbeats,
        mono,
        job_timeout_s=run.settings.worker.job_timeout_s,
        heartbeat_timeout_s=run.settings.orchestrator.heartbeat_timeout_s,
    )
    for wid, reason in stuck.items():
        run.say(fleet.kill(wid, reason, heartbeat=heartbeats.get(wid)).message)
    return bool(events)


def clean_up_after_worker(run: Run, worker_id: int, pid: int | None, hb: Heartbeat | None) -> None:
    """A worker is gone: kill the Appium server it may have left, stop the phone it may have left.

    Runs before its claims are given back, so no other worker is using that account's phone yet.
    """
    if hb is not None and hb.process.pid == pid:
        if hb.appium is not None and hb.appium.is_alive():
            kill_tree(hb.appium, grace_s=1.0)  # its worker is dead: no session worth a long goodbye
            run.say(f"W{worker_id} left its Appium server running (pid {hb.appium.pid}): killed")
        run.run_dir.remove_heartbeat(worker_id)
    _stop_ledger_phones(run, f"W{worker_id} left its phone running", worker_id)


def open_run(
    settings: Settings, cwd: Path, *, env: Mapping[str, str], observer: RunObserver, stop: StopSignals
) -> Run:
    return Run(
        settings=settings,
        cwd=cwd,
        env=env,
        observer=observer,
        stop=stop,
        run_dir=RunDir(settings.paths.runtime_dir),
        store=open_store(settings),
        loop_store=open_store(settings, lock_timeout_s=LOOP_LOCK_TIMEOUT_S),
    )


def run_lock(run: Run) -> RunLock:
    return RunLock(run.run_dir)
