"""A file that cannot be understood stops every operation with line and column, and stays untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobqueue import CorruptProgressFile, CsvJobStore, NewJob, QueuePolicy
from jobqueue.csvrow import SEED_COLUMNS
from tests.jobqueue.conftest import T0

HEADER = ",".join(SEED_COLUMNS)
GOOD = "j1,acc,v.mp4,cap,pending,,,,,0,3,,"
CASES = {
    # name: (file text, expected line, expected column)
    "unknown status": (f'{HEADER}\n{GOOD}\n"j2",acc,v,"multi\nline",done,,,,,0,3,,\n', 3, "status"),
    "duplicate job_id": (f"{HEADER}\n{GOOD}\nj2,acc,v,c,pending,,,,,0,3,,\n{GOOD}\n", 4, "job_id"),
    "bad int": (f"{HEADER}\n{GOOD}\nj2,acc,v,c,retrying,,,,,two,3,,\n", 3, "attempts"),
    "bad timestamp": (f"{HEADER}\n{GOOD}\nj2,acc,v,c,claimed,1,yesterday,,,0,3,,\n", 3, "claimed_at"),
    "missing required column": (f"{HEADER.replace(',status', '')}\nj1,acc,v,c,,,,,0,3,,\n", 1, "status"),
    "truncated quoted field": (f'{HEADER}\n{GOOD}\nj2,acc,v,"caption cut\nshort,pending\n', 3, ""),
    "too many cells": (f"{HEADER}\n{GOOD},surplus\n", 2, ""),
    "empty job_id": (f"{HEADER}\n,acc,v,c,pending,,,,,0,3,,\n", 2, "job_id"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_row_is_named_and_the_file_is_left_unchanged(tmp_path: Path, case: str) -> None:
    text, line, column = CASES[case]
    path = tmp_path / "parallel_progress.csv"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    before = path.read_bytes()
    store = CsvJobStore(path, QueuePolicy(timezone="UTC"), lock_timeout_s=5)
    operations = [
        lambda: store.claim_next(1, os.getpid(), T0),
        lambda: store.seed([NewJob("new", "acc", "v", "c")]),
        store.snapshot,
    ]
    for operation in operations:
        with pytest.raises(CorruptProgressFile) as raised:
            operation()
        assert (raised.value.line, raised.value.column) == (line, column)
        assert str(path) in str(raised.value) and f"line {line}" in str(raised.value)
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".bak").exists()


def test_text_in_neither_utf8_nor_windows_1252_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(f"{HEADER}\r\n{GOOD}\r\n".encode() + b"j2,acc,v,caf\x81,pending,,,,,0,3,,\r\n")
    with pytest.raises(CorruptProgressFile) as raised:
        CsvJobStore(path).snapshot()
    assert raised.value.line == 3


def test_a_corrupt_sidecar_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    store = CsvJobStore(path)
    store.seed([NewJob("j1", "a", "v", "c")])
    sidecar = tmp_path / "p.accounts.json"
    sidecar.write_text('{"blocked": {\n  "a": oops}')
    with pytest.raises(CorruptProgressFile) as raised:
        CsvJobStore(path).claim_next(1, 1, T0)
    assert raised.value.line == 2 and sidecar.read_text() == '{"blocked": {\n  "a": oops}'


def test_a_peer_writing_a_bad_row_is_caught_by_a_store_with_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    store = CsvJobStore(path, QueuePolicy(timezone="UTC"))
    store.seed([NewJob(f"j{i}", "a", "v", "c") for i in range(5)])
    store.snapshot()
    path.write_bytes(path.read_bytes().replace(b"j3,a,v,c,pending", b"j3,a,v,c,exploded"))
    with pytest.raises(CorruptProgressFile) as raised:
        store.claim_next(1, 1, T0)
    assert (raised.value.line, raised.value.column) == (5, "status")
