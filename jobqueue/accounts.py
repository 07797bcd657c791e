"""Pure updates of the per-account state: blocks, infra failure streaks and cooldowns."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobqueue.model import AccountBlock, AccountCooldown, AccountsState, Outcome, OutcomeKind
from jobqueue.policy import QueuePolicy


def block(state: AccountsState, account: str, reason: str, *, job_id: str, now: datetime) -> AccountsState:
    """The state with ``account`` blocked (an existing block is kept as it was)."""
    if account in state.blocked:
        return state
    blocked = {**state.blocked, account: AccountBlock(account, reason, job_id, now)}
    return AccountsState(blocked, state.cooldowns, state.infra_streaks)


def unblock(state: AccountsState, account: str) -> tuple[AccountsState, bool]:
    """The state without a block or cooldown on ``account``, and whether there was one."""
    if account not in state.blocked and account not in state.cooldowns:
        return state, False
    blocked = {name: b for name, b in state.blocked.items() if name != account}
    cooldowns = {name: c for name, c in state.cooldowns.items() if name != account}
    streaks = {name: n for name, n in state.infra_streaks.items() if name != account}
    return AccountsState(blocked, cooldowns, streaks), True


def after_outcome(
    state: AccountsState, account: str, job_id: str, *, outcome: Outcome, now: datetime, policy: QueuePolicy
) -> AccountsState:
    """Account effects of an outcome: ACCOUNT blocks; K consecutive INFRASTRUCTURE ones start a cooldown.

    Cooldowns that ended before ``now`` are dropped.
    """
    if any(c.until <= now for c in state.cooldowns.values()):
        live = {name: c for name, c in state.cooldowns.items() if c.until > now}
        state = AccountsState(state.blocked, live, state.infra_streaks)
    if outcome.kind is OutcomeKind.ACCOUNT:
        reason = outcome.error_type or outcome.message[:100] or "account problem"
        state = block(state, account, reason, job_id=job_id, now=now)
    if outcome.kind is not OutcomeKind.INFRASTRUCTURE:
        if account not in state.infra_streaks:
            return state
        streaks = {name: n for name, n in state.infra_streaks.items() if name != account}
        return AccountsState(state.blocked, state.cooldowns, streaks)
    streak = state.infra_streaks.get(account, 0) + 1
    if streak < policy.infra_failures_before_cooldown:
        return AccountsState(state.blocked, state.cooldowns, {**state.infra_streaks, account: streak})
    until = now + timedelta(seconds=policy.infra_cooldown_s)
    reason = f"{streak} consecutive infrastructure failures (last: {outcome.error_type or 'unknown'})"
    cooldowns = {**state.cooldowns, account: AccountCooldown(account, reason, until)}
    streaks = {name: n for name, n in state.infra_streaks.items() if name != account}
    return AccountsState(state.blocked, cooldowns, streaks)
