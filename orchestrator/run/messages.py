"""What the run says when it ends for a reason the operator must act on or wait for."""

from __future__ import annotations

from datetime import datetime

from jobqueue.edits import read_edits
from jobqueue.outlook import Outlook
from orchestrator.run.context import Run
from orchestrator.views.progress import format_duration
from orchestrator.views.report import RunEnd


def say_next_allowed(run: Run, outlook: Outlook, now: datetime) -> None:
    """At the end of a run that is not following: when the posting rules allow the next post."""
    if outlook.next_allowed_at is None:
        return
    wait = format_duration((outlook.next_allowed_at - now).total_seconds())
    gate = run.store.policy.rules_for(outlook.next_allowed_account)
    run.say(
        f"The next post is allowed at {outlook.next_allowed_at.astimezone():%Y-%m-%d %H:%M} (in {wait};"
        f" {outlook.next_allowed_account}: window {gate.window or 'any time'}, spacing"
        f" {format_duration(gate.min_spacing_s)}, {gate.daily_limit} a day). Run again then,"
        " or use --follow to keep waiting"
    )


def disk_full(run: Run, why: str) -> RunEnd:
    run.say(
        f"DISK FULL: {why}. Stopping everything this run started; free some space, then run again"
        " (the queue is kept and the next run recovers where this one stopped)."
    )
    return RunEnd.DISK_FULL


def say_outside_edits(run: Run, seen: set[tuple[str, str]]) -> None:
    """Say each row an outside edit of the progress file could not change (once per edit and job)."""
    for notice in reversed(read_edits(run.settings.paths.progress_file)):
        key = (notice.edit, notice.job_id)
        if key in seen:
            continue
        seen.add(key)
        if notice.at >= run.started_at.isoformat() and not notice.job_id:
            run.say(f"WARNING: {run.settings.paths.progress_file.name}: {notice.why}")
        elif notice.at >= run.started_at.isoformat():
            run.say(
                f"WARNING: {run.settings.paths.progress_file.name} was saved by another program;"
                f" job {notice.job_id} kept as {notice.queue_status} (the edit said"
                f" {notice.edited_status}): {notice.why}"
            )
