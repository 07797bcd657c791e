"""While GeeLark is unreachable: say so, claim nothing, probe with backoff, resume when it answers.

Workers give their claims back without using an attempt and record the outage
(`runtime.outage`); the loop then waits here instead of letting every job burn its infrastructure
budget against a cloud that is down (a run that did so once failed all 30 of its jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geelark.errors import GeeLarkError
from orchestrator.adapters.geelark_api import client_settings
from orchestrator.run.context import Run, now_local
from orchestrator.views.progress import format_duration
from runtime.outage import Outage, OutageRecord

PROBE_FIRST_S = 5.0
PROBE_CAP_S = 120.0
REMINDER_EVERY_S = 60.0


@dataclass
class OutageWatch:
    """The loop's memory of the outage in force (monotonic seconds)."""

    since: datetime | None = None
    next_probe: float = 0.0
    backoff_s: float = PROBE_FIRST_S
    next_reminder: float = 0.0


def geelark_down(run: Run, watch: OutageWatch, mono: float) -> bool:
    """True while the run records GeeLark as unreachable; probes it when due and clears the record
    once it answers."""
    record = OutageRecord(run.run_dir)
    outage = record.current()
    if outage is None:
        return False
    if watch.since != outage.since:
        watch.since, watch.next_probe, watch.backoff_s = (
            outage.since,
            mono,
            run.on_geelark_clock(PROBE_FIRST_S),
        )
        watch.next_reminder = mono + REMINDER_EVERY_S
        run.say(_announcement(outage))
    if mono >= watch.next_probe:
        if probe(run):
            record.clear()
            down = format_duration((now_local() - outage.since).total_seconds())
            run.say(f"GeeLark answers again (it was unreachable for {down}): claiming resumes")
            watch.since = None
            return False
        watch.next_probe = mono + watch.backoff_s
        watch.backoff_s = min(watch.backoff_s * 2, run.on_geelark_clock(PROBE_CAP_S))
    if mono >= watch.next_reminder:
        watch.next_reminder = mono + REMINDER_EVERY_S
        down = format_duration((now_local() - outage.since).total_seconds())
        wait = format_duration(watch.next_probe - mono)
        run.say(f"Still waiting for GeeLark (unreachable for {down}; next probe in {wait})")
    return True


def _announcement(outage: Outage) -> str:
    return (
        f"GeeLark is unreachable since {outage.since.astimezone():%H:%M:%S}"
        f" ({outage.reported_by}: {outage.reason}). No job or account is charged for it: claiming"
        f" pauses, and GeeLark is probed every {PROBE_FIRST_S:.0f}s to {PROBE_CAP_S:.0f}s until it answers"
    )


def probe(run: Run) -> bool:
    """One quick call (no retries, short time-outs): does GeeLark answer? Errors that are GeeLark's
    answer (a code) count as answering; only silence counts as down."""
    from geelark.client import GeeLarkClient  # imported here: the loop must not pay for it at start

    gl = client_settings(run.settings, run.env, simulator_url=run.simulator_url, quick=True)
    if not (gl.token or (gl.app_id and gl.api_key)):
        return True  # nothing to probe with: workers will find out themselves
    try:
        with GeeLarkClient(gl) as client:
            client.list_phones(page=1, page_size=1)
    except GeeLarkError as exc:
        return not exc.unreachable
    return True
