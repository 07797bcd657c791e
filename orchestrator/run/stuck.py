"""Which live workers are stuck (pure): silent too long, or on one job past the job timeout.

The worker enforces its own job timeout; this is the backstop for a worker that cannot (blocked in
a call without a timeout). Its claim is recovered by the queue's rules once it has been killed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from runtime.state import Heartbeat


def find_stuck(
    heartbeats: Mapping[int, Heartbeat],
    live: Mapping[int, tuple[int, datetime]],
    now: datetime,
    *,
    job_timeout_s: float,
    heartbeat_timeout_s: float,
) -> dict[int, str]:
    """Worker id -> why it is stuck.

    `live`: worker id -> (pid, last sign of life: its spawn, or the last time its heartbeat file was
    seen; a worker removes that file as it exits, so a missing file alone is no proof of a hang).
    """
    stuck: dict[int, str] = {}
    for wid, (pid, last_seen) in live.items():
        hb = heartbeats.get(wid)
        if hb is None or hb.process.pid != pid:
            silent = (now - last_seen).total_seconds()
            other = "" if hb is None else f" (the heartbeat file names pid {hb.process.pid})"
            if silent > heartbeat_timeout_s:
                stuck[wid] = f"no heartbeat for {silent:.0f}s{other}"
            continue
        on_job = (now - hb.job_started_at).total_seconds() if hb.job_id and hb.job_started_at else 0.0
        silent = (now - hb.heartbeat_at).total_seconds()
        if on_job > job_timeout_s + heartbeat_timeout_s:
            stuck[wid] = (
                f"job {hb.job_id} running {on_job / 60:.1f}m,"
                f" past the job timeout ({job_timeout_s / 60:.1f}m)"
            )
        elif silent > heartbeat_timeout_s:
            stuck[wid] = f"no heartbeat for {silent:.0f}s (step {hb.step})"
    return stuck
