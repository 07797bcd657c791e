"""Seeding the progress file from the scheduler's state (`--seed-only`, and before every `--run`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobqueue.store import JobStore
from orchestrator.errors import SeedError
from runtime.settings import Settings
from scheduler.errors import SchedulerError
from scheduler.limits import DailyLimits
from scheduler.seeding import SeedReport, seed_progress
from worker.contract import load_accounts, queue_policy


def run_limits(settings: Settings) -> DailyLimits:
    """The daily limits the run's queue enforces: the accounts list, else `[accounts]`."""
    roster = load_accounts(settings)
    default = settings.accounts.daily_limit
    return DailyLimits(
        default,
        {e.name: e.rules.daily_limit for e in roster.entries},
        "the run's accounts",
        queue_policy(settings, roster),
    )


@dataclass(frozen=True)
class SeedOutcome:
    """What seeding did; `state_file_found` False means there was nothing to seed from."""

    state_file: str
    state_file_found: bool
    added: int = 0
    already_present: int = 0
    newly_assigned: int = 0
    unassigned: int = 0


def seed_from_state(state_file: Path, store: JobStore, limits: DailyLimits | None = None) -> SeedOutcome:
    """Add the scheduler's not-yet-seeded assignments to the queue (idempotent); ``limits``: the
    run's daily limits (so the plan and the claim rule count the same). Raises SeedError."""
    if not state_file.is_file():
        return SeedOutcome(str(state_file), False)
    try:
        report: SeedReport = seed_progress(state_file, store, limits=limits)
    except SchedulerError as exc:
        raise SeedError(f"could not seed from {state_file}: {exc}") from exc
    return SeedOutcome(
        str(state_file),
        True,
        added=report.added,
        already_present=report.already_present,
        newly_assigned=report.newly_assigned,
        unassigned=report.unassigned,
    )
