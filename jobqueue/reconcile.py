"""An outside edit of the progress file, reconciled with what the queue last wrote (pure).

Operators open ``parallel_progress.csv`` in Excel while a run goes on. A save of an up-to-date copy
is fine; a save of a *stale* copy (read minutes ago, saved now) would move jobs backwards: a posted
job due again, a claim lost, a checkpoint forgotten - a double post. So an edit may change what the
queue does not own yet, never what it does:

- a row of a **stale** copy (its worker, claim, attempts or times differ from the queue's: the queue
  moved on since the copy was read) keeps the queue's version;
- a job the queue has **claimed** keeps every queue field (status, worker, claim token, checkpoint,
  attempts, times, error): it belongs to its worker until the worker settles it;
- a job the queue has **ended** (success, failed, review) cannot become due or claimed through an
  edit (only ``requeue`` does that); a change of an up-to-date row to another end state (e.g.
  failed -> success, "I posted it myself") is taken;
- a **due** job (pending, retrying) takes an edit of its status, except that an edit cannot claim it;
- a job the edit dropped is kept (a stale copy lacks the jobs added since); a job the edit added is
  taken;
- columns the queue does not own (caption, video, the operator's own columns) always take the edit.

Every row kept is reported (``Kept``) so the console and ``--status`` can say which and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from jobqueue.model import Job, JobStatus

DUE = frozenset({JobStatus.PENDING, JobStatus.RETRYING})
ENDED = frozenset({JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.REVIEW})
# The fields the operator owns: an edit of these is always taken.
OPERATOR_FIELDS = ("account", "video_path", "caption", "max_attempts", "not_before")


@dataclass(frozen=True)
class Kept:
    """One row where the queue's version won over the edit, and why."""

    job_id: str
    queue_status: str
    edited_status: str  # "(missing)" when the edit dropped the row
    why: str


def reconcile(queue: Sequence[Job], edited: Sequence[Job]) -> tuple[list[Job], list[Kept]]:
    """The jobs to keep (the edit's order, then the rows it dropped) and the rows where the queue won."""
    ours = {job.job_id: job for job in queue}
    seen: set[str] = set()
    jobs: list[Job] = []
    kept: list[Kept] = []
    for theirs in edited:
        seen.add(theirs.job_id)
        mine = ours.get(theirs.job_id)
        if mine is None:
            jobs.append(theirs)
            continue
        winner, why = _settle(mine, theirs)
        jobs.append(winner)
        if why:
            kept.append(Kept(mine.job_id, mine.status.value, theirs.status.value, why))
    for mine in queue:
        if mine.job_id not in seen:
            jobs.append(mine)
            kept.append(Kept(mine.job_id, mine.status.value, "(missing)", "the edit dropped it: kept"))
    return jobs, kept


def _settle(mine: Job, theirs: Job) -> tuple[Job, str]:
    """The row to keep for one job and, when the queue's version won, why."""
    if _queue_fields(mine) == _queue_fields(theirs):
        return theirs, ""
    operator_edits = {name: getattr(theirs, name) for name in OPERATOR_FIELDS}
    if _progress(mine) != _progress(theirs):
        why = f"{mine.status.value} in the queue, which moved on since this copy was read: an old copy"
        return replace(mine, **operator_edits), why
    if mine.status is JobStatus.CLAIMED:
        why = f"claimed by worker {mine.worker_id}: an edit cannot take a job from its worker"
        return replace(mine, **operator_edits), why
    if mine.status in ENDED and theirs.status not in ENDED:
        why = f"{mine.status.value} in the queue: an edit cannot make it due again (use requeue)"
        return replace(mine, **operator_edits), why
    if theirs.status is JobStatus.CLAIMED:
        why = "an edit cannot claim a job (only a worker can)"
        return replace(mine, **operator_edits), why
    return theirs, ""


def _queue_fields(job: Job) -> tuple[object, ...]:
    return tuple(getattr(job, name) for name in QUEUE_FIELDS)


def _progress(job: Job) -> tuple[object, ...]:
    """The queue fields an operator has no reason to edit: they differ only in a stale copy."""
    return tuple(getattr(job, name) for name in PROGRESS_FIELDS)


QUEUE_FIELDS = (
    "status",
    "worker_id",
    "claimed_at",
    "completed_at",
    "error",
    "attempts",
    "retry_at",
    "error_type",
    "claim_token",
    "worker_pid",
    "checkpoint_at",
    "infra_attempts",
)
# Of those, the ones only the queue changes (an operator edits a status or an error, not these).
PROGRESS_FIELDS = tuple(f for f in QUEUE_FIELDS if f not in ("status", "error", "error_type"))
