"""Suite-wide settings: Hypothesis judges behaviour, not how fast a loaded machine runs an example.

On CI (the ``CI`` environment variable set) examples are derandomized and no example database is
kept, so a failure there is the same failure on every run and on a fresh clone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from harness.postgres import Cluster, find_bin, start_cluster

settings.register_profile("project", deadline=None)
settings.register_profile("project-ci", deadline=None, derandomize=True, database=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("project-ci" if os.environ.get("CI") else "project")
)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the session (a fresh database per test). Skipped with
    the reason where PostgreSQL is not installed, except under CI, where that is a failure."""
    if find_bin() is None:
        reason = "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL store tests: {reason}")
        pytest.skip(reason)
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="po-pg-")))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def own_cluster(pg_cluster: Cluster) -> Iterator[Cluster]:
    """A cluster of its own, for a test that stops and starts the server (skipped or failed as
    ``pg_cluster`` is where PostgreSQL is missing)."""
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="po-pg-restart-")))
    try:
        yield cluster
    finally:
        cluster.stop()
