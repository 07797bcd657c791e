"""Posting like a careful person: windows (midnight and DST included), spacing, per-account limits."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue import AccountsState, Job, JobStatus, QueuePolicy
from jobqueue.claim import next_claim
from jobqueue.gate import WaitReason, account_facts, account_gate
from jobqueue.posting import (
    AccountRules,
    PostFacts,
    PostGate,
    PostingWindow,
    next_post_allowed,
    parse_spacing,
    post_gate,
)

BERLIN = "Europe/Berlin"
NO_ACCOUNTS = AccountsState()


def at(zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone))


def test_windows_and_spacings_parse_and_say_what_is_expected_when_wrong() -> None:
    assert str(PostingWindow.parse("9:00-22:00")) == "09:00-22:00"
    assert PostingWindow.parse("22:00-24:00").end == time(0, 0)
    assert [parse_spacing(t) for t in ("3h", "90m", "45s", "1.5h", "600")] == [10800, 5400, 45, 5400, 600]
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        PostingWindow.parse("9-22")
    with pytest.raises(ValueError, match=r"e\.g\. 3h"):
        parse_spacing("three hours")


def test_a_window_that_crosses_midnight_is_open_late_and_early() -> None:
    late = PostingWindow.parse("22:00-02:00")
    assert late.contains(time(23, 30)) and late.contains(time(1, 59)) and not late.contains(time(2, 0))
    noon = at(BERLIN, 2026, 6, 15, 12)
    assert late.next_open(noon, BERLIN) == at(BERLIN, 2026, 6, 15, 22)


def test_the_next_window_start_is_in_the_accounts_zone_across_a_dst_change() -> None:
    window = PostingWindow.parse("09:00-22:00")
    evening_before = at(BERLIN, 2026, 3, 28, 23)  # the clocks go forward that night
    opens = window.next_open(evening_before, BERLIN)
    assert opens == at(BERLIN, 2026, 3, 29, 9)
    assert opens.astimezone(UTC) - evening_before.astimezone(UTC) == timedelta(hours=9)  # 10 on the wall


def test_spacing_then_window_then_a_new_day() -> None:
    rules = AccountRules(
        daily_limit=2, timezone=BERLIN, window=PostingWindow.parse("09:00-22:00"), min_spacing_s=3 * 3600
    )
    posted = at(BERLIN, 2026, 6, 15, 20)
    now = posted + timedelta(minutes=10)
    facts = PostFacts(posts_today=1, last_post_at=posted)
    assert post_gate(rules, facts, now) is PostGate.SPACING
    assert next_post_allowed(rules, facts, now) == at(BERLIN, 2026, 6, 16, 9)  # 23:00 is past the window
    two = PostFacts(posts_today=2, last_post_at=at(BERLIN, 2026, 6, 15, 10))
    assert post_gate(rules, two, at(BERLIN, 2026, 6, 15, 14)) is PostGate.DAILY_LIMIT
    assert next_post_allowed(rules, two, at(BERLIN, 2026, 6, 15, 14)) == at(BERLIN, 2026, 6, 16, 9)
    assert next_post_allowed(AccountRules(daily_limit=0), PostFacts(), now) is None


def job(job_id: str, account: str, **fields: object) -> Job:
    return replace(Job(job_id, account, f"{job_id}.mp4", "c"), **fields)  # type: ignore[arg-type]


def test_each_account_has_its_own_limit_zone_window_and_spacing() -> None:
    policy = QueuePolicy(
        daily_limit=5,
        timezone="UTC",
        accounts={
            "tokyo": AccountRules(daily_limit=1, timezone="Asia/Tokyo"),
            "night": AccountRules(daily_limit=3, timezone="UTC", window=PostingWindow.parse("22:00-06:00")),
        },
    )
    now = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # 01:00 the next day in Tokyo
    jobs = [
        job(
            "t0", "tokyo", status=JobStatus.SUCCESS, completed_at=datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
        ),  # 23:00 JST
        job("t1", "tokyo"),
        job("n1", "night"),
        job("d1", "default"),
    ]
    facts = account_facts(jobs, now, policy)
    gates = {a: account_gate(a, f, NO_ACCOUNTS, now, policy) for a, f in facts.items()}
    assert gates["tokyo"].open  # yesterday's post in Tokyo: a new day there
    assert gates["night"].waiting_for is WaitReason.WINDOW
    assert gates["night"].opens_at == datetime(2026, 6, 15, 22, 0, tzinfo=UTC)
    assert gates["default"].open
    assert policy.rules_for("default").daily_limit == 5


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 48 * 60), min_size=1, max_size=60),
    st.sampled_from(["09:00-22:00", "22:00-02:00", "00:00-24:00", "13:30-14:10"]),
    st.sampled_from([0, 600, 3 * 3600]),
    st.sampled_from(["UTC", BERLIN, "America/New_York"]),
)
def test_no_two_posts_closer_than_the_spacing_and_none_outside_the_window(
    minutes: list[int], window_text: str, spacing_s: int, zone: str
) -> None:
    window = PostingWindow.parse(window_text)
    rules = AccountRules(daily_limit=3, timezone=zone, window=window, min_spacing_s=spacing_s)
    policy = QueuePolicy(accounts={"a": rules})
    start = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)  # spans a DST change in Berlin
    jobs = [job(f"j{i}", "a") for i in range(20)]
    posts: list[datetime] = []
    for minute in sorted(minutes):
        now = start + timedelta(minutes=minute)
        chosen = next_claim(jobs, NO_ACCOUNTS, now, policy)
        if chosen is None:
            continue
        posts.append(now)
        index = jobs.index(chosen)
        jobs[index] = replace(chosen, status=JobStatus.SUCCESS, completed_at=now)
    local = [p.astimezone(ZoneInfo(zone)) for p in posts]
    assert all(window.contains(p.time().replace(tzinfo=None)) for p in local)
    assert all((b - a).total_seconds() >= spacing_s for a, b in itertools.pairwise(posts))
    per_day: dict[object, int] = {}
    for p in local:
        per_day[p.date()] = per_day.get(p.date(), 0) + 1
    assert all(n <= 3 for n in per_day.values())
