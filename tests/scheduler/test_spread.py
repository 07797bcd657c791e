"""The scheduler's plan of `not_before` times: spread over the window, spaced, under the daily limit,
in the account's own timezone (DST days and windows across midnight included)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from jobqueue.daily import local_day
from jobqueue.posting import AccountRules, PostingWindow, wall_time
from scheduler.spread import gap_s, spread

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin


def rules(
    window: str | None = "09:00-21:00", limit: int = 3, spacing_h: float = 0, tz: str = BERLIN
) -> AccountRules:
    return AccountRules(
        daily_limit=limit,
        timezone=tz,
        window=PostingWindow.parse(window) if window else None,
        min_spacing_s=spacing_h * 3600,
    )


def local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M")


def test_posts_are_spread_over_the_window_a_gap_apart_from_its_start() -> None:
    plan = spread(rules(), now=NOW, count=5)
    assert [local(m) for m in plan] == ["01 09:00", "01 13:00", "01 17:00", "02 09:00", "02 13:00"]


def test_jitter_delays_within_a_third_of_the_gap_and_is_reproducible() -> None:
    plan = spread(rules(), now=NOW, count=3, rng=random.Random(7))
    assert plan == spread(rules(), now=NOW, count=3, rng=random.Random(7))
    plain = spread(rules(), now=NOW, count=3)
    for jittered, base in zip(plan, plain, strict=True):
        assert timedelta(0) <= jittered - base <= timedelta(minutes=45)
    assert plan != plain


def test_queued_jobs_without_a_plan_and_earlier_posts_go_first() -> None:
    posted = [datetime(2026, 6, 1, 7, 30, tzinfo=UTC)]  # 09:30 Berlin, today
    plan = spread(rules(limit=2), now=NOW, count=2, posted=posted, unplanned=1)
    # 09:30 posted, the unplanned job at 15:30 (6 h gap), today is full: tomorrow 09:00 and 15:00
    assert [local(m) for m in plan] == ["02 09:00", "02 15:00"]


def test_spacing_wins_over_a_shorter_gap_and_a_limit_of_zero_plans_nothing() -> None:
    plan = spread(rules(window=None, limit=10, spacing_h=5), now=NOW, count=3)
    assert [b - a for a, b in itertools.pairwise(plan)] == [timedelta(hours=5)] * 2
    assert gap_s(rules(window=None, limit=10, spacing_h=5)) == 5 * 3600
    assert spread(rules(limit=0), now=NOW, count=3) == []


def test_a_window_across_midnight_on_the_spring_dst_day() -> None:
    # 29 March 2026: Berlin skips 02:00-03:00; window 22:00-04:00 (6 h, 5 h that night), 2 a day
    plan = spread(rules(window="22:00-04:00", limit=2), now=datetime(2026, 3, 28, 12, tzinfo=UTC), count=4)
    assert all(PostingWindow.parse("22:00-04:00").contains(wall_time(m, BERLIN)) for m in plan)
    assert [b - a >= timedelta(hours=3) for a, b in itertools.pairwise(plan)] == [True] * 3


ZONES = st.sampled_from([BERLIN, "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"])
WINDOWS = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 23), st.sampled_from([0, 30]), st.integers(0, 23), st.sampled_from([0, 15])).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}-{t[2]:02d}:{t[3]:02d}"
    ),
)
MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(
    zone=ZONES,
    window=WINDOWS,
    limit=st.integers(1, 5),
    spacing_h=st.sampled_from([0, 0.5, 2, 5, 30]),
    now=MOMENTS,
    count=st.integers(1, 12),
    posted_ago_h=st.lists(st.floats(0, 72), max_size=4),
    unplanned=st.integers(0, 3),
    seed=st.integers(0, 9),
)
def test_no_two_planned_posts_closer_than_the_spacing_none_outside_the_window_none_over_the_limit(
    zone: str,
    window: str | None,
    limit: int,
    spacing_h: float,
    now: datetime,
    count: int,
    posted_ago_h: list[float],
    unplanned: int,
    seed: int,
) -> None:
    r = rules(window, limit, spacing_h, zone)
    posted = sorted(now - timedelta(hours=h) for h in posted_ago_h)
    plan = spread(r, now=now, count=count, posted=posted, unplanned=unplanned, rng=random.Random(seed))
    assert len(plan) == count
    assert plan == sorted(plan) and plan[0] >= now
    everything = [*posted, *plan]
    spacing = timedelta(seconds=r.min_spacing_s)
    for earlier, later in itertools.pairwise(everything):
        if earlier in plan or later in plan:
            assert later - earlier >= spacing
    for moment in plan:
        assert r.window is None or r.window.contains(wall_time(moment, zone))
    per_day = Counter(local_day(m, zone) for m in everything)
    assert all(per_day[local_day(m, zone)] <= limit for m in plan)


def test_the_window_start_is_a_wall_time_in_the_account_zone() -> None:
    (first,) = spread(rules(tz="America/New_York"), now=NOW, count=1)
    assert first.astimezone(ZoneInfo("America/New_York")).time() == time(9, 0)
