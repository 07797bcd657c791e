"""The worker processes of one run: spawn, reap, restart with backoff, kill when stuck, stop.

Decisions come from `supervision` (pure); this module applies them to real processes through a
`Spawner` (tests may pass a fake). Every process is named by its `ProcessRef`, never by name.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from orchestrator.run import supervision as sv
from orchestrator.views.logs import last_error
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs, python_launch, request_stop
from runtime.state import Heartbeat


@dataclass
class WorkerProcess:
    """A worker we started."""

    worker_id: int
    popen: subprocess.Popen[bytes]
    ref: ProcessRef
    console_log: Path | None = None  # stdout/stderr: tracebacks of a crash
    event_log: Path | None = None  # its own log (logs/worker_N.log)

    def poll(self) -> int | None:
        return self.popen.poll()


class Spawner(Protocol):
    def spawn(self, worker_id: int) -> WorkerProcess: ...


@dataclass(frozen=True)
class WorkerLaunch:
    """How to start worker N: `python -m worker --id N --settings F --parent-pid P` in its own group."""

    settings_file: Path
    logs_dir: Path
    cwd: Path
    env: Mapping[str, str]
    parent_pid: int
    module: str = "worker"

    def command(self, worker_id: int) -> list[str]:
        return [
            python_launch().executable,
            "-m",
            self.module,
            "--id",
            str(worker_id),
            "--settings",
            str(self.settings_file),
            "--parent-pid",
            str(self.parent_pid),
        ]

    def spawn(self, worker_id: int) -> WorkerProcess:
        """Start the worker; its stdout/stderr (tracebacks of a crash) go to `worker_N.console.log`."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        console = self.logs_dir / f"worker_{worker_id}.console.log"
        with open(console, "ab") as out:
            popen = subprocess.Popen(
                self.command(worker_id),
                cwd=self.cwd,
                env={**self.env, **python_launch().env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **new_group_popen_kwargs(),
            )
        ref = ProcessRef.of(popen.pid) or ProcessRef(popen.pid, 0.0)
        return WorkerProcess(worker_id, popen, ref, console, self.logs_dir / f"worker_{worker_id}.log")


def _where_to_look(proc: WorkerProcess) -> str:
    """What the console shows of a worker that crashed or was given up: its last error and its logs."""
    error = last_error(proc.event_log) if proc.event_log else None
    files = " and ".join(str(p) for p in (proc.event_log, proc.console_log) if p is not None)
    return (f"; last error: {error}" if error else "") + (f"; see {files}" if files else "")


class FleetEventKind(StrEnum):
    SPAWNED = "spawned"
    EXITED = "exited"  # nothing due for it
    CRASHED = "crashed"  # will be restarted after a backoff
    FATAL = "fatal"  # given up for the rest of the run
    KILLED = "killed"  # by us, for being stuck
    STOPPED = "stopped"  # on our request


@dataclass(frozen=True)
class FleetEvent:
    worker_id: int
    kind: FleetEventKind
    message: str
    pid: int | None = None


@dataclass
class Fleet:
    """N worker slots and the processes behind them."""

    count: int
    spawner: Spawner
    policy: sv.RestartPolicy
    slots: dict[int, sv.WorkerSlot] = field(default_factory=dict)
    procs: dict[int, WorkerProcess] = field(default_factory=dict)
    kill_reasons: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = {n: sv.WorkerSlot(n) for n in range(self.count)}

    # -- observing -------------------------------------------------------------------------------

    def reap(self, now: float) -> list[FleetEvent]:
        """Notice exits and promote STARTING workers that stayed up."""
        events = []
        for wid, proc in list(self.procs.items()):
            code = proc.poll()
            slot = self.slots[wid]
            if code is None:
                self.slots[wid] = sv.observed_alive(slot, now, self.policy)
                continue
            del self.procs[wid]
            reason = self.kill_reasons.pop(wid, "")
            new = sv.exited(slot, code, now=now, policy=self.policy, reason=reason)
            self.slots[wid] = new
            events.append(self._exit_event(new, proc))
        return events

    def _exit_event(self, slot: sv.WorkerSlot, proc: WorkerProcess) -> FleetEvent:
        wid = slot.worker_id
        pid = proc.ref.pid
        if slot.state is sv.WorkerState.STOPPED:
            return FleetEvent(
                wid, FleetEventKind.STOPPED, f"W{wid} stopped (exit code {slot.last_exit_code})", pid
            )
        if slot.state is sv.WorkerState.EXITED:
            return FleetEvent(wid, FleetEventKind.EXITED, f"W{wid} finished: nothing due for it", pid)
        where = _where_to_look(proc)
        if slot.state is sv.WorkerState.FATAL:
            return FleetEvent(wid, FleetEventKind.FATAL, f"W{wid} GIVEN UP: {slot.reason}{where}", pid)
        wait = (slot.restart_at or slot.since) - slot.since
        message = f"W{wid} crashed ({slot.reason}); restart in {wait:.1f}s{where}"
        return FleetEvent(wid, FleetEventKind.CRASHED, message, pid)

    def alive_ids(self) -> set[int]:
        return set(self.procs)

    def alive_pids(self) -> set[int]:
        return {p.ref.pid for p in self.procs.values()}

    def refs(self) -> dict[int, ProcessRef]:
        return {wid: p.ref for wid, p in self.procs.items()}

    # -- acting ----------------------------------------------------------------------------------

    def spawn_one(self, wanted: int, now: float) -> FleetEvent | None:
        """Start one more worker if fewer than `wanted` are alive and a slot may start now."""
        if len(self.procs) >= min(wanted, self.count):
            return None
        candidates = [
            s
            for s in self.slots.values()
            if s.state in (sv.WorkerState.STOPPED, sv.WorkerState.EXITED) or sv.restart_due(s, now)
        ]
        ready = [
            s
            for s in candidates
            if s.state is not sv.WorkerState.EXITED or now - s.since >= self.policy.backoff_base_s
        ]
        if not ready:
            return None
        slot = min(ready, key=lambda s: (s.state is sv.WorkerState.BACKOFF, s.worker_id))
        proc = self.spawner.spawn(slot.worker_id)
        self.procs[slot.worker_id] = proc
        self.slots[slot.worker_id] = sv.spawned(slot, now)
        again = {
            sv.WorkerState.BACKOFF: " again after its crash",
            sv.WorkerState.EXITED: " again: work is due",
        }
        again_text = again.get(slot.state, "")
        return FleetEvent(
            slot.worker_id,
            FleetEventKind.SPAWNED,
            f"W{slot.worker_id} started{again_text}, pid {proc.ref.pid}",
        )

    def kill(
        self, worker_id: int, reason: str, *, heartbeat: Heartbeat | None, grace_s: float = 3.0
    ) -> FleetEvent:
        """Kill a worker's process tree (and its recorded Appium server); the exit is reaped later."""
        proc = self.procs.get(worker_id)
        self.kill_reasons[worker_id] = reason
        if proc is not None:
            kill_tree(proc.ref, grace_s=grace_s)
        if heartbeat is not None and heartbeat.appium is not None:
            kill_tree(heartbeat.appium, grace_s=grace_s)
        return FleetEvent(worker_id, FleetEventKind.KILLED, f"W{worker_id} killed: {reason}")

    def request_stop(self, now: float) -> None:
        """Ask every live worker to stop at its next safe point (signal; the stop file is the caller's)."""
        for wid, slot in list(self.slots.items()):
            self.slots[wid] = sv.stopping(slot, now)
        for proc in self.procs.values():
            request_stop(proc.ref)

    def kill_all(self, heartbeats: Mapping[int, Heartbeat], grace_s: float = 3.0) -> list[FleetEvent]:
        """Hard stop: the process tree of every live worker and every recorded Appium server."""
        events = [
            self.kill(wid, "hard stop", heartbeat=heartbeats.get(wid), grace_s=grace_s)
            for wid in list(self.procs)
        ]
        for wid, hb in heartbeats.items():
            if wid not in self.procs and hb.appium is not None:
                kill_tree(hb.appium, grace_s=grace_s)
        return events

    def all_down(self) -> bool:
        return not self.procs

    def given_up(self) -> bool:
        return sv.all_given_up(list(self.slots.values()))
