"""Before the loop: open the run, recover what a previous run left, check the machine, seed, start
the simulator, and record everything before it is relied on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jobqueue.csvstore import CsvJobStore
from jobqueue.outlook import work_outlook
from orchestrator.adapters.queue_store import open_store
from orchestrator.config import port_table
from orchestrator.errors import PreflightFailed
from orchestrator.run.context import Run, RunObserver, StopSignals, now_local
from orchestrator.run.instance import RunLock
from orchestrator.run.preflight import check_ports, low_disk
from orchestrator.run.recovery import (
    forget_vanished_phones,
    recover_claims,
    stop_phones,
    stop_recorded_processes,
)
from orchestrator.run.seeding import seed_from_state
from orchestrator.run.simulation import start_simulator, stop_simulator
from runtime.outage import ClaimingStopped, OutageRecord
from runtime.platform import ProcessRef
from runtime.settings import Settings, dump_settings
from runtime.state import RunDir, RunInfo

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
        stop_ledger_phones(run, "Recovery")
    for line in recover_claims(run.store, set(), now_local()):
        run.say(f"Recovery: {line}")
    preflight(run)
    record_run(run)  # before anything is started, so a crash from here on is recoverable
    run.run_dir.clear_stops()
    OutageRecord(run.run_dir).clear()  # an outage a previous run saw is found again if it lasts
    ClaimingStopped(run.run_dir).clear()  # the operator topped up; a refusal that lasts is seen again
    seed(run, quiet=False)
    snapshot = run.store.snapshot()
    outlook = work_outlook(snapshot, now_local(), run.store.policy)
    if outlook.finished() and not run.settings.orchestrator.follow:
        run.say(f"Nothing to do: no job of {len(snapshot.jobs)} is due or coming due today")
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
        stop_ledger_phones(run, "Recovery")
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


def stop_ledger_phones(run: Run, label: str, worker_id: int | None = None) -> None:
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
        skip_task_phones=True,  # the loop must not wait minutes for a task: stopped once it ended
        sleep=sleep,
    )
    for r in cleanup.results:
        if r.runs_a_task:
            state = "runs a GeeLark task: it is stopped once the task ended (GeeLark refuses until then)"
        else:
            state = "stopped" if r.stopped else f"NOT CONFIRMED ({r.final_status_name} {r.error})"
        run.say(f"{label}: phone {r.serial_name} ({r.phone_id}) {state}")
    if cleanup.error:
        run.say(f"{label}: could not stop recorded phones: {cleanup.error}")


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
