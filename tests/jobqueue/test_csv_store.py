"""CsvJobStore specifics: what Excel and the original tool do to the file, escaping, files beside it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobqueue import CsvJobStore, FileBusy, JobStatus, NewJob, Outcome, OutcomeKind, QueuePolicy
from jobqueue.csvrow import SEED_COLUMNS
from tests.jobqueue.conftest import T0, hold_open_like_excel, new_jobs

POLICY = QueuePolicy(daily_limit=5, timezone="Europe/Berlin")
BOM = "\ufeff"
HEADER13 = ",".join(SEED_COLUMNS)


def csv_store(path: Path, **kwargs: Any) -> CsvJobStore:
    return CsvJobStore(path, POLICY, lock_timeout_s=10, **kwargs)


def write(path: Path, text: str, newline: str = "\r\n") -> Path:
    path.write_bytes((BOM + text.replace("\n", newline)).encode("utf-8"))
    return path


def test_excel_file_with_bom_crlf_quoted_newlines_and_operator_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    # Quoted newline inside the caption stays LF while records end with CRLF, as Excel writes.
    path.write_bytes(
        (
            f"{BOM}{HEADER13},my notes,priority\r\n"
            'j1,acc1,v1.mp4,"line one\nline two, ""quoted""",pending,,,,,0,,,,note A,high\r\n'
            "j2,acc2,v2.mp4,plain,pending,,,,,0,3,,,,low\r\n"
        ).encode()
    )
    store = csv_store(path)
    jobs = store.snapshot().jobs
    assert [j.caption for j in jobs] == ['line one\nline two, "quoted"', "plain"]
    assert jobs[0].max_attempts == 3  # empty max_attempts means the default
    claim = store.claim_next(1, os.getpid(), T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    text = path.read_bytes().decode("utf-8-sig")
    header = text.split("\r\n")[0].split(",")
    assert header[13:15] == ["my notes", "priority"]
    assert "note A,high" in text and ",low" in text
    assert csv_store(path).snapshot().jobs[0].status is JobStatus.SUCCESS


@pytest.mark.parametrize(
    "extra",
    [
        ["error_category", "pass_number"],
        ["error_category", "pass_number", "platform"],
        ["error_category", "pass_number", "run_id", "video_id"],
    ],
)
def test_original_tool_layouts_are_read_and_their_columns_kept(tmp_path: Path, extra: list[str]) -> None:
    values = ["account", "2", "instagram", ""][: len(extra)]
    seed_cells = "SC1,acc,chunk\\SC1.mp4,cap,failed,0,2025-12-22T16:32:57.051485,,banned,1,3,,banned"
    row = f"{seed_cells},{','.join(values)}"
    path = write(tmp_path / "p.csv", f"{HEADER13},{','.join(extra)}\n{row}\n")
    store = csv_store(path)
    (job,) = store.snapshot().jobs
    # The original wrote naive local time: 16:32 in Berlin is 15:32 UTC in December.
    assert job.claimed_at == datetime(2025, 12, 22, 15, 32, 57, 51485, tzinfo=UTC)
    store.requeue(["SC1"], [JobStatus.FAILED])
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith(f"{HEADER13},{','.join(extra)},claim_token")
    assert f",{','.join(values)}," in text.splitlines()[1]


@pytest.mark.parametrize(
    ("legacy", "status"), [("skipped", JobStatus.FAILED), ("verification_pending", JobStatus.REVIEW)]
)
def test_legacy_statuses(tmp_path: Path, legacy: str, status: JobStatus) -> None:
    path = write(tmp_path / "p.csv", f"{HEADER13}\nj1,,v,c,{legacy},,,,,0,3,,\n")
    assert csv_store(path).snapshot().jobs[0].status is status


def test_formula_like_text_is_escaped_in_the_file_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    captions = ['=HYPERLINK("x")', "+1", "-5 tips", "@user", "'quoted", "''twice", "plain"]
    csv_store(path).seed([NewJob(f"j{i}", "a", "v", c) for i, c in enumerate(captions)])
    text = path.read_text(encoding="utf-8-sig")
    assert ",'=HYPERLINK" in text.replace('"', "") and ",'@user," in text and ",'''twice," in text
    assert [j.caption for j in csv_store(path).snapshot().jobs] == captions


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_any_caption_round_trips_exactly(tmp_path: Path, captions: list[str]) -> None:
    path = tmp_path / f"rt{abs(hash(tuple(captions)))}.csv"
    path.unlink(missing_ok=True)
    store = csv_store(path)
    store.seed([NewJob(f"j{i}", "a", "v", c) for i, c in enumerate(captions)])
    assert [j.caption for j in csv_store(path).snapshot().jobs] == captions
    claim = store.claim_next(1, 1, T0)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.RETRYABLE, captions[0], captions[-1]), T0)
    job = csv_store(path).snapshot().jobs[0]
    assert (job.caption, job.error_type, job.error) == (captions[0], captions[0], captions[-1][:500])


