"""Calendar days in the policy's timezone: daily success counts that hold across midnight and DST.

A timezone of None means the machine's local zone; Python's ``astimezone()`` applies its DST rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from jobqueue.model import Job, JobStatus


def ensure_aware(moment: datetime) -> datetime:
    """``moment`` itself if timezone-aware; a naive one is taken as machine-local time."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def to_zone(moment: datetime, timezone: str | None) -> datetime:
    """``moment`` expressed in the zone (same instant)."""
    moment = ensure_aware(moment)
    return moment.astimezone(ZoneInfo(timezone)) if timezone else moment.astimezone()


def localize(naive: datetime, timezone: str | None) -> datetime:
    """A naive wall-clock time read as local time in the zone (how the original tool wrote times)."""
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=ZoneInfo(timezone)) if timezone else naive.astimezone()


def local_day(moment: datetime, timezone: str | None) -> date:
    """The calendar day of ``moment`` in the zone."""
    return to_zone(moment, timezone).date()


def _midnight(day: date, timezone: str | None) -> datetime:
    wall = datetime(day.year, day.month, day.day)
    return localize(wall, timezone).astimezone(UTC)


def day_bounds(now: datetime, timezone: str | None) -> tuple[datetime, datetime]:
    """[start, end) of the calendar day containing ``now`` in the zone, as UTC datetimes.

    The day is 23 or 25 hours long on DST change days; comparisons stay exact.
    """
    day = local_day(now, timezone)
    return _midnight(day, timezone), _midnight(day + timedelta(days=1), timezone)


def successes_on_day(jobs: Iterable[Job], now: datetime, timezone: str | None) -> Counter[str]:
    """Per account, the successes whose ``completed_at`` falls on the calendar day of ``now``."""
    today = local_day(now, timezone)
    return Counter(
        job.account
        for job in jobs
        if job.status is JobStatus.SUCCESS
        and job.completed_at is not None
        and local_day(job.completed_at, timezone) == today
    )
