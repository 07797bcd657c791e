"""A progress file saved by European or older Excel (semicolons, Windows-1252) is read, with a
notice, and written back in the queue's own format; Excel's copy stays as the .bak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobqueue import CorruptProgressFile, CsvJobStore, JobStatus, Outcome, OutcomeKind
from jobqueue.csvrow import SEED_COLUMNS
from jobqueue.edits import read_edits
from tests.jobqueue.conftest import T0, UTC_POLICY, hold_open_like_excel

PID = os.getpid()
CAPTION = 'Caf\u00e9 "ü"; 5\u20ac, line one\nline two'


def excel_bytes(rows: list[list[str]], *, sep: str = ";", encoding: str = "cp1252") -> bytes:
    def cell(value: str) -> str:
        if any(c in value for c in (sep, '"', "\n", ",")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [sep.join(cell(c) for c in row) for row in [list(SEED_COLUMNS), *rows]]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def row(job_id: str, account: str, status: str = "pending", caption: str = CAPTION) -> list[str]:
    return [job_id, account, f"C:\\videos\\{job_id}.mp4", caption, status, "", "", "", "", "0", "3", "", ""]


def test_a_semicolon_windows_1252_file_is_read_and_written_back_as_csv_utf8(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    excel = excel_bytes([row("j0", "a0"), row("j1", "a1", "failed")])
    path.write_bytes(excel)
    snapshot = CsvJobStore(path, UTC_POLICY).snapshot()
    assert [(j.job_id, j.status, j.caption) for j in snapshot.jobs] == [
        ("j0", JobStatus.PENDING, CAPTION),
        ("j1", JobStatus.FAILED, CAPTION),
    ]
    written = path.read_bytes()
    assert written.startswith(b"\xef\xbb\xbfjob_id,account,")  # the queue's own format again
    assert CAPTION.encode("utf-8") in written.replace(b'""', b'"')  # quotes are doubled in a cell
    assert (tmp_path / "parallel_progress.csv.bak").read_bytes() == excel  # Excel's copy, untouched
    (notice,) = read_edits(path)
    assert notice.job_id == "" and "semicolon-separated and Windows-1252" in notice.why
    assert "CSV UTF-8" in notice.why and "parallel_progress.csv.bak" in notice.why
    again = CsvJobStore(path, UTC_POLICY)
    claim = again.claim_next(1, PID, T0)
    assert claim is not None and claim.job.caption == CAPTION
    again.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    assert len(read_edits(path)) == 1  # our own writes are no edits


def test_a_semicolon_save_during_a_run_cannot_move_a_job_backwards(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    store = CsvJobStore(path, UTC_POLICY)
    excel_first = excel_bytes([row("j0", "a0"), row("j1", "a1")], encoding="utf-8")
    path.write_bytes(excel_first)
    claim = store.claim_next(1, PID, T0)
    assert claim is not None and claim.job.job_id == "j0"
    store.record(claim, Outcome(OutcomeKind.SUCCESS), T0)
    # Excel still shows both pending; the operator fails j1 by hand and saves with semicolons
    path.write_bytes(excel_bytes([row("j0", "a0", "pending"), row("j1", "a1", "failed")]))
    jobs = {j.job_id: j.status for j in store.snapshot().jobs}
    assert jobs == {"j0": JobStatus.SUCCESS, "j1": JobStatus.FAILED}  # the post stays a post
    assert path.read_bytes().startswith(b"\xef\xbb\xbfjob_id,")
    notices = read_edits(path)
    assert any(n.job_id == "j0" for n in notices) and any(n.job_id == "" for n in notices)


def test_a_file_in_neither_encoding_is_refused_with_the_real_cause_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "parallel_progress.csv"
    broken = (
        excel_bytes([row("j0", "a0", caption="ok")], sep=",", encoding="utf-8")
        + b"j1,a1,v,\x81\xff,pending\r\n"
    )
    path.write_bytes(broken)
    with pytest.raises(CorruptProgressFile, match=r"neither UTF-8 nor Windows-1252.*CSV UTF-8.*\.bak"):
        CsvJobStore(path, UTC_POLICY).snapshot()
    assert path.read_bytes() == broken


def test_a_semicolon_file_still_open_in_excel_is_read_as_saved_and_written_back_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "parallel_progress.csv"
    excel = excel_bytes([row("j0", "a0"), row("j1", "a1")])
    path.write_bytes(excel)
    store = CsvJobStore(path, UTC_POLICY, replace_retry_delays_s=(0.001,))
    close_excel = hold_open_like_excel(monkeypatch, path)
    assert [j.caption for j in store.snapshot().jobs] == [CAPTION, CAPTION]  # status still works
    assert path.read_bytes() == excel
    close_excel()
    claim = store.claim_next(1, PID, T0)  # Excel closed: the next write puts it back in our format
    assert claim is not None
    assert path.read_bytes().startswith(b"\xef\xbb\xbfjob_id,")
    assert CsvJobStore(path, UTC_POLICY).snapshot().job("j1") is not None
