"""`--stop-all` from another console: stop the run gracefully; if it is gone or hung, clean up after it.

1. A live orchestrator is asked to stop (stop file) and given its grace period plus a margin.
2. If it is still there (hung), its process tree is killed (by its recorded ProcessRef).
3. Recorded workers and Appium servers still alive are asked, then killed; claims are recovered.
4. Phones: the ones we started (ledger) plus, by default, running phones named after this project's
   accounts; every running phone of the GeeLark account only with `all_phones`. Each is polled until
   it reports "shut down" (or the deadline passes, which is reported, never hidden).
5. The recorded simulator (simulate mode) is stopped last.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psutil

from geelark.client import GeeLarkClient
from jobqueue import Job, JobStatus, JobStore
from jobqueue.errors import QueueError
from orchestrator.adapters.geelark_api import ClientPhoneApi, client_settings, simulator_url_of
from orchestrator.adapters.queue_store import open_store
from orchestrator.run.phones import PhoneStopResult
from orchestrator.run.recovery import (
    forget_vanished_phones,
    recover_claims,
    stop_phones,
    stop_recorded_processes,
)
from orchestrator.run.simulation import stop_simulator
from orchestrator.run.tasks import TaskSettler, cancel_open
from runtime.platform import ProcessRef
from runtime.settings import Settings
from runtime.state import RunDir, RunInfo

MARGIN_S = 15.0


@dataclass(frozen=True)
class StopAllResult:
    orchestrator: str  # "none running", "stopped gracefully (pid N)", "killed (pid N, hung)"
    killed: tuple[str, ...]
    released: tuple[str, ...]
    phones: tuple[PhoneStopResult, ...]
    phone_error: str
    phone_note: str
    simulator: str
    tasks: tuple[str, ...] = ()  # GeeLark tasks of jobs whose worker is gone: settled, cancelled, left

    @property
    def complete(self) -> bool:
        return not self.phone_error and all(p.stopped for p in self.phones)


def stop_all(
    settings: Settings,
    env: Mapping[str, str],
    *,
    all_phones: bool,
    now: Callable[[], datetime],
    wait_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> StopAllResult:
    """Stop everything this working folder's runs started. Returns what was done."""
    run_dir = RunDir(settings.paths.runtime_dir)
    run = run_dir.read_run()
    orchestrator = "none running"
    if run is not None and run.process.is_alive():
        run_dir.request_stop()
        deadline = clock() + (
            wait_s if wait_s is not None else settings.orchestrator.grace_period_s + MARGIN_S
        )
        while run.process.is_alive() and clock() < deadline:
            time.sleep(0.1)
        if run.process.is_alive():
            # only the orchestrator itself: its workers get their own grace period below
            kill_process(run.process)
            orchestrator = f"killed (pid {run.process.pid}; it did not stop in time)"
        else:
            orchestrator = f"stopped gracefully (pid {run.process.pid})"
        run = run_dir.read_run()  # a graceful stop clears run.json; what is left needs cleaning
    killed = stop_recorded_processes(run_dir, grace_s=min(10.0, settings.orchestrator.grace_period_s))
    released = recover_claims(open_store(settings), set(), now()) if has_queue(settings) else []
    settler = _task_settler(settings, env, run)
    tasks = settler.settle(now, cancel=True) if settler else []
    phones = stop_phones_after(settings, env, run_dir=run_dir, run=run, all_phones=all_phones, now=now)
    if settler is not None:
        with settler.client:
            tasks += settler.settle(now, cancel=False)  # tasks that ended while the phones stopped
    simulator = "none"
    if run is not None and run.simulator is not None and run.simulator.is_alive():
        stop_simulator(run.simulator)
        simulator = f"stopped (pid {run.simulator.pid})"
    if run is not None and not run.process.is_alive():
        run_dir.clear_run()
    run_dir.clear_stops()
    return StopAllResult(
        orchestrator,
        tuple(killed),
        tuple(released),
        phones.results,
        phones.error,
        phones.note,
        simulator,
        tuple(tasks),
    )


