"""Which account posts which video: a pure function of the state's data and a seed.

Rules: a video is given to one account at a time; never to an account that already posted it
(the ledger); an account holds at most ``capacity`` open jobs; among the accounts allowed, the one
with the fewest open jobs wins, ties broken by a shuffle of the account names seeded by ``seed``.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from scheduler.model import video_key


@dataclass(frozen=True)
class AssignmentPlan:
    given: tuple[tuple[str, str], ...]  # (video_id, account), in the order decided
    unassigned: tuple[tuple[str, str], ...]  # (video_id, reason)


def account_rank(accounts: Collection[str], seed: int) -> dict[str, int]:
    """Tie-break order: a seeded shuffle of the sorted names, independent of the input order."""
    order = sorted(set(accounts))
    random.Random(seed).shuffle(order)
    return {name: i for i, name in enumerate(order)}


def plan_assignments(
    videos: Sequence[str],
    accounts: Sequence[str],
    open_load: Mapping[str, int],
    posted: Collection[tuple[str, str]],
    capacity: int | Mapping[str, int],
    seed: int,
) -> AssignmentPlan:
    """Assign each of ``videos`` (ids, in order; none assigned yet) to an account, or say why not.

    ``open_load``: open jobs each account holds now; ``posted``: (account, video_key) pairs;
    ``capacity``: the open jobs an account may hold (one number, or per account).
    """
    rank = account_rank(accounts, seed)
    room = {a: capacity if isinstance(capacity, int) else capacity.get(a, 0) for a in rank}
    load = {name: open_load.get(name, 0) for name in rank}
    given: list[tuple[str, str]] = []
    unassigned: list[tuple[str, str]] = []
    for video_id in videos:
        key = video_key(video_id)
        allowed = [a for a in rank if (a, key) not in posted]
        free = [a for a in allowed if load[a] < room[a]]
        if free:
            chosen = min(free, key=lambda a: (load[a], rank[a]))
            load[chosen] += 1
            given.append((video_id, chosen))
        else:
            unassigned.append((video_id, _why_not(bool(rank), bool(allowed))))
    return AssignmentPlan(tuple(given), tuple(unassigned))


def _why_not(have_accounts: bool, have_allowed: bool) -> str:
    if not have_accounts:
        return "no accounts yet (add some with --add-accounts or --accounts-file)"
    if not have_allowed:
        return "every account has already posted it"
    return "no free account: each one that may post it holds its open jobs (days_ahead x its daily limit)"
