"""The progress file edited under a run (Excel, an editor): the queue keeps what it owns.

A stale copy saved over the file must never make a posted, failed, reviewed or claimed job due
again, nor drop a claim token, a checkpoint or a row; an up-to-date edit is taken as it is."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from jobqueue import CsvJobStore, Job, JobStatus, NewJob, Outcome, OutcomeKind
from jobqueue.edits import read_edits
from jobqueue.journal import journal_path, read_journal
from jobqueue.reconcile import reconcile
from jobqueue.seal import seal_path
from tests.jobqueue.conftest import T0, UTC_POLICY, new_jobs


def store_at(path: Path) -> CsvJobStore:
    return CsvJobStore(path, UTC_POLICY, lock_timeout_s=10, journal=True)


def save_as_editor(path: Path, data: bytes) -> None:
    """What Excel and most editors do: write a new file, then rename it over the old one."""
    temp = path.with_name(path.name + ".~tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def set_cell(data: bytes, job_id: str, column: str, value: str) -> bytes:
    """The file with one cell changed, as a spreadsheet would save it (BOM dropped, LF endings)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    at = rows[0].index(column)
    for row in rows[1:]:
        if row[0] == job_id:
            row[at] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def statuses(store: CsvJobStore) -> dict[str, JobStatus]:
    return {j.job_id: j.status for j in store.snapshot().jobs}


def test_a_stale_save_never_makes_a_posted_or_claimed_job_due_again(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(6, accounts=6))
    stale = path.read_bytes()  # the operator opens the file now...
    posted = store.claim_next(1, 101, T0)
    working = store.claim_next(2, 102, T0)
    assert posted is not None and working is not None
    store.checkpoint(posted, T0)
    store.record(posted, Outcome(OutcomeKind.SUCCESS), T0)
    store.checkpoint(working, T0)  # ...a worker is past its publish tap...
    store.seed([NewJob("late", "a9", "v/late.mp4", "added meanwhile")])
    # ...and saves the old copy with one change of their own: job j5 marked failed by hand.
    save_as_editor(path, set_cell(stale, "j5", "status", "failed"))
    after = store_at(path).snapshot()
    by_id = {j.job_id: j for j in after.jobs}
    assert by_id[posted.job.job_id].status is JobStatus.SUCCESS
    assert by_id[working.job.job_id].status is JobStatus.CLAIMED
    assert by_id[working.job.job_id].claim_token == working.token
    assert by_id[working.job.job_id].checkpoint_at is not None
    assert "late" in by_id  # the stale copy lacked it: kept
    assert by_id["j5"].status is JobStatus.FAILED  # the operator's own change is taken
    store.record(working, Outcome(OutcomeKind.SUCCESS), T0)  # the worker's claim still holds
    kept = {n.job_id: n for n in read_edits(path)}
    assert set(kept) == {posted.job.job_id, working.job.job_id, "late"}
    assert kept[posted.job.job_id].why.startswith("success in the queue, which moved on since")
    assert kept[working.job.job_id].why.startswith("claimed in the queue, which moved on since")
    journal = [e for e in read_journal(journal_path(path)) if e.get("op") == "edit_kept"]
    assert {e["job"] for e in journal} == set(kept)


def test_an_up_to_date_edit_cannot_requeue_a_posted_job_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(2, accounts=2))
    claim = store.claim_next(1, 101, T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    save_as_editor(path, set_cell(path.read_bytes(), claim.job.job_id, "status", "pending"))
    assert statuses(store)[claim.job.job_id] is JobStatus.SUCCESS
    (notice,) = read_edits(path)
    assert notice.why == "success in the queue: an edit cannot make it due again (use requeue)"


def test_an_up_to_date_edit_is_taken_whatever_the_format(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(3))
    edited = set_cell(path.read_bytes(), "j1", "caption", "a better caption")
    save_as_editor(path, set_cell(edited, "j2", "status", "failed"))
    jobs = {j.job_id: j for j in store.snapshot().jobs}
    assert (jobs["j1"].caption, jobs["j2"].status) == ("a better caption", JobStatus.FAILED)
    assert read_edits(path) == []


def test_an_edit_written_in_place_is_caught_too(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(2, accounts=2))
    stale = path.read_bytes()
    claim = store.claim_next(1, 101, T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    path.write_bytes(stale)  # Notepad: the same file, overwritten in place
    assert statuses(store_at(path))[claim.job.job_id] is JobStatus.SUCCESS


def test_a_half_written_save_is_read_again_before_it_is_called_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(3))
    whole = set_cell(path.read_bytes(), "j0", "caption", "edited")
    cut = whole.index(b"j2,")  # the editor is still writing: the last row is half there
    path.write_bytes(whole[: cut + 12] + b'"unfinished')
    real_sleep = __import__("time").sleep

    def finish_the_save(seconds: float) -> None:
        path.write_bytes(whole)  # ...and now it is done
        real_sleep(0)

    monkeypatch.setattr("jobqueue.csvstore.time.sleep", finish_the_save)
    assert store.snapshot().jobs[0].caption == "edited"


def test_a_file_without_a_seal_is_trusted_as_before(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = store_at(path)
    store.seed(new_jobs(2))
    seal_path(path).unlink()
    save_as_editor(path, set_cell(path.read_bytes(), "j0", "status", "failed"))
    assert statuses(store)["j0"] is JobStatus.FAILED


def job(job_id: str, status: JobStatus, caption: str = "c") -> Job:
    return Job(job_id, "a", "v.mp4", caption, status)


@pytest.mark.parametrize(
    ("ours", "theirs", "winner"),
    [
        (JobStatus.SUCCESS, JobStatus.PENDING, "ours"),
        (JobStatus.FAILED, JobStatus.RETRYING, "ours"),
        (JobStatus.REVIEW, JobStatus.PENDING, "ours"),
        (JobStatus.FAILED, JobStatus.SUCCESS, "theirs"),  # "I posted it myself"
        (JobStatus.PENDING, JobStatus.FAILED, "theirs"),
        (JobStatus.PENDING, JobStatus.CLAIMED, "ours"),  # only a worker claims
        (JobStatus.CLAIMED, JobStatus.SUCCESS, "ours"),  # its worker settles it
    ],
)
def test_who_wins_each_kind_of_edit(ours: JobStatus, theirs: JobStatus, winner: str) -> None:
    mine, edit = job("x", ours), job("x", theirs, caption="new caption")
    (merged,), kept = reconcile([mine], [edit])
    assert merged.status is (ours if winner == "ours" else theirs)
    assert merged.caption == "new caption"  # the operator's columns are always taken
    assert bool(kept) == (winner == "ours")
