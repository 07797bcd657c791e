"""Jobs whose GeeLark publishing task no worker saw end: settle them from the task's real state.

A worker that dies (or lets go) after creating its job's task leaves the job in `review` with the
task's id, or its name `po:<job_id>` when it died before it learned the id (`Job.external_id`).
Instead of leaving it to a person blind, the run looks the task up (by id with `/task/query`; by
name, one scan of `/task/historyRecords` for all of them) and settles the job the way the worker
would have (`worker.contract.task_settlement`): success with the post's link, a failure by its
code, still running or waiting -> looked at again later. Only a task that cannot be found (after a
grace period: a slow create lands late) leaves the job in review for a person (`task_not_found`).

Runs in the supervision loop (`TaskWatch`), before the run starts (a previous run's jobs), at the
end of a run and in `--stop-all`. Stops: tasks GeeLark has not started are cancelled (the job goes
back without an attempt), running ones are left to finish unless the operator insists (second
Ctrl+C), and GeeLark refuses to stop their phones until they end (43005).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from geelark.client import GeeLarkClient
from geelark.errors import GeeLarkError
from geelark.status import TaskStatus
from geelark.tasks import TASK_NAME_PREFIX, Task, task_name
from geelark.verdict import TaskOutcome, TaskVerdict, deciding_task
from jobqueue import Job, JobStatus, JobStore, Outcome, OutcomeKind, QueueSnapshot, Settlement
from worker.contract import AWAITING_TASK, TASK_NOT_FOUND, task_settlement

log = logging.getLogger(__name__)


def awaiting_task(snapshot: QueueSnapshot) -> list[Job]:
    """Review jobs waiting for their task's final word."""
    return [
        j
        for j in snapshot.jobs
        if j.status is JobStatus.REVIEW and j.external_id and j.error_type in AWAITING_TASK
    ]


class Next(Enum):
    SETTLE = "settle"  # the deciding task ended
    WAIT = "wait"  # it runs, or waits for its turn
    STALE = "stale"  # it waits for longer than a job may take: cancel it
    MISSING = "missing"  # no task found


@dataclass(frozen=True)
class Decision:
    job: Job
    next: Next
    task: Task | None


def decide(job: Job, tasks: Sequence[Task], *, now_s: float, stale_after_s: float) -> Decision:
    """What to do about one job given every task found for it (pure; `now_s` in Unix seconds)."""
    task = deciding_task(tasks)
    if task is None:
        return Decision(job, Next.MISSING, None)
    if task.status.is_final:
        return Decision(job, Next.SETTLE, task)
    if task.status is TaskStatus.WAITING and task.schedule_at and now_s - task.schedule_at > stale_after_s:
        return Decision(job, Next.STALE, task)
    return Decision(job, Next.WAIT, task)


def find_tasks(client: GeeLarkClient, jobs: Sequence[Job]) -> dict[str, tuple[Task, ...]]:
    """Every job's tasks: by its task id (one `/task/query` per 100), else by its name (one scan
    of the last 7 days of history for all of them)."""
    ids = [j.external_id for j in jobs if not j.external_id.startswith(TASK_NAME_PREFIX)]
    by_id = client.query_tasks(ids) if ids else {}
    found: dict[str, tuple[Task, ...]] = {
        j.job_id: (by_id[j.external_id],) for j in jobs if j.external_id in by_id
    }
    names = {task_name(j.job_id): j.job_id for j in jobs if j.job_id not in found}
    if names:
        named: dict[str, list[Task]] = {}
        for task in client.iter_task_history():
            if task.name in names:
                named.setdefault(names[task.name], []).append(task)
        found.update({job_id: tuple(tasks) for job_id, tasks in named.items()})
    return found


@dataclass(frozen=True)
class OpenTask:
    """A job whose task has not ended (or has not been found yet)."""

    job: Job
    task: Task | None

    def describe(self) -> str:
        if self.task is None:
            return f"job {self.job.job_id} @{self.job.account}: its task is not found yet"
        state = self.task.status.name.lower()
        return f"GeeLark task {self.task.id} of job {self.job.job_id} on phone {self.job.account} ({state})"


@dataclass(frozen=True)
class TaskRound:
    settled: tuple[str, ...] = ()  # what was settled, one line each
    open: tuple[OpenTask, ...] = ()
    refused: str = ""  # GeeLark refused work for money reasons (29997): the run stops claiming
    error: str = ""  # GeeLark could not be asked


