"""The run's side of GeeLark's publishing tasks: settle jobs whose task no worker saw end, stop
phones nobody holds once their task ended, say when GeeLark refused new work, and let a stop cancel
what has not started.

In the loop (`watch_tasks`, every `CHECK_EVERY_S` on GeeLark's clock): one settling round
(`orchestrator.run.tasks`), then phones the ledger says run but that no live worker holds and no
claim covers (left by a dead worker, or refused a stop during a task) are asked to stop without
waiting. A job still waiting for its task keeps the run alive. At the end (`finish_tasks`): tasks
GeeLark has not started are cancelled (their jobs go back to the queue), running ones are left to
finish for up to the grace period (a second Ctrl+C cancels them), then settled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobqueue.model import JobStatus, QueueSnapshot
from orchestrator.run.context import Run
from orchestrator.run.fleet import Fleet
from orchestrator.run.recovery import stop_phones
from orchestrator.run.tasks import TaskRound, TaskSettler, awaiting_task, cancel_open
from runtime.outage import ClaimingStopped
from runtime.state import Heartbeat

log = logging.getLogger(__name__)

CHECK_EVERY_S = 15.0  # GeeLark-side seconds between two looks at open tasks and idle phones
FINISH_POLL_S = 5.0


def settler_for(run: Run) -> TaskSettler:
    return TaskSettler(
        run.store,
        stale_after_s=run.on_geelark_clock(run.settings.worker.job_timeout_s),
        # a slow create lands within the client's read timeout (real seconds, even when simulated)
        missing_grace_s=2 * run.settings.geelark.timeout_s,
        clock=run.clock,
    )


@dataclass
class TaskWatch:
    """The loop's memory: when to look again, what was found open, what was already said."""

    settler: TaskSettler | None = None
    next_check: float = 0.0
    open_jobs: int = 0
    refusal_told: bool = False
    told: set[str] = field(default_factory=set)

    def holds_run(self) -> bool:
        """A job still waits for its task: the run does not end yet."""
        return self.open_jobs > 0


def watch_tasks(run: Run, watch: TaskWatch, fleet: Fleet, snapshot: QueueSnapshot, mono: float) -> None:
    """One look when due: settle what ended, stop idle phones (GeeLark is asked only if needed)."""
    if mono < watch.next_check:
        return
    watch.next_check = mono + run.on_geelark_clock(CHECK_EVERY_S)
    jobs, idle = awaiting_task(snapshot), idle_phones(run, fleet, snapshot)
    client = run.geelark_client(run.stoppable(stop_at=1)) if jobs or idle else None
    if client is None:
        watch.open_jobs = 0
        return
    if watch.settler is None:
        watch.settler = settler_for(run)
        watch.settler.store = run.loop_store  # the loop never waits long on the queue lock
    with client:
        outcome = watch.settler.round(client, run.now(), jobs)
        tell_round(run, outcome, watch.told)
        watch.open_jobs = len(outcome.open) if not outcome.error else 0
    if idle:
        stop_idle_phones(run, idle)


def tell_round(run: Run, outcome: TaskRound, told: set[str]) -> None:
    for line in outcome.settled:
        run.say(f"Settled from its GeeLark task: {line}")
    for item in outcome.open:
        if item.job.job_id not in told:
            told.add(item.job.job_id)
            run.say(f"Waiting for {item.describe()}: the job is settled once it ends")
    if outcome.refused:
        ClaimingStopped(run.run_dir).report(outcome.refused, "orchestrator", run.now())
    if outcome.error:
        log.warning("GeeLark tasks could not be checked now: %s", outcome.error)


def idle_phones(run: Run, fleet: Fleet, snapshot: QueueSnapshot) -> list[str]:
    """Phones the ledger says run that no live worker holds and no claim covers (left by a dead
    worker, or refused a stop while their task ran)."""
    ledger = run.run_dir.phones_left_running()
    if not ledger:
        return []
    live = fleet.refs()
    held = {hb.phone_id for wid, hb in run.run_dir.read_heartbeats().items() if wid in live and hb.phone_id}
    claimed = {j.account for j in snapshot.jobs if j.status is JobStatus.CLAIMED}
    return [pid for pid, rec in ledger.items() if pid not in held and rec.serial_name not in claimed]


def stop_idle_phones(run: Run, idle: list[str]) -> None:
    """Ask them to stop without waiting (one still running a task is asked again next time)."""
    cleanup = stop_phones(
        run.phone_api(run.stoppable(stop_at=1)),
        run_dir=run.run_dir,
        project_accounts=(),
        all_phones=False,
        deadline_s=0.0,
        now=run.now,
        only_phones=idle,
        skip_task_phones=True,
    )
    for r in cleanup.results:
        if r.stopped:
            run.say(f"Phone {r.serial_name} ({r.phone_id}) stopped: no worker holds it any more")


def finish_tasks(run: Run) -> None:
    """At the end of a run: settle, cancel what has not started, wait (bounded by the grace period;
    a second Ctrl+C cancels) for running tasks, so their phones can be stopped."""
    client = run.geelark_client()
    if client is None:
        return
    settler = settler_for(run)
    with client:
        outcome = settler.round(client, run.now())
        tell_round(run, outcome, set())
        deadline = run.clock() + run.settings.orchestrator.grace_period_s
        while outcome.open and not outcome.error:
            for line in cancel_open(settler, client, outcome, run.now(), running_too=run.stop.count >= 2):
                run.say(line[0].upper() + line[1:])
            outcome = settler.round(client, run.now())
            tell_round(run, outcome, set())
            running = [i for i in outcome.open if i.task is not None]
            if not running or run.clock() >= deadline:
                break
            run.say(
                f"Waiting for {len(running)} GeeLark task(s) to end before their phones can be stopped"
                " (GeeLark refuses to stop a phone during a task; Ctrl+C again cancels them): "
                + "; ".join(i.describe() for i in running)
            )
            until = min(deadline, run.clock() + run.on_geelark_clock(FINISH_POLL_S))
            while run.clock() < until and run.stop.count < 2:
                time.sleep(0.05)
        for item in outcome.open:
            run.say(f"Left running: {item.describe()}; its job stays in review until a later run settles it")


def tasks_at_stop(heartbeats: Mapping[int, Heartbeat]) -> list[str]:
    """What a graceful stop does to the GeeLark tasks workers are waiting for (from their heartbeats)."""
    lines = []
    for wid, hb in sorted(heartbeats.items()):
        if hb.step == "task_waiting":
            lines.append(
                f"W{wid}: the GeeLark task of job {hb.job_id} @{hb.account} has not started: cancelled"
            )
        elif hb.step == "task_running":
            lines.append(
                f"W{wid}: the GeeLark task of job {hb.job_id} @{hb.account} is running: left to finish,"
                " then its phone is stopped (Ctrl+C again cancels it)"
            )
    return lines
