"""import: the original tool's files, each layout, with quarantine and no double posting."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler import load_state
from scheduler.cli import EXIT_BAD_INPUT

from .conftest import Invoke, csv_bytes

SEED_13 = [
    "job_id", "account", "video_path", "caption", "status", "worker_id", "claimed_at",
    "completed_at", "error", "attempts", "max_attempts", "retry_at", "error_type",
]  # fmt: skip
LAYOUTS = {
    13: SEED_13,
    15: [*SEED_13, "error_category", "pass_number"],
    16: [*SEED_13, "error_category", "pass_number", "platform"],
    17: [*SEED_13, "error_category", "pass_number", "run_id", "video_id"],
}
T = "2025-12-22T16:32:57.051485"


def legacy_rows(width: int) -> list[list[str]]:
    def row(job: str, acc: str, path: str, caption: str, status: str, done: str = "") -> list[str]:
        base = [job, acc, path, caption, status, "0", T, done, "", "1", "3", "", ""]
        return (base + [""] * width)[:width]

    return [
        row("SC1-1", "acc1", "chunk_01c\\src\\SC1-1.mp4", "posted 😀", "success", T),
        row("SC2-1", "acc2", "chunk_01c/src/SC2-1.mp4", "was claimed", "claimed"),
        row("SC3-1", "acc1", "C:\\Users\\op\\chunk_01c\\src\\SC3-1.mp4", "line one\nline two 🎉", "pending"),
        row("SC4-1", "", "chunk_01c\\src\\SC4-1.mp4", "no account yet", "pending"),
        row("SC5-1", "acc2", "chunk_01c\\src\\SC5-1.mp4", "retry me", "retrying"),
        row("SC6-1", "acc3", "chunk_01c\\src\\SC6-1.mp4", "hmm", "verification_pending"),
        row("SC7-1", "acc1", "chunk_01c\\src\\SC7-1.mp4", "junk", "terminated"),
        ["Vision analysis: the screen shows", "an error"],  # a row split by a non-CSV edit
    ]


def write_original_folder(root: Path, width: int) -> Path:
    legacy = root / "original"
    legacy.mkdir()
    data = csv_bytes([LAYOUTS[width], *legacy_rows(width)], crlf=True)
    (legacy / "parallel_progress_20251214.csv").write_bytes(data)
    (legacy / "accounts.txt").write_text(
        "# For Geelark, phone_name IS the account identifier\nacc1\nacc2\n\nacc3\n"
    )
    (legacy / "all_posted_videos.txt").write_text(
        "# Rebuilt from historical data on 2025-12-20\n"
        "acc2|OLD-1.mp4|rebuilt\nacc1|SC9-1.mp4|2025-12-20T10:00:00\nbroken line\n"
    )
    return legacy


def quarantine_rows(work: Path) -> list[dict[str, str]]:
    (found,) = work.glob("import_quarantine_*.csv")
    with found.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("width", sorted(LAYOUTS))
def test_each_progress_layout_imports_without_losing_history(work: Path, invoke: Invoke, width: int) -> None:
    legacy = write_original_folder(work, width)
    result = invoke("import", "--from", str(legacy))
    assert result.exit_code == 0, result.output
    assert f"{width} columns" in result.output
    state = load_state(work / "scheduler_state.json")
    assert state.account_names == ["acc1", "acc2", "acc3"]
    posted = {(p.account, p.video) for p in state.posted}
    assert {("acc1", "SC1-1.mp4"), ("acc2", "OLD-1.mp4"), ("acc1", "SC9-1.mp4")} <= posted
    assert {("acc2", "SC2-1.mp4"), ("acc3", "SC6-1.mp4")} <= posted  # review: may have been posted
    kept = {(a.job_id, a.account) for a in state.assignments}
    assert {("SC3-1", "acc1"), ("SC5-1", "acc2")} <= kept  # original job ids: no second row if re-seeded
    videos = state.video_by_id()
    assert set(videos) == {"SC3-1", "SC4-1", "SC5-1"}
    assert videos["SC3-1"].path == "C:/Users/op/chunk_01c/src/SC3-1.mp4"
    assert videos["SC4-1"].path.endswith("/chunk_01c/src/SC4-1.mp4") and "\\" not in videos["SC4-1"].path
    assert videos["SC3-1"].caption == "line one\nline two 🎉"
    reasons = {q["source"]: q["reason"] for q in quarantine_rows(work)}
    assert reasons["parallel_progress_20251214.csv:3"].startswith("review:")
    assert reasons["parallel_progress_20251214.csv:9"] == "unknown status 'terminated'"
    assert reasons["parallel_progress_20251214.csv:10"].startswith(f"2 fields where the header has {width}")
    assert reasons["all_posted_videos.txt:4"] == "expected account|video_filename|timestamp"


def test_imported_history_prevents_double_posting(work: Path, invoke: Invoke) -> None:
    legacy = write_original_folder(work, 17)
    invoke("import", "--from", str(legacy))
    invoke("--days-ahead", "5")
    state = load_state(work / "scheduler_state.json")
    pairs = {(a.account, a.video_id) for a in state.assignments}
    assert ("acc1", "SC1-1") not in pairs and ("acc2", "SC2-1") not in pairs
    assert {a.video_id for a in state.assignments} == {"SC3-1", "SC4-1", "SC5-1"}


def original_state(jobs: list[Any], parallel: bool) -> dict[str, Any]:
    account = {"name": "acc1", "posts_today": 0, "last_post_date": "2025-12-13", "consecutive_failures": 11}
    if parallel:
        account["in_use"] = False
        return {"jobs": jobs, "accounts": [account], "settings": {"num_workers": 3}, "last_saved": T}
    return {"jobs": jobs, "accounts": [{**account, "total_posts": 1}], "settings": {}, "saved_at": T}


@pytest.mark.parametrize("parallel", [False, True])
def test_original_scheduler_state_variants(work: Path, invoke: Invoke, parallel: bool) -> None:
    base = {
        "caption": "c",
        "attempts": 1,
        "max_attempts": 3,
        "source_folder": "chunk_01c",
        "last_heartbeat": "",
    }
    jobs = [
        {
            **base,
            "id": "SC1-1",
            "video_path": "chunk_01c\\s\\SC1-1.mp4",
            "account": "acc1",
            "status": "success",
        },
        {
            **base,
            "id": "SC2-1",
            "video_path": "chunk_01c\\s\\SC2-1.mp4",
            "account": "",
            "status": "retrying",
            "worker_id": 0,
        },
        {
            **base,
            "id": "SC3-1",
            "video_path": "chunk_01c\\s\\SC3-1.mp4",
            "account": "acc1",
            "status": "in_progress",
        },
        {
            **base,
            "id": "SC4-1",
            "video_path": "chunk_01c\\s\\SC4-1.mp4",
            "account": "",
            "status": "pending",
            "caption": "",
        },
        "not a job",
    ]
    name = "scheduler_state_parallel.json" if parallel else "legacy_state.json"
    (work / name).write_text(json.dumps(original_state(jobs, parallel)), encoding="utf-8")
    result = invoke("import", "--from", name)
    assert result.exit_code == 0, result.output
    state = load_state(work / "scheduler_state.json")
    assert state.account_names == ["acc1"]
    assert {(p.account, p.video) for p in state.posted} == {("acc1", "SC1-1.mp4"), ("acc1", "SC3-1.mp4")}
    assert [v.video_id for v in state.videos] == ["SC2-1"]
    assert [a.account for a in state.assignments] == ["acc1"]  # the waiting video, given now
    reasons = sorted(q["reason"].split(":")[0] for q in quarantine_rows(work))
    assert reasons == ["a job that is not an object", "no caption", "review"]


def test_the_original_state_file_at_our_path_is_converted_and_kept(work: Path, invoke: Invoke) -> None:
    jobs = [{"id": "SC2-1", "video_path": "v/SC2-1.mp4", "caption": "c", "status": "pending", "account": ""}]
    original = json.dumps(original_state(jobs, parallel=False))
    (work / "scheduler_state.json").write_text(original, encoding="utf-8")
    assert invoke("status").exit_code != 0  # refused until imported
    result = invoke("import", "--from", "scheduler_state.json")
    assert result.exit_code == 0, result.output
    (backup,) = work.glob("scheduler_state.legacy-*.json")
    assert backup.read_text(encoding="utf-8") == original
    assert [v.video_id for v in load_state(work / "scheduler_state.json").videos] == ["SC2-1"]
    assert invoke("status").exit_code == 0


def test_import_twice_adds_nothing_new(work: Path, invoke: Invoke) -> None:
    legacy = write_original_folder(work, 13)
    invoke("import", "--from", str(legacy))
    first = load_state(work / "scheduler_state.json")
    invoke("import", "--from", str(legacy))
    second = load_state(work / "scheduler_state.json")
    assert (second.videos, second.assignments, second.posted) == (
        first.videos,
        first.assignments,
        first.posted,
    )


def test_import_from_nothing_is_an_error(work: Path, invoke: Invoke) -> None:
    result = invoke("import", "--from", "nowhere")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "nothing to import at nowhere" in result.output
    assert not (work / "scheduler_state.json").exists()


def test_corrupt_original_state_is_an_error_naming_the_file(work: Path, invoke: Invoke) -> None:
    (work / "scheduler_state_parallel.json").write_text('{"jobs": [', encoding="utf-8")
    result = invoke("import", "--from", "scheduler_state_parallel.json")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "scheduler_state_parallel.json: not valid JSON" in result.output
    assert not (work / "scheduler_state.json").exists()


def test_the_quarantine_file_never_hands_a_spreadsheet_a_formula(work: Path, invoke: Invoke) -> None:
    legacy = write_original_folder(work, 13)
    progress = legacy / "parallel_progress_20251214.csv"
    with progress.open("ab") as handle:
        handle.write(b"=cmd|' /C calc'!A0,,\r\n")  # a row it cannot understand, that is a formula
    result = invoke("import", "--from", str(legacy))
    assert result.exit_code == 0, result.output
    (found,) = work.glob("import_quarantine_*.csv")
    data = found.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    assert b",=cmd" not in data and b"\n=cmd" not in data and b'"=cmd' not in data
    assert any(row["raw"].startswith("=cmd") for row in quarantine_rows(work)) is False
    assert any("'=cmd" in row["raw"] for row in quarantine_rows(work))
