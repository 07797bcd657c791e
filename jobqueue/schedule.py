"""An account's posting facts kept as a few values, and when its gate opens (pure).

The PostgreSQL store claims by account rows (``jobqueue.pgstore``): each row holds the facts below
and a span ``[gate_at, gate_until)`` in which the account's posting rules, block and cooldown allow a
post. The span is computed here with the same rules as ``jobqueue.gate`` (``next_post_allowed``), so
an account whose span holds ``now`` and that has a due job, holds no claim, is exactly an account
whose gate is open at ``now``. A span whose window closed before the account was claimed is
computed again at the moment of the next claim.

The facts hold for any moment at or after the account's last post: its posts on the local day of
that post, and the bounds of that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from jobqueue.daily import day_bounds, localize, to_zone
from jobqueue.model import Job, JobStatus
from jobqueue.posting import AccountRules, PostFacts, PostingWindow, next_post_allowed

# Before any moment the queue works with: the start for an account that never posted.
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PostDay:
    """An account's last post, the local day it fell on (``start``..``end``) and its posts that day."""

    start: datetime | None = None
    end: datetime | None = None
    posts: int = 0
    last_post_at: datetime | None = None

    def posts_at(self, moment: datetime) -> int:
        """Posts on the local day of ``moment`` (for a moment at or after the last post)."""
        if self.start is None or self.end is None:
            return 0
        return self.posts if self.start <= moment < self.end else 0

    @classmethod
    def of(cls, last_post_at: datetime | None, posts_that_day: int, timezone: str | None) -> PostDay:
        if last_post_at is None:
            return cls()
        start, end = day_bounds(last_post_at, timezone)
        return cls(start, end, posts_that_day, last_post_at)


def after_post(day: PostDay, completed_at: datetime, timezone: str | None) -> PostDay | None:
    """The facts after one more post completed at ``completed_at``; None when that post falls on an
    earlier day than the last one (the facts cannot tell: count again from the jobs)."""
    if day.start is None or day.end is None or day.last_post_at is None:
        return PostDay.of(completed_at, 1, timezone)
    if completed_at >= day.end:
        return PostDay.of(completed_at, 1, timezone)
    if completed_at < day.start:
        return None
    return PostDay(day.start, day.end, day.posts + 1, max(day.last_post_at, completed_at))


def window_close(window: PostingWindow, moment: datetime, timezone: str | None) -> datetime | None:
    """The instant the window that holds ``moment`` closes (None: a whole-day window never does)."""
    if window.start == window.end:
        return None
    local = to_zone(moment, timezone)
    wall = local.time().replace(tzinfo=None)
    day = local.date()
    if window.start > window.end and wall >= window.start:  # crosses midnight: it closes tomorrow
        day = day.fromordinal(day.toordinal() + 1)
    return localize(datetime.combine(day, window.end), timezone).astimezone(UTC)


def gate_span(
    rules: AccountRules,
    day: PostDay,
    *,
    blocked: bool,
    cooldown_until: datetime | None,
    at: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """``(gate_at, gate_until)``: from ``gate_at`` (the earliest moment at or after ``at``, the last
    post and the cooldown's end that the rules allow a post) until ``gate_until`` (the close of the
    posting window that holds ``gate_at``; None: no end). ``(None, None)`` when only an event opens
    the gate (a block: the operator's unblock; a daily limit of 0: a new config)."""
    if blocked:
        return None, None
    moment = max(at or FLOOR, day.last_post_at or FLOOR, cooldown_until or FLOOR)
    opens = next_post_allowed(rules, PostFacts(day.posts_at(moment), day.last_post_at), moment)
    if opens is None:
        return None, None
    until = window_close(rules.window, opens, rules.timezone) if rules.window is not None else None
    return opens, until


# "Due already": earlier than any moment the queue works with (and readable back from the database,
# unlike -infinity).
ALREADY = datetime(1970, 1, 1, tzinfo=UTC)


def due_at(job: Job) -> datetime | None:
    """From when a waiting job is due (``jobqueue.claim.is_due`` holds at every later moment);
    None for a job that is not waiting or has no account (never claimed as it is)."""
    if not job.account or job.status not in (JobStatus.PENDING, JobStatus.RETRYING):
        return None
    due = job.not_before or ALREADY
    if job.status is JobStatus.RETRYING and job.retry_at is not None:
        due = max(due, job.retry_at)
    return due
