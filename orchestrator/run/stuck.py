"""Which live workers are stuck (pure): silent too long, or on one job past the job timeout.

The worker enforces its own job timeout; this is the backstop for a worker that cannot (blocked in
a call without a timeout). Its claim is recovered by the queue's rules once it has been killed.

Ages are measured on the orchestrator's monotonic clock, never from the wall-clock times written in
heartbeats: a clock step (NTP, a laptop waking from sleep, an operator setting the time) must not
make every worker look silent or past its timeout. A heartbeat's wall-clock time is only compared
with the previous one to notice that it *changed*; the monotonic moment of that observation is
what counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from runtime.state import Heartbeat


@dataclass(frozen=True)
class WorkerWatch:
    """What the orchestrator last saw of one live worker process, in monotonic seconds."""

    pid: int
    alive_since: float  # spawn, or the last time its heartbeat changed
    beat: object = None  # the last heartbeat time seen (compared only for a change)
    job_id: str | None = None
    job_since: float = 0.0  # when this job was first seen in its heartbeat


def observe(previous: WorkerWatch | None, pid: int, heartbeat: Heartbeat | None, mono: float) -> WorkerWatch:
    """The watch after one look at the worker's heartbeat file (None: no file, or another pid's)."""
    watch = previous if previous is not None and previous.pid == pid else WorkerWatch(pid, mono)
    if heartbeat is None or heartbeat.process.pid != pid:
        return watch
    if heartbeat.heartbeat_at != watch.beat:
        watch = replace(watch, alive_since=mono, beat=heartbeat.heartbeat_at)
    if heartbeat.job_id != watch.job_id:
        watch = replace(watch, job_id=heartbeat.job_id, job_since=mono)
    return watch


def find_stuck(
    watches: Mapping[int, WorkerWatch],
    heartbeats: Mapping[int, Heartbeat],
    mono: float,
    *,
    job_timeout_s: float,
    heartbeat_timeout_s: float,
) -> dict[int, str]:
    """Worker id -> why it is stuck. A worker removes its heartbeat file as it exits, so a missing
    file alone is no proof of a hang: only silence longer than the heartbeat timeout is."""
    stuck: dict[int, str] = {}
    for wid, watch in watches.items():
        silent = mono - watch.alive_since
        hb = heartbeats.get(wid)
        ours = hb is not None and hb.process.pid == watch.pid
        on_job = mono - watch.job_since if watch.job_id else 0.0
        if ours and on_job > job_timeout_s + heartbeat_timeout_s:
            stuck[wid] = (
                f"job {watch.job_id} running {on_job / 60:.1f}m,"
                f" past the job timeout ({job_timeout_s / 60:.1f}m)"
            )
        elif silent > heartbeat_timeout_s:
            if hb is None:
                where = ""
            elif ours:
                where = f" (step {hb.step})"
            else:
                where = f" (the heartbeat file names pid {hb.process.pid})"
            stuck[wid] = f"no heartbeat for {silent:.0f}s{where}"
    return stuck