@dataclass
class _StopAllTasks:
    """Jobs whose worker died with its GeeLark task: settled where it ended; at a stop, a task that
    has not started is cancelled, a running one is left to finish (its phone refuses to stop)."""

    store: JobStore
    client: GeeLarkClient
    stale_after_s: float

    def settle(self, now: Callable[[], datetime], *, cancel: bool) -> list[str]:
        # a task not found yet may be a slow create: left for the next run, not given up
        settler = TaskSettler(self.store, stale_after_s=self.stale_after_s, missing_grace_s=float("inf"))
        outcome = settler.round(self.client, now())
        lines = [f"settled job {line}" for line in outcome.settled]
        if outcome.error:
            return [*lines, f"GeeLark tasks could not be checked: {outcome.error}"]
        if cancel:
            lines += cancel_open(settler, self.client, outcome, now(), running_too=False)
            outcome = settler.round(self.client, now())
            lines += [f"settled job {line}" for line in outcome.settled]
            lines += [
                f"left to finish: {i.describe()}; its phone is stopped once the task ends (GeeLark"
                " refuses until then): run --stop-all again if it is still running"
                for i in outcome.open
                if i.task is not None
            ]
        return lines


def _task_settler(settings: Settings, env: Mapping[str, str], run: RunInfo | None) -> _StopAllTasks | None:
    sim_url = simulator_of(settings, run)
    if run is not None and run.simulator is not None and not run.simulator.is_alive():
        return None  # its tasks are gone with it
    if (sim_url is None and settings.simulate.enabled) or not has_queue(settings):
        return None
    gl = client_settings(settings, env, simulator_url=sim_url)
    if not (gl.token or (gl.app_id and gl.api_key)):
        return None
    scale = settings.simulate.time_scale if sim_url else 1.0
    return _StopAllTasks(open_store(settings), GeeLarkClient(gl), settings.worker.job_timeout_s * scale)


@dataclass(frozen=True)
class PhonesOutcome:
    results: tuple[PhoneStopResult, ...] = ()
    error: str = ""
    note: str = ""  # what was (not) checked, in words


def stop_phones_after(
    settings: Settings,
    env: Mapping[str, str],
    *,
    run_dir: RunDir,
    run: RunInfo | None,
    all_phones: bool,
    now: Callable[[], datetime],
) -> PhonesOutcome:
    """Stop and verify our phones where they live: the run's simulator, or GeeLark."""
    sim_url = simulator_of(settings, run)
    if run is not None and run.simulator is not None and not run.simulator.is_alive():
        gone = forget_vanished_phones(run_dir, now())
        return PhonesOutcome(note=f"the run's simulator is gone, and its {len(gone)} phone(s) with it")
    if sim_url is None and settings.simulate.enabled:
        return PhonesOutcome(note="simulate mode and no simulator running: no phone to stop")
    gl = client_settings(settings, env, simulator_url=sim_url)
    if not (gl.token or (gl.app_id and gl.api_key)):
        left = run_dir.phones_left_running()
        error = "no GeeLark credentials (set GEELARK_APP_ID + GEELARK_API_KEY, or GEELARK_TOKEN)"
        return PhonesOutcome(error=error if left or all_phones else "", note="GeeLark was not asked")
    with GeeLarkClient(gl) as client:
        cleanup = stop_phones(
            ClientPhoneApi(client),
            run_dir=run_dir,
            project_accounts=project_accounts(settings),
            all_phones=all_phones,
            deadline_s=settings.orchestrator.phone_stop_timeout_s,
            now=now,
        )
    if cleanup.all_stopped and settings.queue.url:
        forget_shared_phones(settings)
    where = "the simulator" if sim_url else "GeeLark"
    scope = "every running phone" if all_phones else "phones we started and phones of this project's accounts"
    return PhonesOutcome(cleanup.results, cleanup.error, f"asked {where} about {scope}")