@dataclass
class TaskSettler:
    """Settles the jobs of `store` that wait for their task; remembers how long a task is missing."""

    store: JobStore
    stale_after_s: float  # a task still waiting after this long (GeeLark-side seconds) is cancelled
    missing_grace_s: float  # a task not found this long after the claim (or since first looked) is given up
    clock: Callable[[], float] = time.monotonic
    missing_since: dict[str, float] = field(default_factory=dict)

    def round(self, client: GeeLarkClient, now: datetime, jobs: Sequence[Job] | None = None) -> TaskRound:
        """Look every waiting job's task up once and settle what ended (`jobs`: the waiting jobs of
        a snapshot the caller just read; None reads the queue)."""
        jobs = awaiting_task(self.store.snapshot()) if jobs is None else jobs
        if not jobs:
            return TaskRound()
        try:
            found = find_tasks(client, jobs)
            settled, open_, refused = [], [], ""
            for job in jobs:
                decision = decide(
                    job, found.get(job.job_id, ()), now_s=now.timestamp(), stale_after_s=self.stale_after_s
                )
                line, still_open, why = self._apply(client, decision, now)
                settled += [line] if line else []
                open_ += [still_open] if still_open else []
                refused = refused or why
        except GeeLarkError as exc:
            return TaskRound(error=str(exc))
        return TaskRound(tuple(settled), tuple(open_), refused)

    def _apply(self, client: GeeLarkClient, d: Decision, now: datetime) -> tuple[str, OpenTask | None, str]:
        job, task = d.job, d.task
        if d.next is Next.MISSING:
            first = self.missing_since.setdefault(job.job_id, self.clock())
            since_claim = (now - job.claimed_at).total_seconds() if job.claimed_at else 0.0
            if max(self.clock() - first, since_claim) < self.missing_grace_s:
                return "", OpenTask(job, None), ""
            message = f"no GeeLark task named {task_name(job.job_id)} was found: check the account"
            return (
                self._settle(
                    job, Settlement(Outcome(OutcomeKind.RETRYABLE, TASK_NOT_FOUND, message), True), now
                ),
                None,
                "",
            )
        self.missing_since.pop(job.job_id, None)
        assert task is not None
        if d.next is Next.WAIT:
            return "", OpenTask(job, task), ""
        if d.next is Next.STALE:
            return (
                self.cancel(client, OpenTask(job, task), now, "it waited longer than a job may take"),
                None,
                "",
            )
        verdict, settlement = settlement_of(client, task)
        refused = verdict.reason if verdict.outcome is TaskOutcome.RUN_STOPPING else ""
        return (
            self._settle(job, settlement, now, f"from GeeLark task {task.id}: {verdict.reason}"),
            None,
            refused,
        )

    def cancel(self, client: GeeLarkClient, item: OpenTask, now: datetime, why: str) -> str:
        """Cancel an open task; a task that had not run gives its job back (no attempt used), one
        that ran may have posted (its job stays in review)."""
        assert item.task is not None
        after = client.cancel_task(item.task.id)
        if after.status is TaskStatus.CANCELLED and after.cost_s == 0:
            reason = f"GeeLark task {after.id} cancelled before it started ({why}): nothing posted"
            return self._settle(item.job, Settlement(None, False, after.id, reason), now, reason)
        if not after.status.is_final:
            return ""
        verdict, settlement = settlement_of(client, after)
        return self._settle(
            item.job,
            settlement,
            now,
            f"task {after.id} cancelled ({why}): {verdict.reason}",
        )

    def _settle(self, job: Job, settlement: Settlement, now: datetime, why: str = "") -> str:
        done = self.store.settle_review(job.job_id, settlement, now, expect_external_id=job.external_id)
        if done is None:
            return ""  # someone else changed the job meanwhile
        link = f" {done.post_url}" if done.post_url else ""
        return f"job {done.job_id} @{done.account} -> {done.status.value}{link} ({why or done.error})"


def cancel_open(
    settler: TaskSettler, client: GeeLarkClient, outcome: TaskRound, now: datetime, *, running_too: bool
) -> list[str]:
    """At a stop: cancel the open tasks GeeLark has not started (their jobs go back to the queue),
    and the running ones too when `running_too` (their jobs stay in review: they may have posted)."""
    lines = []
    for item in outcome.open:
        if item.task is None:
            continue
        unstarted = item.task.status is TaskStatus.WAITING
        if unstarted or running_too:
            why = "the run is stopping" if unstarted else "the operator asked to cancel running tasks"
            try:
                line = settler.cancel(client, item, now, why)
            except GeeLarkError as exc:
                lines.append(f"could not cancel GeeLark task {item.task.id}: {exc}")
                continue
            if line:
                lines.append(f"cancelled GeeLark task {item.task.id}: {line}")
    return lines


def settlement_of(client: GeeLarkClient, task: Task) -> tuple[TaskVerdict, Settlement]:
    """GeeLark's verdict on an ended task (from its detail log) and what it means for the job."""
    verdict = client.task_verdict(task)
    settlement = task_settlement(
        verdict.outcome.value,
        code=verdict.code,
        reason=verdict.reason,
        ran=task.cost_s > 0,
        post_url=verdict.share_link,
    )
    return verdict, Settlement(settlement.outcome, settlement.posted, task.id, settlement.reason)
