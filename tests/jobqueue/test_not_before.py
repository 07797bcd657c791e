"""The plan's `not_before` column: seeded with the job, kept in the file, honoured by the claim rule."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from jobqueue import CsvJobStore, NewJob
from tests.jobqueue.conftest import T0, UTC_POLICY

PID = os.getpid()


def test_a_planned_job_is_claimed_only_from_its_time_and_the_time_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = CsvJobStore(path, UTC_POLICY)
    later = T0 + timedelta(hours=3, minutes=7)
    store.seed([NewJob("j0", "a0", "v.mp4", "hi", not_before=later), NewJob("j1", "a1", "w.mp4", "yo")])
    header, first = path.read_text(encoding="utf-8-sig").splitlines()[:2]
    assert header.endswith(",not_before,host") and first.endswith(later.isoformat() + ",")
    claim = store.claim_next(1, PID, T0)
    assert claim is not None and claim.job.job_id == "j1"  # j0 waits for its time
    assert store.claim_next(2, PID, later - timedelta(seconds=1)) is None
    planned = store.claim_next(2, PID, later)
    assert planned is not None and planned.job.job_id == "j0"
    reread = CsvJobStore(path, UTC_POLICY).snapshot().job("j0")
    assert reread is not None and reread.not_before == later


def test_an_older_file_without_the_column_reads_as_unplanned(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    header = "job_id,account,video_path,caption,status,worker_id,claimed_at,completed_at,error,attempts,"
    path.write_bytes(
        f"{header}max_attempts,retry_at,error_type\r\nj0,a0,v.mp4,hi,pending,,,,,0,3,,\r\n".encode()
    )
    job = CsvJobStore(path, UTC_POLICY).snapshot().job("j0")
    assert job is not None and job.not_before is None