def kill_process(ref: ProcessRef) -> None:
    """Kill one recorded process (not its tree); nothing happens if it is gone or its PID reused."""
    proc = ref.process()
    if proc is not None:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=10)


def stop_fleet(settings: Settings) -> list[str]:
    """`--stop-all --fleet`: the flag every host of the shared queue reads at its next beat; returns
    the other hosts that were working it."""
    from jobqueue.pgstore import PostgresJobStore

    store = open_store(settings)
    assert isinstance(store, PostgresJobStore)
    try:
        store.request_fleet_stop()
        return [h.host for h in store.hosts() if h.host != store.host]
    finally:
        store.close()


def simulator_of(settings: Settings, run: RunInfo | None) -> str | None:
    """The simulator to ask: the run's, else an external one the config names (it outlives runs)."""
    external = settings.orchestrator.simulator_url.rstrip("/") if settings.simulate.enabled else ""
    return simulator_url_of(run) or external or None


def has_queue(settings: Settings) -> bool:
    """A database queue, or a progress file that exists (stop-all never creates one)."""
    return bool(settings.queue.url) or settings.paths.progress_file.exists()


def project_accounts(settings: Settings) -> set[str]:
    """The accounts of this project: every account in the queue (and accounts.txt if any). On a
    shared PostgreSQL queue, not those another PC that is alive is posting to right now: its
    phones are its own to stop (`--stop-all --fleet`); a silent PC's phones are stopped here."""
    accounts: set[str] = set()
    in_use: set[str] = set()
    if has_queue(settings):
        # the ledger still names every phone we started; account names only widen the net
        with contextlib.suppress(QueueError):
            store = open_store(settings)
            jobs = store.snapshot().jobs
            accounts |= {j.account for j in jobs if j.account}
            alive = live_other_hosts(store, settings.orchestrator.heartbeat_timeout_s)
            in_use = claimed_by(jobs, alive)
            accounts |= phones_of_lost_hosts(store, alive)
    path = settings.paths.accounts_file
    if path.is_file():
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            name = line.split("#", 1)[0].strip()
            if name:
                accounts.add(name)
    return accounts - in_use


def live_other_hosts(store: JobStore, lease_s: float) -> set[str]:
    """Other PCs on a shared queue that beat within the lease."""
    from jobqueue.pgstore import PostgresJobStore

    if not isinstance(store, PostgresJobStore):
        return set()
    return {h.host for h in store.hosts() if h.seen_s <= lease_s and h.host != store.host}


def phones_of_lost_hosts(store: JobStore, alive: set[str]) -> set[str]:
    """Accounts of the phones the shared phone ledger names for this PC or for PCs not in ``alive``."""
    from jobqueue.pgstore import PostgresJobStore

    if not isinstance(store, PostgresJobStore):
        return set()
    return {account for _phone, account, host in store.phones() if host not in alive}


def forget_shared_phones(settings: Settings) -> None:
    """After a complete stop: the phone ledger keeps only the phones of PCs that are alive."""
    with contextlib.suppress(QueueError):
        store = open_store(settings)
        from jobqueue.pgstore import PostgresJobStore

        if isinstance(store, PostgresJobStore):
            try:
                store.forget_phones(live_other_hosts(store, settings.orchestrator.heartbeat_timeout_s))
            finally:
                store.close()


def accounts_of_live_hosts(store: JobStore, jobs: Sequence[Job], lease_s: float) -> set[str]:
    """Accounts with a job claimed by another PC that beat within the lease (shared queue only)."""
    return claimed_by(jobs, live_other_hosts(store, lease_s))


def claimed_by(jobs: Sequence[Job], hosts: set[str]) -> set[str]:
    """Accounts with a job claimed by one of ``hosts``."""
    return {j.account for j in jobs if j.status is JobStatus.CLAIMED and j.host in hosts}
