"""The gate span the PostgreSQL store keeps per account (``jobqueue.schedule``) says exactly what the
gate (``jobqueue.gate``) says, at every moment from the span's computation until its window closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue import AccountsState
from jobqueue.gate import AccountFacts, account_gate
from jobqueue.model import AccountCooldown
from jobqueue.policy import QueuePolicy
from jobqueue.posting import AccountRules, PostingWindow
from jobqueue.schedule import PostDay, after_post, gate_span, window_close

T0 = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the weekend Europe's clocks change
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
WINDOWS = (None, "09:00-17:00", "22:00-02:00", "06:30-06:45", "00:00-24:00")

rules_st = st.builds(
    AccountRules,
    daily_limit=st.integers(0, 3),
    timezone=st.sampled_from(ZONES),
    window=st.sampled_from(WINDOWS).map(lambda w: PostingWindow.parse(w) if w else None),
    min_spacing_s=st.sampled_from((0.0, 1800.0, 5400.0)),
)
minutes = st.integers(0, 4 * 24 * 60)


@settings(max_examples=400, deadline=None)
@given(
    rules=rules_st,
    posts=st.lists(minutes, max_size=4),
    cooldown=st.one_of(st.none(), minutes),
    at=minutes,
    later=st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=6),
)
def test_the_span_holds_exactly_the_moments_the_gate_is_open(
    rules: AccountRules, posts: list[int], cooldown: int | None, at: int, later: list[int]
) -> None:
    day = PostDay()
    for moment in sorted(T0 + timedelta(minutes=m) for m in posts):
        next_day = after_post(day, moment, rules.timezone)
        assert next_day is not None  # posts in time order: the facts always tell
        day = next_day
    last = day.last_post_at
    until = T0 + timedelta(minutes=cooldown) if cooldown is not None else None
    start = max(T0 + timedelta(minutes=at), last or T0)
    gate_at, gate_until = gate_span(rules, day, blocked=False, cooldown_until=until, at=start)
    policy = QueuePolicy(accounts={"a": rules})
    state = AccountsState(cooldowns={"a": AccountCooldown("a", "x", until)} if until else {})
    post_times = sorted(T0 + timedelta(minutes=m) for m in posts)
    for offset in later:
        now = start + timedelta(minutes=offset)
        today = [m for m in post_times if _same_day(m, now, rules.timezone)]
        facts = AccountFacts(0, len(today), last)
        open_now = account_gate("a", facts, state, now, policy).open
        in_span = gate_at is not None and gate_at <= now and (gate_until is None or now < gate_until)
        if gate_until is None or now < gate_until:
            # within the span's life, the span and the gate agree at every moment
            assert in_span == open_now, (now, gate_at, gate_until)
        else:
            assert not in_span  # past the window's close: computed again before any claim


def _same_day(a: datetime, b: datetime, zone: str | None) -> bool:
    from jobqueue.daily import local_day

    return local_day(a, zone) == local_day(b, zone)


def test_a_window_closes_today_or_after_midnight() -> None:
    berlin = "Europe/Berlin"
    day = PostingWindow.parse("09:00-17:00")
    night = PostingWindow.parse("22:00-02:00")
    assert window_close(day, datetime(2026, 6, 15, 8, 0, tzinfo=UTC), berlin) == datetime(
        2026, 6, 15, 15, 0, tzinfo=UTC
    )
    assert window_close(night, datetime(2026, 6, 15, 21, 0, tzinfo=UTC), berlin) == datetime(
        2026, 6, 16, 0, 0, tzinfo=UTC
    )
    assert window_close(night, datetime(2026, 6, 15, 23, 30, tzinfo=UTC), berlin) == datetime(
        2026, 6, 16, 0, 0, tzinfo=UTC
    )
    assert window_close(PostingWindow.parse("00:00-24:00"), T0, berlin) is None


def test_a_post_on_an_earlier_day_than_the_last_cannot_be_counted_from_the_facts() -> None:
    day = after_post(PostDay(), T0, "UTC")
    assert day is not None and day.posts == 1
    again = after_post(day, T0 + timedelta(hours=1), "UTC")
    assert again is not None and again.posts == 2
    assert after_post(again, T0 + timedelta(days=1), "UTC") == PostDay.of(T0 + timedelta(days=1), 1, "UTC")
    assert after_post(again, T0 - timedelta(days=1), "UTC") is None
