"""Shared fixtures: a fixed clock, policies, and the same store contract over memory, CSV and
PostgreSQL."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobqueue import CsvJobStore, JobStore, MemoryJobStore, NewJob, QueuePolicy
from jobqueue.pgstore import PostgresJobStore

T0 = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
UTC_POLICY = QueuePolicy(daily_limit=2, timezone="UTC")

StoreFactory = Callable[[QueuePolicy], JobStore]


def new_jobs(count: int, accounts: int = 3, prefix: str = "j") -> list[NewJob]:
    """``count`` jobs spread round-robin over ``accounts`` accounts a0, a1, ..."""
    return [
        NewJob(f"{prefix}{i}", f"a{i % accounts}", f"videos/{prefix}{i}.mp4", f"caption {i}")
        for i in range(count)
    ]


@pytest.fixture(params=["memory", "csv", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds a store of the parametrized kind (memory, CSV in tmp_path, or a fresh PostgreSQL
    database) for a policy; every store built is closed after the test."""
    opened: list[PostgresJobStore] = []
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgres" else ""

    def build(policy: QueuePolicy = UTC_POLICY) -> JobStore:
        rng = random.Random(7)
        if request.param == "memory":
            return MemoryJobStore(policy, rng=rng)
        if request.param == "postgres":
            opened.append(PostgresJobStore(url, policy, rng=rng, lock_timeout_s=10))
            return opened[-1]
        return CsvJobStore(tmp_path / "parallel_progress.csv", policy, lock_timeout_s=10, rng=rng)

    yield build
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> JobStore:
    return make_store(UTC_POLICY)


def hold_open_like_excel(monkeypatch: pytest.MonkeyPatch, path: Path) -> Callable[[], None]:
    """Make every replace of ``path`` fail as on Windows while Excel holds the file open; returns
    the function that closes it again."""
    real_replace = os.replace

    def denied(source: str | Path, target: str | Path) -> None:
        if Path(str(target)) == path:
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", denied)
    return lambda: monkeypatch.setattr(os, "replace", real_replace)
