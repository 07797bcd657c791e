"""The chaos suite's event log, rebuilt from what the processes already write, and the pure checks on it.

Sources: `logs/worker_N.log` (one line per event with `job=` / `account=`; a worker incarnation
starts with `worker N started (pid P, ...)`), the simulator's publishes, and the CSV samples.

A *hold* is one worker incarnation working on one claimed job: from its `claimed job` line to its
last attempt line for that job (`worker.job`, or its executor's `worker.executors.*`). Every such
line is logged inside the attempt, i.e.
while the claim is held and before the outcome is recorded under the lock; the next claim of the
same job or account by another worker can only happen after that record, so its `claimed job` line
is later. Two holds of one job (or one account) by different incarnations that overlap mean the
queue handed the same work to two workers at once. A worker killed mid-job simply ends its hold
at its last line (it drives nothing after its death).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d{4}) W(?P<worker>\d+) (?P<level>\w+) "
    r"(?P<logger>[\w.]+)(?: job=(?P<job>\S+) account=(?P<account>\S+))?: (?P<message>.*)$"
)
STARTED = re.compile(r"^worker (?P<worker>\d+) started \(pid (?P<pid>\d+)")
ATTEMPT_LOGGERS = ("worker.job", "worker.executors.")
# GeeLark said nothing was posted (a task refused or failed before posting): the claim is as before
# its checkpoint, and a later attempt is no repost.
WITHDRAWN = "checkpoint withdrawn"
CLAIMED = re.compile(r"^claimed job (?P<job>\S+) for account (?P<account>\S+)")


@dataclass(frozen=True)
class LogLine:
    at: datetime
    worker_id: int
    pid: int | None  # the incarnation (from the last `started` line), None before the first one
    logger: str
    job_id: str | None
    account: str | None
    message: str


@dataclass(frozen=True)
class Hold:
    """One worker incarnation working on one job, from its claim to its last in-attempt line."""

    worker_id: int
    pid: int | None
    job_id: str
    account: str
    start: datetime
    end: datetime
    checkpointed: bool

    @property
    def holder(self) -> tuple[int, int | None]:
        return (self.worker_id, self.pid)

    def describe(self) -> str:
        return (
            f"W{self.worker_id}/pid {self.pid} held {self.job_id} @{self.account}"
            f" {self.start:%H:%M:%S.%f}-{self.end:%H:%M:%S.%f}"
        )


@dataclass(frozen=True)
class Overlap:
    key: str  # the job or account held twice
    first: Hold
    second: Hold

    def describe(self) -> str:
        return f"{self.key}: {self.first.describe()} while {self.second.describe()}"


def parse_worker_log(lines: Iterable[str]) -> Iterator[LogLine]:
    """The events of one `worker_N.log` (lines that do not match, e.g. tracebacks, are skipped)."""
    pid: int | None = None
    for raw in lines:
        m = LINE.match(raw.rstrip("\n"))
        if m is None:
            continue
        message = m["message"]
        started = STARTED.match(message)
        if started is not None:
            pid = int(started["pid"])
        yield LogLine(
            at=datetime.strptime(m["at"], "%Y-%m-%dT%H:%M:%S.%f%z"),
            worker_id=int(m["worker"]),
            pid=pid,
            logger=m["logger"],
            job_id=m["job"],
            account=m["account"],
            message=message,
        )


def read_worker_logs(logs_dir: Path) -> list[LogLine]:
    events: list[LogLine] = []
    for path in sorted(logs_dir.glob("worker_*.log")):
        if path.name.endswith(".console.log"):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            events.extend(parse_worker_log(fh))
    return events


def holds(events: Sequence[LogLine]) -> list[Hold]:
    """Every hold in the logs: a `claimed job` line opens one, `worker.job` lines extend it."""
    open_holds: dict[tuple[int, int | None], Hold] = {}
    done: list[Hold] = []
    for e in events:
        key = (e.worker_id, e.pid)
        claimed = CLAIMED.match(e.message) if e.logger == "worker.loop" else None
        if claimed is not None:
            if key in open_holds:
                done.append(open_holds.pop(key))
            open_holds[key] = Hold(e.worker_id, e.pid, claimed["job"], claimed["account"], e.at, e.at, False)
            continue
        current = open_holds.get(key)
        if current is None or not e.logger.startswith(ATTEMPT_LOGGERS) or e.job_id != current.job_id:
            continue
        checkpointed = current.checkpointed or e.message.startswith("checkpoint recorded")
        checkpointed = checkpointed and not e.message.startswith(WITHDRAWN)
        open_holds[key] = Hold(
            current.worker_id, current.pid, current.job_id, current.account, current.start, e.at, checkpointed
        )
    return done + list(open_holds.values())


def overlaps(all_holds: Sequence[Hold], by: str) -> list[Overlap]:
    """Holds of the same job (`by="job"`) or account (`by="account"`) by different incarnations
    whose time spans intersect (touching ends do not count: log times have millisecond steps)."""
    groups: dict[str, list[Hold]] = defaultdict(list)
    for h in all_holds:
        groups[h.job_id if by == "job" else h.account].append(h)
    found = []
    for key, group in groups.items():
        group.sort(key=lambda h: h.start)
        latest: Hold | None = None  # the hold reaching furthest so far
        for h in group:
            if latest is not None and latest.holder != h.holder and h.start < latest.end:
                found.append(Overlap(key, latest, h))
            if latest is None or h.end > latest.end:
                latest = h
    return found


@dataclass(frozen=True)
class PublishCheck:
    per_job: dict[str, int]
    posted_twice: dict[str, int]
    success_without_one_publish: dict[str, int]
    published_but_not_done: dict[str, str]  # job -> status: posted yet pending/retrying/failed
    untagged: int


def check_publishes(publishes: Sequence[dict[str, Any]], statuses: dict[str, str]) -> PublishCheck:
    """Publishes per job: at most one; exactly one for a success; none for a job that may still run
    or that failed before its publish checkpoint (a failure after it goes to review)."""
    per_job = Counter(str(p.get("jobTag", "")) for p in publishes)
    untagged = per_job.pop("", 0)
    return PublishCheck(
        per_job=dict(per_job),
        posted_twice={j: n for j, n in per_job.items() if n > 1},
        success_without_one_publish={
            j: per_job.get(j, 0) for j, s in statuses.items() if s == "success" and per_job.get(j, 0) != 1
        },
        published_but_not_done={
            j: statuses.get(j, "unknown") for j in per_job if statuses.get(j) not in ("success", "review")
        },
        untagged=untagged,
    )


def claimed_rows_per_account(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """From one sample of (job_id, account) claimed rows: accounts with more than one claimed job."""
    per: dict[str, list[str]] = defaultdict(list)
    for job_id, account in rows:
        per[account].append(job_id)
    return {a: jobs for a, jobs in per.items() if len(jobs) > 1}


@dataclass(frozen=True)
class JournalReplay:
    """The queue journal replayed in its own order (the order the queue's lock imposed)."""

    entries: int
    claims: int
    claimed_jobs: frozenset[str]
    double_job: tuple[str, ...]  # a job claimed while another claim on it was open
    double_account: tuple[str, ...]  # an account claimed while another of its jobs was claimed
    claimed_after_checkpoint: tuple[str, ...]  # attempted again after its publish tap (no requeue)
    unposted: frozenset[str] = frozenset()  # jobs the queue was told, after a checkpoint, were not posted


def replay_journal(entries: Iterable[dict[str, Any]], killed: set[tuple[int, int]]) -> JournalReplay:
    """Replay job entries; `killed` are the (worker id, pid) incarnations SIGKILLed during the run.

    A kill between the progress file's write and the journal's append loses that one line, so an
    open claim of a killed incarnation may have ended unseen: a later claim over it is not counted.
    A claim over a live incarnation's open claim is a double claim. A checkpoint ends only by an
    operator's requeue, or by the executor's word that nothing was posted: a withdrawn checkpoint,
    or a review settled from its GeeLark task to anything but review or success.
    """
    open_job: dict[str, tuple[str, int | None, int | None]] = {}  # job -> account, worker, pid
    open_account: dict[str, str] = {}  # account -> job
    checkpointed: set[str] = set()
    claimed: set[str] = set()
    double_job: list[str] = []
    double_account: list[str] = []
    again: list[str] = []
    unposted: set[str] = set()
    count = claims = 0
    for e in entries:
        count += 1
        job, status = e.get("job"), e.get("status")
        if not isinstance(job, str) or not isinstance(status, str):
            continue  # seeds and account events
        account = str(e.get("account", ""))
        if e.get("op") == "requeue":
            checkpointed.discard(job)  # the operator decided: it may be attempted again
        if e.get("op") == "withdraw_checkpoint" or (
            e.get("op") == "settle_review" and status not in ("review", "success")
        ):
            if job in checkpointed or e.get("op") == "settle_review":
                unposted.add(job)
            checkpointed.discard(job)
        if status != "claimed":
            _close(open_job, open_account, job)
            continue
        if e.get("op") != "claim":
            if e.get("checkpoint"):
                checkpointed.add(job)
            continue
        claims += 1
        claimed.add(job)
        at = str(e.get("at"))
        if job in checkpointed:
            again.append(f"{job} claimed again at {at} after its publish checkpoint")
        if job in open_job and _alive(open_job[job], killed):
            double_job.append(f"{job} claimed at {at} while claimed by W{open_job[job][1]}")
        other = open_account.get(account)
        if other is not None and other != job and _alive(open_job[other], killed):
            double_account.append(f"{account}: {job} claimed at {at} while {other} was claimed")
        _close(open_job, open_account, job)
        if other is not None:
            _close(open_job, open_account, other)
        open_job[job] = (account, _int(e.get("worker")), _int(e.get("worker_pid")))
        open_account[account] = job
    return JournalReplay(
        count,
        claims,
        frozenset(claimed),
        tuple(double_job),
        tuple(double_account),
        tuple(again),
        frozenset(unposted),
    )


def _close(
    open_job: dict[str, tuple[str, int | None, int | None]], open_account: dict[str, str], job: str
) -> None:
    held = open_job.pop(job, None)
    if held is not None and open_account.get(held[0]) == job:
        del open_account[held[0]]


def _alive(holder: tuple[str, int | None, int | None], killed: set[tuple[int, int]]) -> bool:
    _, worker, pid = holder
    return worker is None or pid is None or (worker, pid) not in killed


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
