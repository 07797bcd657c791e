"""Posting like a careful person (pure): each account's own daily limit, timezone, posting window
and minimum spacing between two posts, and the earliest moment the next post is allowed.

A window is a local wall-clock span ``start-end`` in the account's timezone; it may cross midnight
(``22:00-02:00``). A post is allowed at ``t`` when ``t`` is inside the window, at least
``min_spacing_s`` after the account's last post, and the account has fewer than ``daily_limit``
posts on the calendar day of ``t`` (in its timezone). DST days are handled by working in local wall
time and converting each candidate moment back to an instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from jobqueue.daily import day_bounds, localize, to_zone

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SPACING = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class PostGate(StrEnum):
    """Why no post is allowed now, among the posting rules (checked in this order)."""

    DAILY_LIMIT = "daily_limit"
    WINDOW = "window"
    SPACING = "spacing"


@dataclass(frozen=True)
class PostingWindow:
    """``start`` (inclusive) to ``end`` (exclusive), local wall-clock; ``end < start`` crosses midnight,
    ``end == start`` is the whole day (``00:00-24:00``)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> PostingWindow:
        """``"09:00-22:00"``; raises ValueError with what is expected."""
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a posting window: write it as HH:MM-HH:MM, e.g. 09:00-22:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(
                f"{text!r} is not a posting window: hours 00-23 (24:00 as an end), minutes 00-59"
            )
        end = time(0, 0) if h2 == 24 else time(h2, m2)
        return cls(time(h1, m1), end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, wall: time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def next_open(self, moment: datetime, timezone: str | None) -> datetime:
        """``moment`` itself if it is inside the window, else the window's next start (an instant)."""
        local = to_zone(moment, timezone)
        if self.contains(wall_time(moment, timezone)):
            return moment
        start_today = localize(datetime.combine(local.date(), self.start), timezone)
        if start_today > moment:
            return start_today.astimezone(moment.tzinfo)
        tomorrow = localize(datetime.combine(local.date() + timedelta(days=1), self.start), timezone)
        return tomorrow.astimezone(moment.tzinfo)


def wall_time(moment: datetime, timezone: str | None) -> time:
    """The local wall-clock time of ``moment`` in the zone."""
    return to_zone(moment, timezone).time().replace(tzinfo=None)


def parse_spacing(text: str) -> float:
    """``"3h"``, ``"90m"``, ``"45s"``, ``"1.5h"``, a bare number of seconds; raises ValueError."""
    match = _SPACING.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a spacing: write a number with a unit, e.g. 3h, 90m, 45s")
    value, unit = float(match.group(1)), (match.group(2) or "s").lower()
    return value * _UNIT_S[unit]


@dataclass(frozen=True)
class AccountRules:
    """One account's posting rules (defaults from the config's ``[accounts]`` section)."""

    daily_limit: int = 1
    timezone: str | None = None  # IANA name; None: the machine's local zone
    window: PostingWindow | None = None  # None: any time of day
    min_spacing_s: float = 0.0

    def __post_init__(self) -> None:
        if self.daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")
        if self.min_spacing_s < 0:
            raise ValueError("min_spacing_s must be >= 0")


def rules_from_text(*, daily_limit: int, timezone: str, window: str, min_spacing: str) -> AccountRules:
    """Posting rules from their written form (a config section, cells of the accounts list): an
    empty timezone or window means none. Raises ValueError saying what is expected."""
    return AccountRules(
        daily_limit=daily_limit,
        timezone=timezone or None,
        window=PostingWindow.parse(window) if window else None,
        min_spacing_s=parse_spacing(min_spacing) if min_spacing else 0.0,
    )


@dataclass(frozen=True)
class PostFacts:
    """What the account's jobs say about its posting, at one instant."""

    posts_today: int = 0  # posts (success or maybe-posted review) on today's local day
    last_post_at: datetime | None = None


def post_gate(rules: AccountRules, facts: PostFacts, now: datetime) -> PostGate | None:
    """The first posting rule that forbids a post at ``now`` (None: allowed)."""
    if facts.posts_today >= rules.daily_limit:
        return PostGate.DAILY_LIMIT
    if rules.window is not None and not rules.window.contains(
        to_zone(now, rules.timezone).time().replace(tzinfo=None)
    ):
        return PostGate.WINDOW
    if _spacing_end(rules, facts) > now:
        return PostGate.SPACING
    return None


def next_post_allowed(rules: AccountRules, facts: PostFacts, now: datetime) -> datetime | None:
    """The earliest moment at or after ``now`` a post is allowed by these rules (``now`` if it is);
    None when never (a daily limit of 0)."""
    if rules.daily_limit <= 0:
        return None
    moment = max(now, _spacing_end(rules, facts))
    if moment < day_bounds(now, rules.timezone)[1] and facts.posts_today >= rules.daily_limit:
        moment = day_bounds(now, rules.timezone)[1]  # a new day: its count starts at zero
    if rules.window is not None:
        moment = rules.window.next_open(moment, rules.timezone)
    return moment


def _spacing_end(rules: AccountRules, facts: PostFacts) -> datetime:
    if facts.last_post_at is None or rules.min_spacing_s <= 0:
        return datetime.min.replace(tzinfo=UTC)
    return facts.last_post_at + timedelta(seconds=rules.min_spacing_s)
