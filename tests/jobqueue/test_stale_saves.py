"""Workers claim and post while an operator saves stale copies of the file over it (Excel): no job
is claimed again once claimed, no account is held twice, nothing posted goes back to pending."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from jobqueue import CsvJobStore, JobStatus, NewJob
from jobqueue.edits import read_edits
from tests.jobqueue.workers import BUSY_POLICY, claim_and_complete, save_stale_copies

PROCESSES, JOBS, ACCOUNTS = 4, 300, 12


@pytest.mark.timeout(600)
def test_stale_saves_during_a_run_never_make_a_job_run_twice(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    CsvJobStore(path, BUSY_POLICY).seed(
        NewJob(f"job{i:04d}", f"acc{i % ACCOUNTS:02d}", f"v/{i}.mp4", f"caption {i}") for i in range(JOBS)
    )
    context = multiprocessing.get_context("spawn")
    logs = [tmp_path / f"events_{n}.json" for n in range(PROCESSES)]
    workers = [
        context.Process(target=claim_and_complete, args=(str(path), n, str(logs[n]), 0.01))
        for n in range(PROCESSES)
    ]
    marked_log = tmp_path / "marked.json"
    saver = context.Process(target=save_stale_copies, args=(str(path), 25, 7, str(marked_log)))
    for process in (*workers, saver):
        process.start()
    try:
        for process in (*workers, saver):
            process.join()
    finally:
        for process in (*workers, saver):
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in (*workers, saver)] == [0] * (PROCESSES + 1)

    events = sorted(tuple(e) for log in logs for e in json.loads(log.read_text()))
    claims = Counter(e[2] for e in events if e[1] == "claim")
    assert claims and set(claims.values()) == {1}, [j for j, n in claims.items() if n > 1]
    held: defaultdict[str, int] = defaultdict(int)
    for _, kind, _, account, _ in events:
        held[account] += 1 if kind == "claim" else -1
        assert held[account] in (0, 1), f"account {account} held by two claims at once"

    final = {j.job_id: j.status for j in CsvJobStore(path, BUSY_POLICY).snapshot().jobs}
    assert len(final) == JOBS  # no stale copy dropped a row for good
    marked = set(json.loads(marked_log.read_text()))
    for job_id, status in final.items():
        if job_id in claims:
            assert status is JobStatus.SUCCESS, (job_id, status)
        else:  # never claimed: the operator marked it failed in a copy where it was still pending
            assert status is JobStatus.FAILED and job_id in marked, (job_id, status)
    assert read_edits(path), "no stale save was caught: the test did not test anything"
