"""Stopping phones we are responsible for, and proving they stopped.

Which phones (`choose_phones`, pure): those the phones ledger says we started and did not stop;
by default also every running phone whose name is an account of this project; every running phone
of the GeeLark account only when the operator asks (`--all-phones`). Stopping (`stop_and_verify`)
asks GeeLark to stop them, then polls their status until each reports "shut down" or the deadline
passes: a phone is never reported stopped on a timeout. GeeLark refuses to stop a phone while one of
its publishing tasks runs (43005); a caller that cannot wait for the task (the supervision loop) has
such phones left out of the wait and stops them once the task ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from geelark.status import Code, PhoneStatus
from orchestrator.adapters.geelark_api import ListedPhone, PhoneApi, status_name
from runtime.state import PhoneRecord

STATUS_POLL_S = 0.5
DOWN = frozenset({PhoneStatus.STOPPED, PhoneStatus.EXPIRED})
RESTOP_EVERY_S = 5.0


@dataclass(frozen=True)
class PhoneTarget:
    phone_id: str
    serial_name: str
    why: str


@dataclass(frozen=True)
class PhoneStopResult:
    phone_id: str
    serial_name: str
    why: str
    final_status: PhoneStatus | None  # the last status GeeLark gave; None if it gave none
    stopped: bool
    error: str = ""

    @property
    def final_status_name(self) -> str:
        return status_name(self.final_status)

    @property
    def runs_a_task(self) -> bool:
        """GeeLark refused the stop because a publishing task runs on the phone (43005)."""
        return runs_a_task(self.error)


def runs_a_task(error: str) -> bool:
    """An error of `PhoneApi.stop` ("<code> <message>") that means: a task runs on the phone."""
    return error.split(" ", 1)[0] == str(int(Code.PHONE_BUSY_TASK))


def choose_phones(
    ledger: Mapping[str, PhoneRecord],
    listed: Iterable[ListedPhone] | None,
    *,
    project_accounts: Collection[str],
    all_phones: bool,
) -> list[PhoneTarget]:
    """The phones to stop. `listed` None means GeeLark could not list them: the ledger still counts."""
    targets: dict[str, PhoneTarget] = {}
    up = None if listed is None else {p.phone_id: p for p in listed if p.status.is_up}
    for phone_id, rec in ledger.items():
        if up is None or phone_id in up:
            who = f"worker {rec.worker_id}" if rec.worker_id is not None else "this project"
            targets[phone_id] = PhoneTarget(phone_id, rec.serial_name, f"started by {who}")
    for phone in (up or {}).values():
        if phone.phone_id in targets:
            continue
        if phone.serial_name in project_accounts:
            targets[phone.phone_id] = PhoneTarget(
                phone.phone_id, phone.serial_name, "account of this project"
            )
        elif all_phones:
            targets[phone.phone_id] = PhoneTarget(phone.phone_id, phone.serial_name, "--all-phones")
    return sorted(targets.values(), key=lambda t: (t.serial_name, t.phone_id))


def stop_and_verify(
    api: PhoneApi,
    targets: Sequence[PhoneTarget],
    *,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    skip_task_phones: bool = False,
) -> list[PhoneStopResult]:
    """Stop every target and poll until each is shut down or `deadline_s` has passed.
    `skip_task_phones`: a phone whose stop was refused because a task runs on it is not waited for
    (it is reported not stopped, `runs_a_task`)."""
    if not targets:
        return []
    ids = [t.phone_id for t in targets]
    errors: dict[str, str] = dict(api.stop(ids))
    if skip_task_phones:
        ids = [i for i in ids if not runs_a_task(errors.get(i, ""))]
    last_stop = clock()
    deadline = last_stop + deadline_s
    status: dict[str, PhoneStatus] = {}
    while True:
        status.update(api.statuses([i for i in ids if status.get(i) not in DOWN]))
        pending = [i for i in ids if status.get(i) not in DOWN]
        if not pending or clock() >= deadline:
            break
        if clock() - last_stop >= RESTOP_EVERY_S:
            errors.update(api.stop(pending))  # a stop can be refused while a task runs: ask again
            last_stop = clock()
        sleep(STATUS_POLL_S)
    return [
        PhoneStopResult(
            t.phone_id,
            t.serial_name,
            t.why,
            status.get(t.phone_id),
            status.get(t.phone_id) in DOWN,
            "" if status.get(t.phone_id) in DOWN else errors.get(t.phone_id, ""),
        )
        for t in targets
    ]
