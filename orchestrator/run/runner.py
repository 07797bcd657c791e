"""`--run`: the supervision loop (preparing is `startup`, the end is `shutdown`).

The loop wakes every half second: it reaps exits, kills stuck workers, recovers orphaned claims,
starts workers while there is work for them (staggered by `start_stagger_s`), prints a progress
line, and ends when nothing is due, claimed or coming due today (never, with `--follow`), or when
a stop is asked (Ctrl+C, `--stop-all`). Everything it starts is recorded before it is relied on.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime

from jobqueue.errors import FileBusy, LockTimeout, QueueUnavailable
from jobqueue.model import QueueSnapshot
from jobqueue.outlook import Outlook, work_outlook
from orchestrator.run import supervision as sv
from orchestrator.run.cloud import OutageWatch, geelark_down
from orchestrator.run.context import Run
from orchestrator.run.fleet import Fleet, Spawner, WorkerLaunch
from orchestrator.run.hosts import HostBeat, beat_fleet
from orchestrator.run.messages import disk_full, say_next_allowed, say_outside_edits
from orchestrator.run.preflight import DISK_CHECK_EVERY_S, is_disk_full, low_disk
from orchestrator.run.recovery import (
    recover_claims,
)
from orchestrator.run.startup import run_paths, seed, stop_ledger_phones
from orchestrator.run.stuck import find_stuck, observe
from orchestrator.run.taskwatch import TaskWatch, watch_tasks
from orchestrator.views.fleet_view import RunTick, SupervisedWorker
from orchestrator.views.progress import (
    progress_key,
    progress_line,
    progress_line_due,
    progress_view,
)
from orchestrator.views.report import RunEnd
from runtime.clock import skip_to
from runtime.outage import ClaimingStopped
from runtime.platform import kill_tree
from runtime.state import Heartbeat

log = logging.getLogger(__name__)
TICK_S = 0.5
MAX_SPAWNS_PER_TICK = 64
BUSY_WARNING_EVERY_S = 30.0
FOLLOW_SEED_EVERY_S = 30.0


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
        if run.run_dir.stop_all_file.exists() or loop.host.stop_requested:
            return RunEnd.STOPPED
        try:
            ended = tick(run, fleet, loop)
        except (FileBusy, LockTimeout, QueueUnavailable) as exc:
            ended = None
            if run.clock() >= loop.next_busy_warning:
                waits = (
                    " (workers keep their claims and wait for it)"
                    if isinstance(exc, QueueUnavailable)
                    else ""
                )
                run.say(f"WARNING: {exc}{waits} (the run goes on and retries)")
                loop.next_busy_warning = run.clock() + BUSY_WARNING_EVERY_S
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            ended = disk_full(run, str(exc))
        if ended is not None:
            return ended
        time.sleep(TICK_S)


@dataclass
class LoopState:
    outage: OutageWatch = field(default_factory=OutageWatch)
    edits_seen: set[tuple[str, str]] = field(default_factory=set)
    next_disk_check: float = 0.0
    last_spawn: float = -1e9
    last_line: str = ""
    last_key: object = None
    line_said_at: float = -1e9
    next_busy_warning: float = 0.0
    recover_pending: bool = False
    tasks: TaskWatch = field(default_factory=TaskWatch)
    host: HostBeat = field(default_factory=HostBeat)


def tick(run: Run, fleet: Fleet, loop: LoopState) -> RunEnd | None:
    """One round of supervision; returns how the run ended, or None to go on."""
    o = run.settings.orchestrator
    mono, now = run.clock(), run.now()
    loop.recover_pending |= watch_workers(run, fleet, mono)  # first, and without the queue lock
    beat_fleet(run, loop.host, mono)  # several PCs on one database: alive, silent ones, fleet stop
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
    mono, now = run.clock(), run.now()  # the clean-up above may have taken a while
    if o.follow and mono >= run.next_seed_at:
        seed(run, quiet=True, store=run.loop_store)  # --follow picks up what posting-scheduler adds meanwhile
        run.next_seed_at = mono + FOLLOW_SEED_EVERY_S
    snapshot = run.loop_store.snapshot()  # reconciles an outside edit first, if there was one
    say_outside_edits(run, loop.edits_seen)
    outlook = work_outlook(snapshot, now, run.store.policy)
    if fleet.given_up() and not outlook.finished():
        return RunEnd.WORKERS_FATAL
    if not geelark_down(run, loop.outage, mono):
        watch_tasks(run, loop.tasks, fleet, snapshot, mono)
    tasks_open = loop.tasks.holds_run()
    simulated = run.queue_clock.simulated
    planned_ahead = simulated and outlook.next_allowed_at is not None  # a dry run goes on through them
    if outlook.finished() and fleet.all_down() and not o.follow and not planned_ahead and not tasks_open:
        say_next_allowed(run, outlook, now)
        return RunEnd.COMPLETED
    if refused_new_work(run, loop):
        return RunEnd.REFUSED if fleet.all_down() and not tasks_open else None
    if simulated and fleet.all_down() and outlook.due_now == 0 and outlook.claimed == 0 and not tasks_open:
        skip_idle_time(run, outlook, now)  # a dry run does not wait: it jumps to the next post
        return None
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


def skip_idle_time(run: Run, outlook: Outlook, now: datetime) -> None:
    """Jump the simulated clock to the next moment something is due (a retry, or a post the
    posting rules allow), and say so."""
    moments = [m for m in (outlook.next_due_at, outlook.next_allowed_at) if m is not None and m > now]
    if not moments:
        return
    target = min(moments)
    skip_to(run.settings.paths.runtime_dir, target)
    why = f" (next post allowed: {outlook.next_allowed_account})" if target == outlook.next_allowed_at else ""
    run.say(f"Simulated clock: nothing to do until {target:%Y-%m-%d %H:%M}{why}; jumping ahead")


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


def refused_new_work(run: Run, loop: LoopState) -> bool:
    """GeeLark refused new work (balance, task credits): workers claim nothing more and none is
    started; said once. The run ends once the workers finished what they were doing."""
    refused = ClaimingStopped(run.run_dir).current()
    if refused is None:
        return False
    if not loop.tasks.refusal_told:
        loop.tasks.refusal_told = True
        run.say(
            f"GeeLark refused new work: {refused.reason} (seen by {refused.reported_by}). No job was"
            " charged for it; claiming stops for this run. Top up the GeeLark balance or task credits,"
            " then run again."
        )
    return True


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
    stop_ledger_phones(run, f"W{worker_id} left its phone running", worker_id)
