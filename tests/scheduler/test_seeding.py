"""Seeding the queue from the state: idempotent, learns successes, tops accounts up within limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jobqueue import CsvJobStore, MemoryJobStore, NewJob, Outcome, OutcomeKind, QueuePolicy
from scheduler import jobs_to_seed, load_state, seed_progress
from scheduler.operations import ChangeRequest, apply_changes

from .conftest import MULTILINE_EMOJI, Invoke, bulk_export_folder

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def prepared(work: Path, accounts: tuple[str, ...] = ("p1", "p2"), videos: int = 4) -> Path:
    folder = bulk_export_folder(work, shortcodes=tuple(f"S{i}" for i in range(videos)))
    state = work / "scheduler_state.json"
    apply_changes(state, work / "none.csv", ChangeRequest(folders=(folder,), accounts=accounts))
    return state


def test_jobs_to_seed_is_one_job_per_unseeded_assignment(work: Path) -> None:
    state = load_state(prepared(work))
    jobs = jobs_to_seed(state)
    assert [j.account for j in jobs] == [a.account for a in state.assignments]
    assert all(isinstance(j, NewJob) and j.max_attempts == 3 for j in jobs)
    assert jobs[0].caption.startswith(MULTILINE_EMOJI)
    assert jobs[0].job_id == f"{state.assignments[0].video_id}@{state.assignments[0].account}"


def test_second_seed_is_a_no_op(work: Path) -> None:
    path = prepared(work)
    store = MemoryJobStore(QueuePolicy())
    first = seed_progress(path, store)
    assert (first.added, first.already_present) == (2, 0)
    written = path.read_bytes()
    second = seed_progress(path, store)
    assert (second.added, second.newly_assigned, second.state_saved) == (0, 0, False)
    assert path.read_bytes() == written
    assert len(store.snapshot().jobs) == 2


def test_seed_after_a_lost_state_save_adds_nothing_twice(work: Path) -> None:
    path = prepared(work)
    store = MemoryJobStore(QueuePolicy())
    before = path.read_bytes()
    seed_progress(path, store)
    path.write_bytes(before)  # as if the state save after seeding had been lost
    again = seed_progress(path, store)
    assert (again.added, again.already_present) == (0, 2)


def test_a_success_enters_the_ledger_and_frees_room_for_the_next_video(work: Path) -> None:
    path = prepared(work, accounts=("p1",), videos=3)
    store = MemoryJobStore(QueuePolicy(daily_limit=5))
    seed_progress(path, store)
    claim = store.claim_next(0, 1, NOW)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.SUCCESS), NOW)
    report = seed_progress(path, store)
    assert (report.newly_posted, report.newly_assigned, report.added) == (1, 1, 1)
    state = load_state(path)
    assert [(p.account, p.source) for p in state.posted] == [("p1", "progress")]
    assert report.unassigned == 1


def test_seed_through_the_csv_store_twice(work: Path, invoke: Invoke) -> None:
    prepared(work)
    first = invoke("seed")
    assert first.exit_code == 0, first.output
    assert "seeded: 2 new job(s)" in first.output
    progress = (work / "parallel_progress.csv").read_bytes()
    second = invoke("seed", "--json")
    assert json.loads(second.output)["added"] == 0
    assert (work / "parallel_progress.csv").read_bytes() == progress
    jobs = CsvJobStore(work / "parallel_progress.csv").snapshot().jobs
    assert [j.caption.split("\n")[0] for j in jobs] == [MULTILINE_EMOJI.split("\n")[0]] * 2
    status = invoke("status").output
    assert "assigned: 2 (seeded 2)" in status and "pending 2" in status
