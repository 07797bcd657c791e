"""The assignment rules, as properties (hypothesis)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.assign import plan_assignments
from scheduler.model import video_key

names = st.lists(st.from_regex(r"[a-z][a-z0-9_.]{0,6}", fullmatch=True), min_size=0, max_size=6, unique=True)
video_ids = st.lists(
    st.from_regex(r"[A-Za-z0-9]{1,5}-[0-9]", fullmatch=True), max_size=30, unique_by=str.casefold
)


@st.composite
def problems(draw: st.DrawFn, with_ledger: bool = True) -> dict:
    accounts = draw(names)
    videos = draw(video_ids)
    load = {a: draw(st.integers(0, 3)) for a in accounts}
    posted: set[tuple[str, str]] = set()
    if with_ledger and accounts and videos:
        posted = set(
            draw(st.lists(st.tuples(st.sampled_from(accounts), st.sampled_from(videos)), max_size=20))
        )
        posted = {(a, video_key(v)) for a, v in posted}
    return {
        "videos": videos,
        "accounts": accounts,
        "open_load": load,
        "posted": posted,
        "capacity": draw(st.integers(1, 5)),
        "seed": draw(st.integers(0, 2**32)),
    }


FAST = settings(max_examples=60, deadline=None)


@FAST
@given(problems())
def test_never_gives_a_video_to_an_account_that_posted_it(p: dict) -> None:
    plan = plan_assignments(**p)
    assert not {(a, video_key(v)) for v, a in plan.given} & p["posted"]


@FAST
@given(problems())
def test_every_video_is_either_given_once_or_waits_with_a_reason(p: dict) -> None:
    plan = plan_assignments(**p)
    given_ids = [v for v, _ in plan.given]
    assert len(given_ids) == len(set(given_ids))
    assert sorted(given_ids + [v for v, _ in plan.unassigned]) == sorted(p["videos"])
    assert all(reason for _, reason in plan.unassigned)


@FAST
@given(problems())
def test_no_account_goes_over_its_open_job_allowance(p: dict) -> None:
    plan = plan_assignments(**p)
    new = Counter(a for _, a in plan.given)
    for account, count in new.items():
        assert p["open_load"][account] + count <= p["capacity"]


@FAST
@given(problems(), st.randoms(use_true_random=False))
def test_same_inputs_and_seed_give_the_same_plan_whatever_the_account_order(p: dict, rnd: object) -> None:
    shuffled = list(p["accounts"])
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert plan_assignments(**p) == plan_assignments(**{**p, "accounts": shuffled})


@FAST
@given(problems(with_ledger=False))
def test_fair_without_a_ledger_loads_end_within_one_of_each_other(p: dict) -> None:
    plan = plan_assignments(**p)
    final = Counter(p["open_load"])
    final.update(a for _, a in plan.given)
    receivers = {a for _, a in plan.given}
    for a in receivers:
        for b in p["accounts"]:
            assert final[a] <= final[b] + 1


@FAST
@given(problems(with_ledger=False))
def test_nothing_waits_while_an_account_has_room(p: dict) -> None:
    plan = plan_assignments(**p)
    final = Counter(p["open_load"])
    final.update(a for _, a in plan.given)
    if plan.unassigned and p["accounts"]:
        assert all(final[a] >= p["capacity"] for a in p["accounts"])


def test_equal_accounts_share_videos_round_robin() -> None:
    plan = plan_assignments([f"v{i}" for i in range(6)], ["a", "b", "c"], {}, set(), capacity=2, seed=1)
    assert Counter(a for _, a in plan.given) == {"a": 2, "b": 2, "c": 2}


def test_a_different_seed_can_change_who_gets_what() -> None:
    videos, accounts = ["v1"], [f"acc{i}" for i in range(8)]
    winners = {plan_assignments(videos, accounts, {}, set(), 1, seed).given[0][1] for seed in range(20)}
    assert len(winners) > 1
