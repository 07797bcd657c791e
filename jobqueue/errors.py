"""The jobqueue exception tree: callers catch meanings, not strings.

QueueError
├── CorruptProgressFile   the progress file (or its sidecar) cannot be understood; nothing was written
├── FileBusy              the progress file cannot be replaced (Windows: open in Excel); nothing was lost
├── LostClaim             the row no longer carries the caller's claim token: stop working on the job
├── IllegalTransition     a job state change that the state machine forbids
├── UnknownJob            an operator command named a job_id that is not in the queue
└── LockTimeout           the queue lock could not be taken in time
"""

from __future__ import annotations

from pathlib import Path


class QueueError(Exception):
    """Root of every error raised by jobqueue."""


class CorruptProgressFile(QueueError):
    """A row or header that cannot be understood; names the physical line (1-based) and column."""

    def __init__(self, path: str | Path, line: int, column: str, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = reason
        where = f"line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{self.path}: {where}: {reason} (the file was not modified)")


class FileBusy(QueueError):
    """The file could not be replaced after bounded retries, usually because Excel holds it open."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(
            f"{self.path} is in use by another program (is it open in Excel?). "
            "Close it in Excel and try again; no change was lost."
        )


class LostClaim(QueueError):
    """The job's row no longer carries this claim's token (it was recovered or re-claimed)."""

    def __init__(self, job_id: str, account: str) -> None:
        self.job_id = job_id
        self.account = account
        super().__init__(f"claim on job {job_id!r} (account {account!r}) was lost; stop working on it")


class IllegalTransition(QueueError):
    """A state change the job state machine does not allow."""

    def __init__(self, job_id: str, from_status: str, to_status: str) -> None:
        self.job_id = job_id
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(f"job {job_id!r}: illegal transition {from_status} -> {to_status}")


class DuplicateJobs(QueueError):
    """Jobs to take over (``import-csv``) whose ids the queue already has: nothing was added."""

    def __init__(self, job_ids: list[str]) -> None:
        self.job_ids = job_ids
        shown = ", ".join(job_ids[:5]) + (f" and {len(job_ids) - 5} more" if len(job_ids) > 5 else "")
        super().__init__(
            f"{len(job_ids)} job id(s) are already in the queue (or twice in the file): {shown};"
            " nothing was imported (importing them would duplicate jobs: a post could go out twice)"
        )


class UnknownJob(QueueError):
    """An operator command named job ids that are not in the queue."""

    def __init__(self, job_ids: list[str]) -> None:
        self.job_ids = job_ids
        super().__init__(f"unknown job id(s): {', '.join(job_ids)}")


class QueueUnavailable(QueueError):
    """The queue cannot be reached for now (its database is down or unreachable): try again later;
    nothing was changed, or the change is settled when it answers again."""


class LockTimeout(QueueError):
    """The queue lock was not acquired within the store's lock timeout."""

    def __init__(self, path: str | Path, timeout_s: float) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        super().__init__(f"could not lock {self.path} within {timeout_s:.1f} s")