def test_timestamps_are_written_with_the_policy_offset(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    store = csv_store(path)
    store.seed(new_jobs(1))
    store.claim_next(1, 1, T0)
    assert "2026-06-15T14:00:00+02:00" in path.read_text(encoding="utf-8-sig")


def test_seed_creates_the_file_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    assert csv_store(path).snapshot().jobs == ()
    csv_store(path).seed([])
    assert path.read_text(encoding="utf-8-sig").startswith(HEADER13 + ",claim_token")


def test_backup_holds_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    store = csv_store(path)
    store.seed(new_jobs(2))
    before = path.read_bytes()
    store.claim_next(1, 1, T0)
    assert path.with_name("p.csv.bak").read_bytes() == before != path.read_bytes()


def test_blocked_accounts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = csv_store(path)
    store.seed(new_jobs(2, accounts=1))
    store.block_account("a0", "banned", "j0", T0)
    assert (tmp_path / "parallel_progress.accounts.json").exists()
    again = csv_store(path)
    assert again.snapshot().blocked["a0"].reason == "banned"
    assert again.claim_next(1, 1, T0) is None


def test_stale_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    csv_store(path).seed(new_jobs(1))
    stale = tmp_path / "p.csv.0123456789ab.tmp"
    stale.write_bytes(b"half a file")
    unrelated = tmp_path / "notes.tmp"
    unrelated.write_bytes(b"keep")
    csv_store(path).claim_next(1, 1, T0)
    assert not stale.exists() and unrelated.exists()


def test_a_file_held_open_by_excel_raises_file_busy_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = csv_store(path, replace_retry_delays_s=(0.001, 0.001))
    store.seed(new_jobs(2))
    before = path.read_bytes()
    close_excel = hold_open_like_excel(monkeypatch, path)
    with pytest.raises(FileBusy, match=r"parallel_progress\.csv.*Excel"):
        store.claim_next(1, 1, T0)
    close_excel()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))
    assert store.claim_next(1, 1, T0) is not None


def test_a_transient_denial_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.csv"
    store = csv_store(path, replace_retry_delays_s=(0.001, 0.001, 0.001))
    store.seed(new_jobs(1))
    real_replace, failures = os.replace, [2]

    def flaky(source: str | Path, target: str | Path) -> None:
        if Path(str(target)) == path and failures[0]:
            failures[0] -= 1
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", flaky)
    assert store.claim_next(1, 1, T0) is not None


def test_two_stores_on_one_file_see_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    first, second = csv_store(path), csv_store(path)
    first.seed(new_jobs(6))
    claim = first.claim_next(1, 1, T0)
    assert claim is not None
    other = second.claim_next(2, 2, T0)
    assert other is not None and other.job.account != claim.job.account
    second.record(other, Outcome(OutcomeKind.SUCCESS), T0)
    first.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    first.seed([NewJob("late", "a9", "v", "c")])
    for store in (first, second):
        counts = store.snapshot().counts()
        assert (counts[JobStatus.SUCCESS], counts[JobStatus.PENDING]) == (2, 5)
    assert first.snapshot() == csv_store(path).snapshot()


def test_an_operator_edit_in_excel_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    store = csv_store(path)
    store.seed(new_jobs(3))
    store.snapshot()
    path.write_bytes(path.read_bytes().replace(b"caption 1", b"edited caption"))
    assert store.snapshot().jobs[1].caption == "edited caption"
