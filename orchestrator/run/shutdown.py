"""The end of a run, however it ends: stop workers (graceful, bounded; then hard), recover claims,
stop and verify our phones, stop the simulator, write the batch report.

Order matters: workers first (they release claims and stop their own phones and Appium servers),
then whatever they left, then phones by the ledger, and the simulator last (phones live in it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jobqueue.errors import QueueError
from jobqueue.model import QueueSnapshot
from orchestrator.adapters.geelark_api import billed_minutes
from orchestrator.exit_codes import ExitCode
from orchestrator.run.context import Run
from orchestrator.run.fleet import Fleet
from orchestrator.run.hosts import busy_elsewhere
from orchestrator.run.recovery import PhoneCleanup, recover_claims, stop_phones, stop_recorded_processes
from orchestrator.run.simulation import stop_simulator
from orchestrator.run.supervision import WorkerState
from orchestrator.run.taskwatch import finish_tasks, tasks_at_stop
from orchestrator.views.report import (
    BatchReport,
    RunEnd,
    build_report,
    find_job_logs,
    in_run,
    write_report_files,
)

HARD_KILL_WAIT_S = 15.0


@dataclass(frozen=True)
class RunResult:
    report: BatchReport
    report_files: tuple[Path, Path] | None  # None: they could not be written (a full disk)
    exit_code: ExitCode
    phones: PhoneCleanup


def stop_workers(run: Run, fleet: Fleet) -> None:
    """Graceful stop bounded by the grace period (a second Ctrl+C cuts it short), then hard stop."""
    if not fleet.all_down():
        grace = run.settings.orchestrator.grace_period_s
        if run.stop.count < 2:
            run.say(
                f"Stopping {len(fleet.procs)} worker(s) gracefully"
                f" (up to {grace:.0f}s; Ctrl+C again to force)"
            )
            live = fleet.refs()
            beats = {w: hb for w, hb in run.run_dir.read_heartbeats().items() if w in live}
            for line in tasks_at_stop(beats):
                run.say(line)
        run.run_dir.request_stop()
        fleet.request_stop(run.clock())
        deadline = run.clock() + grace
        while not fleet.all_down() and run.clock() < deadline and run.stop.count < 2:
            for event in fleet.reap(run.clock()):
                run.say(event.message)
            time.sleep(0.1)
    if not fleet.all_down():
        run.say("Hard stop: killing the remaining workers and their Appium servers")
        fleet.kill_all(run.run_dir.read_heartbeats())
        deadline = run.clock() + HARD_KILL_WAIT_S
        while not fleet.all_down() and run.clock() < deadline:
            for event in fleet.reap(run.clock()):
                run.say(event.message)
            time.sleep(0.05)
    for name in stop_recorded_processes(run.run_dir, grace_s=0.0):
        run.say(f"Killed {name}")


def stop_run_phones(run: Run) -> PhoneCleanup:
    """Stop every phone the ledger says is still running (workers normally stopped theirs)."""
    if not run.run_dir.phones_left_running():
        return PhoneCleanup()
    sleep = run.stoppable(stop_at=2)  # the first Ctrl+C lets phones be stopped; a second cuts it short
    timeout_s = run.settings.orchestrator.phone_stop_timeout_s
    cleanup = stop_phones(
        run.phone_api(sleep),
        run_dir=run.run_dir,
        project_accounts=(),
        all_phones=False,
        deadline_s=timeout_s,
        now=run.now,
        only_worker=None,
        sleep=sleep,
        busy_accounts=busy_elsewhere(run),
    )
    for r in cleanup.results:
        verdict = "shut down" if r.stopped else f"NOT CONFIRMED: {r.final_status_name} {r.error}".rstrip()
        run.say(f"Phone {r.serial_name} ({r.phone_id}): {verdict}")
    if cleanup.ledger_error:
        run.say(f"WARNING: {cleanup.ledger_error}; the next run checks those phones again")
    if cleanup.error:
        run.say(
            f"WARNING: could not stop phones: {cleanup.error}."
            " Run `parallel-orchestrator --stop-all` to stop the phones this run started."
        )
    return cleanup


def finish(run: Run, fleet: Fleet | None, ended_by: RunEnd) -> RunResult:
    """Shut everything down and write the report; never leaves a process or a claim behind.

    Every step runs whatever the one before it met (a full disk, a corrupt or busy progress file):
    a failure becomes a note in the report and on the console, never a reason to skip stopping
    what we started.
    """
    notes = list(run.notes)
    if fleet is not None:
        stop_workers(run, fleet)
    _tolerant(run, notes, "claims could not be released now ({}); the next run recovers them", _release, run)
    _tolerant(run, notes, "GeeLark tasks could not be settled ({}); the next run does it", finish_tasks, run)
    phones = stop_run_phones(run)
    billed = billed_minutes(run.simulator_url)
    if run.simulator is not None:
        stop_simulator(run.simulator.ref)
    _tolerant(run, notes, "the run state could not be cleared ({})", _clear_run_state, run)
    snapshot = _tolerant(
        run, notes, "the progress file could not be read for this report: {}", run.store.snapshot
    )
    if fleet is not None:
        notes += [
            f"W{s.worker_id} was given up: {s.reason}"
            for s in fleet.slots.values()
            if s.state is WorkerState.FATAL
        ]
    if phones.error:
        notes.append(f"phones could not be checked: {phones.error}")
    logs = run.settings.paths.logs_dir
    jobs = snapshot.jobs if snapshot is not None else ()
    ids = [j.job_id for j in jobs if in_run(j, run.started_at)]
    report = build_report(
        snapshot or QueueSnapshot(()),
        started_at=run.started_at,
        ended_at=run.now(),
        ended_by=ended_by,
        workers=run.settings.orchestrator.workers,
        simulate=run.settings.simulate.enabled,
        logs_dir=logs,
        log_files=find_job_logs(logs, ids),
        billed_phone_minutes=billed,
        phones_left_running=tuple(r.serial_name or r.phone_id for r in phones.results if not r.stopped),
        notes=tuple(notes),
        simulated_clock=run.queue_clock.simulated,
        phone_starts=_tolerant(run, [], "the phones ledger could not be read ({})", _starts, run) or (0, 0),
    )
    files = _tolerant(run, [], "the batch report could not be written ({})", write_report_files, report, logs)
    return RunResult(report, files, exit_code_for(report, ended_by), phones)


T = TypeVar("T")


def _tolerant(run: Run, notes: list[str], note: str, step: Callable[..., T], *args: object) -> T | None:
    """Run one shutdown step; a queue or disk failure becomes a note (and a console line), not a crash."""
    try:
        return step(*args)
    except (QueueError, OSError) as exc:
        text = note.format(exc)
        run.say(f"WARNING: {text}")
        notes.append(text)
        return None


def _starts(run: Run) -> tuple[int, int]:
    return run.run_dir.phone_starts_since(run.started_at)


def _release(run: Run) -> None:
    for line in recover_claims(run.store, set(), run.now()):
        run.say(f"Released {line}")


def _clear_run_state(run: Run) -> None:
    run.run_dir.clear_stops()
    run.run_dir.clear_run()


def exit_code_for(report: BatchReport, ended_by: RunEnd) -> ExitCode:
    if ended_by in (RunEnd.INTERRUPTED, RunEnd.STOPPED):
        return ExitCode.INTERRUPTED
    if ended_by is RunEnd.DISK_FULL:
        return ExitCode.DISK_FULL
    if ended_by is RunEnd.WORKERS_FATAL:
        return ExitCode.WORKERS_FATAL
    if ended_by is RunEnd.REFUSED:
        return ExitCode.GEELARK_REFUSED
    if report.counts["failed"] or report.counts["review"]:
        return ExitCode.JOBS_FAILED
    return ExitCode.OK
