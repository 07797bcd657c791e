"""Before the loop: open the run, recover what a previous run left, check the machine, seed, start
the simulator, and record everything before it is relied on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jobqueue.outlook import work_outlook
from jobqueue.store import JobStore
from orchestrator.adapters.queue_store import open_store
from orchestrator.config import port_table
from orchestrator.errors import PreflightFailed
from orchestrator.run.context import Run, RunObserver, StopSignals
from orchestrator.run.doctor import real_machine, require_ready
from orchestrator.run.instance import RunLock
from orchestrator.run.preflight import check_ports, low_disk, shifted_to_free_ports
from orchestrator.run.recovery import (
    forget_vanished_phones,
    recover_claims,
    stop_phones,
    stop_recorded_processes,
)
from orchestrator.run.seeding import run_limits, seed_from_state
from orchestrator.run.simulation import start_simulator, stop_simulator
from orchestrator.views.progress import nothing_to_do_text, progress_view
from runtime.clock import RunClock, start_simulated_clock, stop_simulated_clock
from runtime.outage import ClaimingStopped, OutageRecord
from runtime.platform import ProcessRef
from runtime.settings import Settings, dump_settings
from runtime.state import RunDir, RunInfo

# The supervision loop never waits long on the queue lock: a frozen lock holder (a worker stopped
# in the debugger, a hung tool) must not keep it from killing stuck workers. It tries again next tick.
LOOP_LOCK_TIMEOUT_S = 0.5
LOOP_RECONNECT_S = 1.0  # a queue database that does not answer: the loop warns and tries next tick


def prepare(run: Run) -> None:
    """Recover what a previous run left, seed, start the simulator, record the run."""
    run.run_dir.ensure()
    start_queue_clock(run)
    previous = run.run_dir.read_run()
    killed = stop_recorded_processes(run.run_dir, grace_s=min(10.0, run.settings.orchestrator.grace_period_s))
    for name in killed:
        run.say(f"Recovery: killed {name} left by a previous run")
    if previous is not None and previous.simulate:
        _recover_simulation(run, previous)
    elif not run.settings.simulate.enabled:
        stop_ledger_phones(run, "Recovery")
    for line in recover_claims(run.store, set(), run.now()):
        run.say(f"Recovery: {line}")
    preflight(run)
    record_run(run)  # before anything is started, so a crash from here on is recoverable
    run.run_dir.clear_stops()
    OutageRecord(run.run_dir).clear()  # an outage a previous run saw is found again if it lasts
    ClaimingStopped(run.run_dir).clear()  # the operator topped up; a refusal that lasts is seen again
    seed(run, quiet=False)
    snapshot = run.store.snapshot()
    outlook = work_outlook(snapshot, run.now(), run.store.policy)
    if outlook.finished() and not run.settings.orchestrator.follow:
        run.say(nothing_to_do_text(progress_view(snapshot, run.now(), policy=run.store.policy)))
        return
    if run.settings.simulate.enabled:
        _start_simulation(run)
        record_run(run)
    dump_settings(run.worker_settings(), run.run_dir.settings_file)


def start_queue_clock(run: Run) -> None:
    """A dry run's simulated clock starts now at the simulator's pace; any other run's is real."""
    runtime_dir = run.settings.paths.runtime_dir
    simulate = run.settings.simulate
    if simulate.enabled and simulate.clock == "simulated":
        start_simulated_clock(runtime_dir, scale=1.0 / simulate.time_scale)
        run.say(
            f"Simulated clock: starts now and runs {1.0 / simulate.time_scale:.0f}x faster, jumping over"
            " idle time; every time this run writes is on it"
        )
    else:
        stop_simulated_clock(runtime_dir)
    run.started_at = run.now()


def preflight(run: Run) -> None:
    """Refuse to start (PreflightFailed) when a worker's port is taken, the progress file's folder is
    missing or the disk is nearly full. A simulated run moves its workers to free ports instead."""
    folder = run.settings.paths.progress_file.parent
    if not (run.cwd / folder).is_dir():
        raise PreflightFailed(
            f"the folder of the progress file ({run.settings.paths.progress_file}) does not exist:"
            " create it, or fix [paths] progress_file"
        )
    try:
        check_ports(port_table(run.settings))
    except PreflightFailed as taken:
        if not run.settings.simulate.enabled:
            raise
        run.settings = shifted_to_free_ports(run.settings)
        worker = run.settings.worker
        run.say(
            f"{taken}".split(". Stop that program")[0]
            + f"; this simulated run uses Appium ports from {worker.appium_port_base}"
            f" and systemPorts from {worker.system_port_base} instead"
        )
    short = low_disk(run_paths(run))
    if short is not None:
        raise PreflightFailed(f"{short}. Free some space, then run again.")
    if not run.settings.simulate.enabled:  # credentials, Node, Appium, SDK, one adb: before any bill
        require_ready(run.settings, real_machine(run.settings, run.env, ports=False))


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


def seed(run: Run, *, quiet: bool, store: JobStore | None = None) -> None:
    """Seed from scheduler_state.json (idempotent); `quiet`: say something only if jobs were added."""
    seeded = seed_from_state(run.settings.paths.state_file, store or run.store, run_limits(run.settings))
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
        for name in forget_vanished_phones(run.run_dir, run.now()):
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
        now=run.now,
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
        queue_clock=RunClock(settings.paths.runtime_dir),
        store=open_store(settings),
        loop_store=open_store(settings, lock_timeout_s=LOOP_LOCK_TIMEOUT_S, reconnect_s=LOOP_RECONNECT_S),
    )


def run_lock(run: Run) -> RunLock:
    return RunLock(run.run_dir)
