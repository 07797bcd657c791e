"""Crash safety: SIGKILL a writer at random moments; the file always parses and no row is lost."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from jobqueue import CsvJobStore, NewJob
from tests.jobqueue.workers import CHURN_POLICY, churn_forever

SIGKILL: int = getattr(signal, "SIGKILL", 9)  # POSIX; the tests that use it skip on Windows

KILLS, ROWS = 200, 1000


def test_a_writer_killed_at_random_moments_never_corrupts_or_loses_rows(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("SIGKILL and fork are POSIX; the store code itself is portable")
    path = tmp_path / "parallel_progress.csv"
    captions = ["short", 'with "quotes", commas', "multi\nline\ncaption 🎉", "=looks like a formula"]
    CsvJobStore(path, CHURN_POLICY).seed(
        NewJob(f"job{i:04d}", f"acc{i % 50:02d}", f"v/{i}.mp4", captions[i % 4], max_attempts=3)
        for i in range(ROWS)
    )
    expected = {f"job{i:04d}" for i in range(ROWS)}
    context = multiprocessing.get_context("fork")
    rng = random.Random(2026)
    versions = set()
    warm = CsvJobStore(path, CHURN_POLICY, lock_timeout_s=30)
    warm.snapshot()  # the forked writer inherits this parse and starts writing at once
    for round_number in range(KILLS):
        running = context.Event()
        writer = context.Process(target=churn_forever, args=(warm, round_number, running), daemon=True)
        writer.start()
        assert running.wait(timeout=30), "the writer never started"
        time.sleep(rng.uniform(0.005, 0.05))  # the random moment of the kill, not a wait for a condition
        assert writer.pid is not None
        os.kill(writer.pid, SIGKILL)
        writer.join(timeout=10)
        assert writer.exitcode == -SIGKILL
        # The warm store re-reads only what changed (equal to a full parse, see test_reparse); every
        # 10th round a fresh store parses the whole file too.
        jobs = warm.snapshot().jobs
        assert {job.job_id for job in jobs} == expected and len(jobs) == ROWS, f"round {round_number}"
        if round_number % 10 == 0:
            assert CsvJobStore(path, CHURN_POLICY).snapshot().jobs == jobs
        versions.add(hashlib.sha256(path.read_bytes()).hexdigest())
    # The writer really was writing when it was killed, not just starting up.
    assert len(versions) > KILLS / 2
    backup = CsvJobStore(path.with_name(path.name + ".bak"), CHURN_POLICY).snapshot().jobs
    assert {job.job_id for job in backup} == expected
    CsvJobStore(path, CHURN_POLICY).snapshot()
    assert not list(tmp_path.glob("*.tmp")), "stale temp files are removed by the next writer"
