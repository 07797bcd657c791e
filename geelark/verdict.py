"""What a publishing task's result means for its job: pure functions on ``Task`` and log lines.

``classify_fail_code`` maps GeeLark's ``failCode`` to an outcome class; ``verify_completed``
refuses to take "completed" on trust (third parties saw status 3 with nothing posted, the logs
showing a failed click on Next/Post/Share); ``judge_task`` combines both for any task state;
``classify_create_error`` does the same for an error of the create call itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from geelark.errors import (
    GeeLarkError,
    InvalidPost,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    UnsupportedFile,
)
from geelark.status import Code, FailCode, TaskStatus
from geelark.tasks import Task


class TaskOutcome(Enum):
    """What the job should do about its task."""

    SUCCESS = "success"  # posted: record it
    PENDING = "pending"  # not finished: poll again (undocumented states count as pending)
    CANCELLED = "cancelled"  # cancelled; whether it ran first is in the verdict's reason
    ACCOUNT = "account"  # the account cannot post: block it, as for the Appium executor
    REVIEW = "review"  # may or may not have posted: a human decides, never retried
    INFRASTRUCTURE = "infrastructure"  # nothing was posted: retry later
    RUN_STOPPING = "run_stopping"  # money or credits ran out: stop claiming for the whole run
    INVALID_JOB = "invalid_job"  # the job's own data cannot be posted (file type, caption length)


ACCOUNT_FAIL_CODES = frozenset(
    {
        FailCode.NOT_LOGGED_IN,
        FailCode.ACCOUNT_BLOCKED,
        FailCode.ACCOUNT_BLOCKED_APPEALABLE,
        FailCode.REPEATED_VIOLATIONS,
        FailCode.ACCOUNT_RESTRICTED,
        FailCode.PHONE_DELETED,
    }
)
REVIEW_FAIL_CODES = frozenset({FailCode.EXECUTION_TIMEOUT, FailCode.SAVED_TO_DRAFTS})
# Failures before anything was published: no network, phone offline or busy, video not uploaded.
INFRASTRUCTURE_FAIL_CODES = frozenset(
    {
        FailCode.PHONE_BUSY,
        FailCode.NO_NETWORK,
        FailCode.NO_NETWORK_AGAIN,
        FailCode.DEVICE_OFFLINE,
        FailCode.DOWNLOAD_FAILED,
        FailCode.UPLOAD_FAILED,
        FailCode.UPLOAD_STALLED,
        FailCode.UPLOAD_FAILING,
        FailCode.UPLOAD_TIMEOUT,
    }
)
RUN_STOPPING_FAIL_CODES = frozenset({FailCode.BALANCE_LOW, Code.TASK_CREDITS_LOW})
RUN_STOPPING_CREATE_CODES = frozenset({Code.TASK_CREDITS_LOW, Code.BALANCE_LOW})
ACCOUNT_CREATE_CODES = frozenset(
    {Code.PHONE_EXPIRED, Code.MONTHLY_NOT_BOUND, Code.TASK_APP_REQUIRED, Code.TASK_APP_VERSION_INVALID}
)

# A failed step is recognised by these words in its log line (case-insensitive)...
FAILURE_SIGNS = ("click failed", "no element found", "element not found", "run failed")
# ...and matters when the step (that line or the action line before it) is about publishing.
PUBLISH_CONTROL = re.compile(r"\b(next|post|share|publish|upload)\b", re.IGNORECASE)
STEP_LOOKBACK = 3


@dataclass(frozen=True)
class TaskVerdict:
    """The outcome for a task, the failure code behind it (if any) and a one-line reason."""

    outcome: TaskOutcome
    task: Task
    code: int | None = None
    reason: str = ""

    @property
    def share_link(self) -> str:
        return self.task.share_link if self.outcome is TaskOutcome.SUCCESS else ""


def classify_fail_code(code: int | None) -> TaskOutcome:
    """ACCOUNT, REVIEW, INFRASTRUCTURE or RUN_STOPPING for a failed task's ``failCode``; a
    missing or unknown code is REVIEW (the caller keeps the code and text)."""
    if code in ACCOUNT_FAIL_CODES:
        return TaskOutcome.ACCOUNT
    if code in INFRASTRUCTURE_FAIL_CODES:
        return TaskOutcome.INFRASTRUCTURE
    if code in RUN_STOPPING_FAIL_CODES:
        return TaskOutcome.RUN_STOPPING
    return TaskOutcome.REVIEW


def failed_step(logs: Sequence[str]) -> tuple[str, str] | None:
    """The first ``(step, failure)`` log-line pair where a step on a publishing control (Next,
    Post, Share, Publish, Upload) failed; None if there is none. The step is the nearest line
    before the failure line that is not itself a failure line."""
    for index, line in enumerate(logs):
        if not _is_failure(line):
            continue
        step = ""
        for back in range(index - 1, max(-1, index - 1 - STEP_LOOKBACK), -1):
            if not _is_failure(logs[back]):
                step = logs[back]
                break
        if PUBLISH_CONTROL.search(step) or PUBLISH_CONTROL.search(line):
            return step, line
    return None


def _is_failure(line: str) -> bool:
    lower = line.lower()
    return any(sign in lower for sign in FAILURE_SIGNS)


def verify_completed(task: Task, logs: Sequence[str], *, allow_empty_logs: bool = False) -> TaskVerdict:
    """SUCCESS only for a COMPLETED task whose logs show no failed publishing step; REVIEW
    otherwise (also for a completed task without logs, unless ``allow_empty_logs``: GeeLark
    documents logs for every finished task, so none means it cannot be checked)."""
    if task.status is not TaskStatus.COMPLETED:
        raise ValueError(f"task {task.id} is {task.status.name}, not COMPLETED")
    if not logs and not allow_empty_logs:
        return TaskVerdict(
            TaskOutcome.REVIEW, task, None, "GeeLark reported completed but gave no log to verify"
        )
    found = failed_step(logs)
    if found is not None:
        step, failure = found
        where = f"{_clip(step)} -> {_clip(failure)}" if step else _clip(failure)
        return TaskVerdict(
            TaskOutcome.REVIEW,
            task,
            None,
            f"GeeLark reported completed but a publishing step failed: {where}",
        )
    return TaskVerdict(TaskOutcome.SUCCESS, task, None, "completed")


def judge_task(task: Task, logs: Sequence[str] = (), *, allow_empty_logs: bool = False) -> TaskVerdict:
    """The verdict for a task in any state (``logs`` matter only for a completed one)."""
    if task.status is TaskStatus.COMPLETED:
        return verify_completed(task, logs, allow_empty_logs=allow_empty_logs)
    if task.status is TaskStatus.FAILED:
        outcome = classify_fail_code(task.fail_code)
        text = task.fail_desc or "no reason given"
        label = f"failCode {task.fail_code}" if task.fail_code is not None else "no failCode"
        unknown = outcome is TaskOutcome.REVIEW and task.fail_code not in REVIEW_FAIL_CODES
        prefix = "unclassified GeeLark " if unknown else "GeeLark "
        return TaskVerdict(outcome, task, task.fail_code, f"{prefix}{label}: {text}")
    if task.status is TaskStatus.CANCELLED:
        ran = f" after running {task.cost_s}s" if task.cost_s else ""
        return TaskVerdict(TaskOutcome.CANCELLED, task, task.fail_code, f"task cancelled{ran}")
    return TaskVerdict(TaskOutcome.PENDING, task, None, f"task {task.status.name.lower()}")


def may_have_posted(task: Task) -> bool:
    """True unless ``task`` ended in a way that published nothing: failed with a code that says
    so (account, infrastructure, run-stopping), or cancelled before it ran. A task that has not
    ended yet may still post."""
    if not task.status.is_final or task.status is TaskStatus.COMPLETED:
        return True
    if task.status is TaskStatus.CANCELLED:
        return task.cost_s > 0
    return classify_fail_code(task.fail_code) is TaskOutcome.REVIEW


def deciding_task(tasks: Sequence[Task]) -> Task | None:
    """Of every task made for one job (one name), the one that decides it: one that has not ended,
    else the newest that may have posted, else the newest (None for no task)."""
    newest_first = sorted(tasks, key=lambda t: (t.schedule_at, t.id), reverse=True)
    running = [t for t in newest_first if not t.status.is_final]
    posting = [t for t in newest_first if may_have_posted(t)]
    ordered = running or posting or newest_first
    return ordered[0] if ordered else None


def classify_create_error(exc: GeeLarkError) -> TaskOutcome:
    """The outcome for an error of ``/task/add`` or ``/rpa/task/...``. Look the task up first
    after an ambiguous create (CreateAmbiguous): if it reaches here anyway it is REVIEW."""
    code = exc.code
    if isinstance(exc, OutcomeUnknown):
        return TaskOutcome.REVIEW
    if isinstance(exc, InvalidPost | UnsupportedFile | InvalidRequest):
        return TaskOutcome.INVALID_JOB
    if code in RUN_STOPPING_CREATE_CODES:
        return TaskOutcome.RUN_STOPPING
    if code in ACCOUNT_CREATE_CODES or isinstance(exc, NotFound):  # this account's phone is unusable
        return TaskOutcome.ACCOUNT
    if exc.account_or_config:  # credentials, permissions, the two-hour lock: nothing will work
        return TaskOutcome.RUN_STOPPING
    return TaskOutcome.INFRASTRUCTURE


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
