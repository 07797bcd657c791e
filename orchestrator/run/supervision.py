"""Worker supervision as a pure state machine (supervisord's process states).

```
STOPPED --spawn--> STARTING --up for start_secs--> RUNNING --exit 0--> EXITED --spawn--> STARTING
STARTING/RUNNING --crash--> BACKOFF --restart_at passed, spawn--> STARTING
STARTING/RUNNING --crash, too many in a row--> FATAL (given up; the run says so)
STARTING/RUNNING --stop--> STOPPING --exit--> STOPPED;  BACKOFF/EXITED --stop--> STOPPED
```

A worker exits 0 when it has nothing due; any other exit (or a kill for being stuck) is a crash.
Crashes are counted in a row; a worker that ran `stable_s` without crashing starts a fresh count.
Every function takes `now` (monotonic seconds) and returns a new slot; an illegal move raises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from worker.contract import FATAL_EXITS, exit_meaning


class WorkerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    EXITED = "exited"
    FATAL = "fatal"


ALIVE_STATES = frozenset({WorkerState.STARTING, WorkerState.RUNNING, WorkerState.STOPPING})
SPAWNABLE_STATES = frozenset({WorkerState.STOPPED, WorkerState.BACKOFF, WorkerState.EXITED})


class IllegalWorkerTransition(Exception):
    """A supervision event that the state machine does not allow in the slot's state."""

    def __init__(self, worker_id: int, state: WorkerState, event: str) -> None:
        self.worker_id = worker_id
        self.state = state
        self.event = event
        super().__init__(f"worker {worker_id}: {event} is not allowed in state {state}")


@dataclass(frozen=True)
class RestartPolicy:
    """When a crashed worker is restarted, and when it is given up."""

    start_secs: float = 3.0  # up this long after a spawn = started
    max_crashes: int = 5  # crashes in a row before FATAL
    backoff_base_s: float = 2.0  # first restart delay; doubles per crash in a row
    backoff_cap_s: float = 60.0
    stable_s: float = 120.0  # a worker up this long has a fresh crash count
    fatal_exit_codes: frozenset[int] = FATAL_EXITS

    def backoff_s(self, crashes: int) -> float:
        """Delay before restart number `crashes` (1-based): base, 2*base, 4*base, ... capped."""
        return min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, crashes - 1))


@dataclass(frozen=True)
class WorkerSlot:
    """One supervised worker position: its state and what led there."""

    worker_id: int
    state: WorkerState = WorkerState.STOPPED
    since: float = 0.0  # monotonic time of the last transition
    crashes: int = 0  # crashes in a row
    spawns: int = 0
    restart_at: float | None = None
    last_exit_code: int | None = None
    reason: str = ""

    @property
    def alive(self) -> bool:
        return self.state in ALIVE_STATES


def _move(slot: WorkerSlot, state: WorkerState, now: float, **changes: object) -> WorkerSlot:
    return replace(slot, state=state, since=now, **changes)  # type: ignore[arg-type]  # replace() checks the field names and types at run time


def _guard(slot: WorkerSlot, allowed: frozenset[WorkerState], event: str) -> None:
    if slot.state not in allowed:
        raise IllegalWorkerTransition(slot.worker_id, slot.state, event)


def spawned(slot: WorkerSlot, now: float) -> WorkerSlot:
    """The process was started."""
    _guard(slot, SPAWNABLE_STATES, "spawn")
    return _move(slot, WorkerState.STARTING, now, spawns=slot.spawns + 1, restart_at=None, reason="")


def observed_alive(slot: WorkerSlot, now: float, policy: RestartPolicy) -> WorkerSlot:
    """The process is still up: STARTING becomes RUNNING after `start_secs`; a stable one forgets crashes."""
    if slot.state is WorkerState.STARTING and now - slot.since >= policy.start_secs:
        return _move(slot, WorkerState.RUNNING, now)
    if slot.state is WorkerState.RUNNING and slot.crashes and now - slot.since >= policy.stable_s:
        return replace(slot, crashes=0)
    return slot


def exited(
    slot: WorkerSlot, code: int | None, *, now: float, policy: RestartPolicy, reason: str = ""
) -> WorkerSlot:
    """The process is gone with exit `code` (None: unknown). `reason` explains a kill (e.g. stuck)."""
    _guard(slot, ALIVE_STATES, "exit")
    if slot.state is WorkerState.STOPPING:
        return _move(slot, WorkerState.STOPPED, now, last_exit_code=code, reason=reason or "stopped")
    if code == 0 and not reason:
        return _move(slot, WorkerState.EXITED, now, last_exit_code=0, crashes=0, reason="nothing due")
    crashes = slot.crashes + 1
    meaning = exit_meaning(code)
    why = reason or f"exit code {code}" + (f": {meaning}" if meaning else "")
    if code in policy.fatal_exit_codes and not reason:
        return _move(slot, WorkerState.FATAL, now, last_exit_code=code, crashes=crashes, reason=why)
    if crashes >= policy.max_crashes:
        why = f"gave up after {crashes} crashes in a row (last: {why})"
        return _move(slot, WorkerState.FATAL, now, last_exit_code=code, crashes=crashes, reason=why)
    restart_at = now + policy.backoff_s(crashes)
    return _move(
        slot,
        WorkerState.BACKOFF,
        now,
        last_exit_code=code,
        crashes=crashes,
        restart_at=restart_at,
        reason=why,
    )


def stopping(slot: WorkerSlot, now: float) -> WorkerSlot:
    """A stop was requested: live workers go to STOPPING, the others are simply STOPPED."""
    if slot.state in ALIVE_STATES:
        return slot if slot.state is WorkerState.STOPPING else _move(slot, WorkerState.STOPPING, now)
    if slot.state is WorkerState.FATAL:
        return slot
    return _move(slot, WorkerState.STOPPED, now, restart_at=None)


def restart_due(slot: WorkerSlot, now: float) -> bool:
    """A crashed worker whose backoff has passed."""
    return slot.state is WorkerState.BACKOFF and slot.restart_at is not None and now >= slot.restart_at


def all_given_up(slots: list[WorkerSlot]) -> bool:
    """Every slot is FATAL: nothing will ever run again in this run."""
    return bool(slots) and all(s.state is WorkerState.FATAL for s in slots)
