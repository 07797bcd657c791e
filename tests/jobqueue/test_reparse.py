"""Re-reading a file a peer changed reuses unchanged rows yet always equals a full parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue import CorruptProgressFile, Job, JobStatus
from jobqueue.csvfile import BOM, ParsedFile, RowReader, parse_file, reparse
from jobqueue.csvrow import Layout, encode_cells, job_cells

LAYOUT = Layout.from_header((*Layout.default().header, "notes"))
READER = RowReader(Path("p.csv"), "UTC", 3)
captions = st.sampled_from(["a", "b, c", 'q "x"', "multi\nline", "=f", "", "ü🎉"])


def record(job_id: str, caption: str, status: JobStatus = JobStatus.PENDING) -> bytes:
    job = Job(job_id, "acc", "v", caption, status=status)
    return encode_cells(job_cells(job, ("note",), LAYOUT, "UTC"))


def file_of(records: list[bytes]) -> bytes:
    return b"".join([BOM, encode_cells(LAYOUT.header), *records])


def parse_or_error(data: bytes, previous: ParsedFile | None) -> object:
    try:
        parsed = parse_file(data, READER) if previous is None else reparse(data, previous, READER)
    except CorruptProgressFile as error:
        return (error.line, error.column)
    return [(row.job, row.extras, row.raw) for row in parsed.rows]


edits = st.lists(
    st.tuples(
        st.sampled_from(["change", "delete", "insert", "swap", "duplicate", "status"]),
        st.integers(0, 40),
        st.integers(0, 40),
        captions,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(captions, min_size=1, max_size=40), st.lists(edits, min_size=1, max_size=4))
def test_reparse_equals_a_full_parse(
    initial: list[str], rounds: list[list[tuple[str, int, int, str]]]
) -> None:
    records = [record(f"j{i}", caption) for i, caption in enumerate(initial)]
    previous = parse_file(file_of(records), READER)
    fresh_id = 1000
    for round_edits in rounds:
        for kind, first, second, caption in round_edits:
            if not records:
                break
            i, j = first % len(records), second % len(records)
            job_id = f"j{fresh_id}"
            fresh_id += 1
            if kind == "change":
                records[i] = record(f"j{i}x{fresh_id}", caption)
            elif kind == "delete":
                del records[i]
            elif kind == "insert":
                records.insert(i, record(job_id, caption))
            elif kind == "swap":
                records[i], records[j] = records[j], records[i]
            elif kind == "duplicate":
                records.insert(j, records[i])
            else:
                records[i] = records[i].replace(b",pending,", b",failed,", 1)
        data = file_of(records)
        expected = parse_or_error(data, None)
        assert parse_or_error(data, previous) == expected
        if isinstance(expected, tuple):
            return
        previous = reparse(data, previous, READER)


def test_unchanged_rows_are_reused_not_parsed_again() -> None:
    records = [record(f"j{i}", "c") for i in range(50)]
    previous = parse_file(file_of(records), READER)
    records[20] = record("j20", "changed")
    parsed = reparse(file_of(records), previous, READER)
    assert parsed.changed == range(20, 21)
    assert all(parsed.rows[i] is previous.rows[i] for i in range(50) if i != 20)
    assert parsed.rows[20].job.caption == "changed"


@pytest.mark.parametrize("bad", [b"j9,acc,v,c,nonsense\r\n", b'j9,acc,v,"open quote\r\n'])
def test_a_bad_change_is_reported_with_its_line(bad: bytes) -> None:
    records = [record(f"j{i}", "c") for i in range(10)]
    previous = parse_file(file_of(records), READER)
    records[5] = bad
    with pytest.raises(CorruptProgressFile) as raised:
        reparse(file_of(records), previous, READER)
    assert raised.value.line == 7
