"""Process bodies for the concurrency and crash tests (importable by spawned interpreters)."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from jobqueue import BackoffPolicy, Claim, CsvJobStore, Job, JobStatus, Outcome, OutcomeKind, QueuePolicy


class EventLike(Protocol):
    def set(self) -> None: ...


BUSY_POLICY = QueuePolicy(daily_limit=10_000, timezone="UTC")
CHURN_POLICY = QueuePolicy(
    daily_limit=10_000,
    timezone="UTC",
    backoff=BackoffPolicy(base_s=0, jitter="none"),
    infra_failures_before_cooldown=10**6,
    infra_budget=3,
)


def claim_and_complete(path: str, worker_id: int, log_path: str, work_s: float = 0.0) -> None:
    """Claim and complete zero-duration jobs until none is left; log events taken under the lock.

    No deadline of its own: however slow the machine, it works until the queue is empty (the test's
    timeout is the only clock)."""
    events: list[tuple[int, str, str, str, int]] = []

    def on_commit(operation: str, result: object) -> None:
        if operation == "claim" and isinstance(result, Claim):
            events.append((time.monotonic_ns(), "claim", result.job.job_id, result.job.account, worker_id))
        elif operation == "record" and isinstance(result, Job):
            events.append((time.monotonic_ns(), "complete", result.job_id, result.account, worker_id))

    # No fsync: this test is about locking and fairness; atomic replaces are still used.
    store = CsvJobStore(
        path, BUSY_POLICY, lock_timeout_s=30, on_commit=on_commit, durable=False, journal=True
    )
    while True:
        now = datetime.now(UTC)
        claim = store.claim_next(worker_id, os.getpid(), now)
        if claim is not None:
            if work_s:
                store.checkpoint(claim, now)
                time.sleep(work_s)  # the post itself: its claim is open meanwhile
            store.record(claim, Outcome(OutcomeKind.SUCCESS), now)
            continue
        counts = store.snapshot().counts()
        if counts[JobStatus.PENDING] + counts[JobStatus.RETRYING] + counts[JobStatus.CLAIMED] == 0:
            break
        time.sleep(0.002)  # all accounts are busy: poll again shortly
    Path(log_path).write_text(json.dumps(events))


def churn_forever(store: CsvJobStore, seed: int, running: EventLike) -> None:
    """Claim/record/release/requeue in a loop without end (it is killed with SIGKILL).

    Takes a store whose cache is warm (the process is forked), so it writes from its first milliseconds;
    sets ``running`` once its first write is done.
    """
    rng = random.Random(seed)
    me = os.getpid()
    store.recover_orphans(lambda worker_id, pid: pid == me, datetime.now(UTC))
    store.block_account("nobody", "exercise the sidecar", "", datetime.now(UTC))
    running.set()
    while True:
        now = datetime.now(UTC)
        claim = store.claim_next(1, me, now)
        if claim is None:
            store.requeue(None, [JobStatus.FAILED, JobStatus.REVIEW])
            continue
        roll = rng.random()
        if roll < 0.1:
            store.checkpoint(claim, now)
            store.release(claim, now, "stop")
        elif roll < 0.2:
            store.release(claim, now, "stop")
        elif roll < 0.4:
            store.record(claim, Outcome(OutcomeKind.INFRASTRUCTURE, "adb_timeout"), now)
        else:
            store.record(
                claim, Outcome(OutcomeKind.RETRYABLE, "element_missing", "x" * rng.randrange(80)), now
            )


def save_stale_copies(path: str, saves: int, seed: int, log_path: str) -> None:
    """The operator with Excel, again and again: read the file, wait while the workers go on, mark
    one job that was pending in that copy as failed, and save the old copy over the file."""
    rng = random.Random(seed)
    target = Path(path)
    marked: list[str] = []
    for _ in range(saves):
        stale = target.read_bytes()
        time.sleep(rng.uniform(0.05, 0.3))
        rows = list(csv.reader(io.StringIO(stale.decode("utf-8-sig"), newline="")))
        status = rows[0].index("status")
        pending = [row for row in rows[1:] if row[status] == "pending"]
        if pending:
            row = rng.choice(pending)
            row[status] = "failed"
            marked.append(row[0])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        temp = target.with_name(target.name + ".~excel")
        temp.write_text(out.getvalue(), encoding="utf-8")
        os.replace(temp, target)
    Path(log_path).write_text(json.dumps(marked))
