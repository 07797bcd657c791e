"""The queue journal: every change, in the order made under the lock; never a caption or a failure
of the queue itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobqueue import CsvJobStore, NewJob, Outcome, OutcomeKind, QueuePolicy
from jobqueue.journal import Journal, journal_path, read_journal
from tests.jobqueue.conftest import T0, new_jobs

POLICY = QueuePolicy(daily_limit=5, timezone="UTC")


def journaled(tmp_path: Path) -> tuple[CsvJobStore, Path]:
    path = tmp_path / "parallel_progress.csv"
    return CsvJobStore(path, POLICY, lock_timeout_s=10, journal=True), journal_path(path)


def test_a_job_s_life_is_told_in_order_without_its_caption(tmp_path: Path) -> None:
    store, journal = journaled(tmp_path)
    store.seed([NewJob("j1", "acct1", "videos/secret-name.mp4", "my private caption")])
    claim = store.claim_next(3, 4242, T0)
    assert claim is not None
    store.checkpoint(claim, T0)
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    entries = list(read_journal(journal))
    assert journal.name == "parallel_progress.journal.jsonl"
    assert [(e["op"], e.get("status")) for e in entries] == [
        ("seed", None),
        ("claim", "claimed"),
        ("checkpoint", "claimed"),
        ("record", "success"),
    ]
    assert entries[0]["added"] == 1 and entries[0]["first"] == "j1"
    assert entries[1]["worker"] == 3 and entries[1]["worker_pid"] == 4242 and entries[1]["token"]
    assert [e.get("checkpoint") for e in entries[1:3]] == [False, True]  # the publish tap is next
    assert entries[3]["worker"] == 3  # who posted it
    text = journal.read_text(encoding="utf-8")
    assert "private caption" not in text and "secret-name" not in text


def test_a_seed_of_many_jobs_is_one_line(tmp_path: Path) -> None:
    store, journal = journaled(tmp_path)
    store.seed(new_jobs(500))
    store.seed(new_jobs(500))  # nothing new: nothing changed, nothing journaled
    assert [(e["op"], e["added"]) for e in read_journal(journal)] == [("seed", 500)]


def test_an_account_problem_journals_the_block_and_the_operator_s_unblock(tmp_path: Path) -> None:
    store, journal = journaled(tmp_path)
    store.seed(new_jobs(2, accounts=1))
    claim = store.claim_next(0, 1, T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.ACCOUNT, "captcha", "screen shows a captcha"), T0)
    store.unblock_account("a0")
    events = [(e["op"], e.get("event"), e.get("status")) for e in read_journal(journal)][1:]
    assert events == [
        ("claim", None, "claimed"),
        ("record", None, "failed"),
        ("record", "blocked", None),
        ("unblock_account", "unblocked", None),
    ]


def test_reads_and_claims_that_find_nothing_write_nothing(tmp_path: Path) -> None:
    store, journal = journaled(tmp_path)
    store.seed(new_jobs(1))
    size = journal.stat().st_size
    store.snapshot()
    store.has_due_job("a0", T0)
    assert store.claim_next(0, 1, T0) is not None
    assert store.claim_next(1, 2, T0) is None  # the only job is claimed
    assert len(list(read_journal(journal))) == 2 and journal.stat().st_size > size


def test_a_journal_that_cannot_be_written_never_fails_the_queue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, journal = journaled(tmp_path)
    journal.mkdir()  # a folder where the file should be: every append fails
    with caplog.at_level(logging.WARNING, logger="jobqueue.journal"):
        store.seed(new_jobs(2))
        claim = store.claim_next(0, 1, T0)
        assert claim is not None
        store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    assert store.snapshot().job("j0") is not None
    warnings = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(warnings) == 1  # said once, not on every operation


def test_a_full_journal_rotates_once_and_reads_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "q.journal.jsonl"
    journal = Journal(path, max_bytes=200)
    for n in range(6):
        journal.append([{"op": "claim", "job": f"j{n}"}], T0)
    assert path.with_name(path.name + ".1").exists()
    jobs = [e["job"] for e in read_journal(path)]
    assert jobs == sorted(jobs) and jobs[-1] == "j5" and len(jobs) >= 3


def test_a_line_torn_by_a_kill_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "q.journal.jsonl"
    Journal(path).append([{"op": "claim", "job": "j1"}], T0)
    with open(path, "ab") as fh:
        fh.write(b'{"at":"2026-06-15T12:00:00","op":"rec')
    assert [e["job"] for e in read_journal(path)] == ["j1"]
