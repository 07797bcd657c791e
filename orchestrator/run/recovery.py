"""Cleaning up what a run left: recorded process trees, orphaned claims, phones still billing.

Used before every `--run` (for what a crashed run left), at the end of a run, and by `--stop-all`.
Processes are found only through what the run recorded (run.json, heartbeats): never by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from geelark.errors import GeeLarkError
from jobqueue.store import JobStore
from orchestrator.adapters.geelark_api import ListedPhone, PhoneApi
from orchestrator.run.phones import PhoneStopResult, choose_phones, stop_and_verify
from runtime.platform import ProcessRef, kill_tree, request_stop
from runtime.state import PhoneRecord, RunDir


@dataclass(frozen=True)
class PhoneCleanup:
    results: tuple[PhoneStopResult, ...] = ()
    error: str = ""  # why phones could not be checked (GeeLark unreachable, no credentials)
    ledger_error: str = ""  # the phones were handled but the ledger could not record it (a full disk)

    @property
    def all_stopped(self) -> bool:
        return not self.error and all(r.stopped for r in self.results)


def recorded_processes(run_dir: RunDir) -> dict[str, ProcessRef]:
    """Every live process the run state names: workers and their Appium servers (not the run itself)."""
    found: dict[str, ProcessRef] = {}
    for wid, hb in run_dir.read_heartbeats().items():
        if hb.process.is_alive():
            found[f"worker {wid} (pid {hb.process.pid})"] = hb.process
        if hb.appium is not None and hb.appium.is_alive():
            found[f"Appium server of worker {wid} (pid {hb.appium.pid})"] = hb.appium
    return found


def stop_recorded_processes(
    run_dir: RunDir,
    *,
    grace_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Ask recorded workers to stop (stop file + signal), wait up to `grace_s`, kill what is left.

    Returns what had to be killed. Heartbeat files of workers that are gone are removed.
    """
    procs = recorded_processes(run_dir)
    if procs:
        run_dir.request_stop()
        for ref in procs.values():
            request_stop(ref)
        deadline = clock() + grace_s
        while clock() < deadline and any(ref.is_alive() for ref in procs.values()):
            sleep(0.1)
    killed = []
    for name, ref in procs.items():
        if ref.is_alive():
            kill_tree(ref, grace_s=3.0)
            killed.append(name)
    for wid, hb in run_dir.read_heartbeats().items():
        if not hb.process.is_alive() and (hb.appium is None or not hb.appium.is_alive()):
            run_dir.remove_heartbeat(wid)
    return killed


def recover_claims(store: JobStore, alive_pids: Collection[int], now: datetime) -> list[str]:
    """Give back claims of workers that are not alive (before the checkpoint: retry; after: review)."""
    jobs = store.recover_orphans(lambda _wid, pid: pid in alive_pids, now)
    return [f"job {j.job_id} @{j.account} -> {j.status.value}" for j in jobs]


def stop_phones(
    api: PhoneApi | None,
    *,
    run_dir: RunDir,
    project_accounts: Collection[str],
    all_phones: bool,
    deadline_s: float,
    now: Callable[[], datetime],
    only_worker: int | None = None,
    only_phones: Collection[str] | None = None,
    skip_task_phones: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    busy_accounts: Collection[str] = (),
) -> PhoneCleanup:
    """Stop the phones we are responsible for (see `phones.choose_phones`) and verify they stopped.

    `only_worker`: just the phones that worker started (it died without stopping them).
    `only_phones`: just these ledger phones. `skip_task_phones`: do not wait for a phone GeeLark
    refuses to stop while a publishing task runs on it (see `phones.stop_and_verify`).
    `sleep`: how to wait between status polls (a stoppable one ends the wait with `Interrupted`).
    `busy_accounts`: phones another PC is posting with right now (a shared queue): left alone.
    Stopped phones from the ledger get a "stopped" line so the next run does not chase them again.
    """
    ledger = run_dir.phones_left_running()
    if only_worker is not None:
        ledger = {k: v for k, v in ledger.items() if v.worker_id == only_worker}
    if only_phones is not None:
        ledger = {k: v for k, v in ledger.items() if k in only_phones}
    if busy_accounts:
        ledger = {k: v for k, v in ledger.items() if v.serial_name not in busy_accounts}
    if api is None:
        return PhoneCleanup((), "no GeeLark endpoint" if ledger else "")
    asked_at = now()  # "stopped" lines carry when we asked (see RunDir.phones_left_running)
    try:
        try:
            listed = api.list_phones() if (project_accounts or all_phones) else None
        except GeeLarkError:
            listed = None
        targets = choose_phones(ledger, listed, project_accounts=project_accounts, all_phones=all_phones)
        results = stop_and_verify(
            api, targets, deadline_s=deadline_s, sleep=sleep, skip_task_phones=skip_task_phones
        )
    except GeeLarkError as exc:
        return PhoneCleanup((), f"GeeLark: {exc}")
    try:
        _close_ledger_entries(run_dir, ledger, results, listed, asked_at)
    except OSError as exc:  # the phones are stopped; the next run just checks them again
        return PhoneCleanup(tuple(results), ledger_error=f"the phones ledger could not be updated: {exc}")
    return PhoneCleanup(tuple(results))


def _close_ledger_entries(
    run_dir: RunDir,
    ledger: Mapping[str, PhoneRecord],
    results: Sequence[PhoneStopResult],
    listed: Sequence[ListedPhone] | None,
    asked_at: datetime,
) -> None:
    """A "stopped" line for every ledger phone now down, so the next run does not chase it again."""
    for r in results:
        if r.stopped and r.phone_id in ledger:
            run_dir.record_phone(
                "stopped", phone_id=r.phone_id, serial_name=r.serial_name, worker_id=None, at=asked_at
            )
    if listed is not None:
        up = {p.phone_id for p in listed if p.status.is_up}
        for phone_id, rec in ledger.items():
            if phone_id not in up:
                run_dir.record_phone(
                    "stopped", phone_id=phone_id, serial_name=rec.serial_name, worker_id=None, at=asked_at
                )


def forget_vanished_phones(run_dir: RunDir, now: datetime) -> list[str]:
    """The simulator that ran these phones is gone, and they with it: close their ledger entries."""
    gone = run_dir.phones_left_running()
    for phone_id, rec in gone.items():
        run_dir.record_phone(
            "stopped", phone_id=phone_id, serial_name=rec.serial_name, worker_id=None, at=now
        )
    return [f"{rec.serial_name or phone_id}" for phone_id, rec in gone.items()]
