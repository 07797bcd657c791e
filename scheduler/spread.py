"""Spread an account's posts over its posting window like a person would (pure).

Each new job of a paced account (one with a posting window or a minimum spacing) gets a
``not_before``: the plan's earliest moment for it. The plan places the account's posts one gap
apart, where the gap is its window's length divided by its daily limit (a whole day without a
window), never less than its minimum spacing, plus a random delay of up to a third of the gap (at
most ``MAX_JITTER_S``, not carried over to the next post) so posts do not land on the same minute
every day. Every planned moment is one the claim rule allows by itself: inside the window, at
least the spacing after the previous post (the account's last post and every earlier planned
one), under the daily limit of its local calendar day. The claim rule still decides at run time;
the plan only keeps posts from bunching up at the first moment they are allowed.

Jobs already queued for the account without a plan are due now: they take the first moments, and
the new jobs come after them (the queue claims in file order, and new jobs are appended).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from jobqueue import Job, JobStatus, NewJob, QueuePolicy
from jobqueue.daily import day_bounds, local_day
from jobqueue.gate import is_post
from jobqueue.posting import AccountRules, PostFacts, next_post_allowed, post_gate

MAX_JITTER_S = 45 * 60.0
DAY_S = 86_400.0
MAX_DAYS = 400  # a plan never looks further ahead (a daily limit of 0 plans nothing)


def window_length_s(rules: AccountRules) -> float:
    """How long the account may post on one day: its window's length, or the whole day."""
    window = rules.window
    if window is None or window.start == window.end:
        return DAY_S
    start = window.start.hour * 3600 + window.start.minute * 60
    end = window.end.hour * 3600 + window.end.minute * 60
    return float((end - start) % int(DAY_S))


def gap_s(rules: AccountRules) -> float:
    """The plan's distance between two posts of the account."""
    return max(rules.min_spacing_s, window_length_s(rules) / max(1, rules.daily_limit))


def spread(
    rules: AccountRules,
    *,
    now: datetime,
    count: int,
    posted: Sequence[datetime] = (),
    planned: Sequence[datetime] = (),
    unplanned: int = 0,
    rng: random.Random | None = None,
) -> list[datetime]:
    """``count`` moments for the account's new jobs, in order.

    ``posted``: when its posts (successes, maybe-posted reviews) happened; ``planned``: the
    ``not_before`` of its queued jobs; ``unplanned``: its queued jobs without one (they go first).
    ``rng``: the jitter's source (seeded for a reproducible plan; None: no jitter).
    """
    if count <= 0 or rules.daily_limit <= 0:
        return []
    gap = timedelta(seconds=gap_s(rules))
    spacing = timedelta(seconds=rules.min_spacing_s)
    jitter_s = min(gap.total_seconds() / 3, MAX_JITTER_S)
    taken = sorted([*posted, *planned])
    per_day = Counter(local_day(t, rules.timezone) for t in taken)
    last = taken[-1] if taken else None
    earliest = now if last is None else max(now, last + gap)
    out: list[datetime] = []
    for index in range(unplanned + count):
        grid = _allowed(rules, earliest, last, per_day)
        if grid is None:
            break
        moment = grid
        if rng is not None and jitter_s > 0:
            shifted = grid + timedelta(seconds=rng.uniform(0, jitter_s))
            if _allows(rules, shifted, last, per_day):
                moment = shifted
        per_day[local_day(moment, rules.timezone)] += 1
        last = moment
        earliest = max(grid + gap, moment + spacing)  # the jitter does not pile up from post to post
        if index >= unplanned:
            out.append(moment)
    return out


def _allowed(
    rules: AccountRules, earliest: datetime, last: datetime | None, per_day: Counter[date]
) -> datetime | None:
    """The first moment at or after ``earliest`` the rules allow, given the posts counted so far."""
    moment = earliest
    for _ in range(MAX_DAYS * 2):
        facts = PostFacts(per_day[local_day(moment, rules.timezone)], last)
        candidate = next_post_allowed(rules, facts, moment)
        if candidate is None:
            return None
        if _allows(rules, candidate, last, per_day):
            return candidate
        moment = day_bounds(candidate, rules.timezone)[1]  # that day is full: the next one
    return None


def _allows(rules: AccountRules, moment: datetime, last: datetime | None, per_day: Counter[date]) -> bool:
    facts = PostFacts(per_day[local_day(moment, rules.timezone)], last)
    return post_gate(rules, facts, moment) is None


OPEN = frozenset({JobStatus.PENDING, JobStatus.RETRYING, JobStatus.CLAIMED})


def paced(rules: AccountRules) -> bool:
    """Does the account ask for pacing (a posting window or a minimum spacing)? Accounts with
    neither keep posting as soon as the claim rule allows, up to their daily limit."""
    return rules.window is not None or rules.min_spacing_s > 0


def plan_jobs(
    new_jobs: Sequence[NewJob], queued: Sequence[Job], policy: QueuePolicy, now: datetime, seed: int
) -> list[NewJob]:
    """``new_jobs`` with a ``not_before`` for each job of a paced account (see ``spread``), in the
    same order; ``queued``: the queue's jobs (their posts and plans come first)."""
    by_account: dict[str, list[int]] = {}
    for index, job in enumerate(new_jobs):
        if job.account:
            by_account.setdefault(job.account, []).append(index)
    out = list(new_jobs)
    for account, indexes in by_account.items():
        rules = policy.rules_for(account)
        if not paced(rules):
            continue
        mine = [j for j in queued if j.account == account]
        waiting = [j for j in mine if j.status in OPEN]
        moments = spread(
            rules,
            now=now,
            count=len(indexes),
            posted=[j.completed_at for j in mine if is_post(j) and j.completed_at is not None],
            planned=[j.not_before for j in waiting if j.not_before is not None],
            unplanned=sum(1 for j in waiting if j.not_before is None),
            rng=random.Random(f"{seed}:{account}:{new_jobs[indexes[0]].job_id}"),
        )
        for index, moment in zip(indexes, moments, strict=False):
            out[index] = replace(out[index], not_before=moment)
    return out
