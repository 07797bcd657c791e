"""The posting-scheduler CLI in-process: the seed's invocation, inspection, and every bad input."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobqueue import CsvJobStore, JobStatus
from scheduler.cli import EXIT_BAD_INPUT, EXIT_BAD_STATE, expand_multi_value_flags

from .conftest import Invoke, bulk_export_folder, csv_bytes, write_video

ROOT = Path(__file__).resolve().parents[2]


def state_of(work: Path) -> dict:
    return json.loads((work / "scheduler_state.json").read_text(encoding="utf-8"))


def test_the_seed_invocation_works_as_written(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    result = invoke("--add-folder", "chunk_01", "--add-accounts", "phone1", "phone2", "phone3")
    assert result.exit_code == 0, result.output
    assert "3 video(s) added (captions: chunk_01.csv)" in result.output
    state = state_of(work)
    assert [a["name"] for a in state["accounts"]] == ["phone1", "phone2", "phone3"]
    assert sorted(a["account"] for a in state["assignments"]) == ["phone1", "phone2", "phone3"]


def test_multi_value_flags_are_expanded_like_argparse() -> None:
    args = ["--add-accounts", "a", "b", "--state", "s.json", "--add-folder", "x", "y", "status"]
    assert expand_multi_value_flags(args) == [
        "--add-accounts", "a", "--add-accounts", "b", "--state", "s.json",
        "--add-folder", "x", "--add-folder", "y", "--add-folder", "status",
    ]  # fmt: skip


def test_flag_equals_value_form_also_takes_more_values() -> None:
    assert expand_multi_value_flags(["--add-folder=a", "b"]) == ["--add-folder=a", "--add-folder", "b"]


def test_missing_accounts_file(work: Path, invoke: Invoke) -> None:
    assert_refused(invoke("--accounts-file", "accounts.txt"), EXIT_BAD_INPUT, "accounts file not found")
    assert not (work / "scheduler_state.json").exists()


def test_accounts_file_ignores_comments_and_blank_lines(work: Path, invoke: Invoke) -> None:
    (work / "accounts.txt").write_bytes(
        b"\xef\xbb\xbf# For Geelark, phone_name IS the account\r\nacc.one\r\n\r\nacc_two\r\n"
    )
    result = invoke("--accounts-file", "accounts.txt")
    assert result.exit_code == 0, result.output
    assert [a["name"] for a in state_of(work)["accounts"]] == ["acc.one", "acc_two"]


def test_adding_an_existing_account_again_is_reported_not_an_error(work: Path, invoke: Invoke) -> None:
    invoke("--add-accounts", "phone1")
    result = invoke("--add-accounts", "phone1", "phone2")
    assert result.exit_code == 0
    assert "accounts already present: phone1" in result.output


def test_status_shows_accounts_and_waiting_videos_with_the_reason(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C", "D", "E"))
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    result = invoke("status")
    assert result.exit_code == 0
    assert "videos: 5   assigned: 2 (seeded 0)   waiting: 3" in result.output
    assert "3 waiting: no free account: each one that may post it holds its open jobs" in result.output
    assert "days_ahead x its daily limit (the default [accounts] daily_limit (1)" in result.output
    assert invoke().output == result.output  # no command and no flag: the status


def test_status_json_is_the_same_data(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    invoke("--add-folder", "chunk_01")
    data = json.loads(invoke("status", "--json").output)
    assert data["videos"] == 3
    assert data["waiting"][0][1].startswith("no accounts yet")


def test_days_ahead_and_daily_limit_widen_the_assignment(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C", "D", "E"))
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    result = invoke("--days-ahead", "2")
    assert "assigned now: 2; waiting: 1" in result.output
    assert state_of(work)["settings"]["days_ahead"] == 2


def test_the_plan_uses_the_daily_limit_the_queue_enforces_per_account(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C", "D", "E", "F", "G"))
    (work / "parallel-orchestrator.toml").write_text("[accounts]\ndaily_limit = 2\n", encoding="utf-8")
    (work / "accounts.csv").write_text("account,daily_limit\np1,\np2,4\n", encoding="utf-8")
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    load: dict[str, int] = {}
    for a in state_of(work)["assignments"]:
        load[a["account"]] = load.get(a["account"], 0) + 1
    assert load == {"p1": 2, "p2": 4}  # p1 takes the config's 2, p2 its own 4; one video waits
    old = invoke("--daily-limit", "9")
    assert old.exit_code == 0
    assert "--daily-limit is deprecated and was not used" in old.output
    assert "[accounts] daily_limit = 9" in old.output
    assert "daily_limit" not in state_of(work)["settings"] or state_of(work)["settings"]["daily_limit"] == 1


def test_seeded_jobs_of_a_paced_account_are_spread_over_its_window(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C", "D", "E", "F"))
    (work / "parallel-orchestrator.toml").write_text("[accounts]\ndaily_limit = 3\n", encoding="utf-8")
    (work / "accounts.csv").write_text(
        "account,timezone,window,min_spacing\np1,Europe/Berlin,09:00-21:00,2h\np2,,,\n", encoding="utf-8"
    )
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    assert invoke("seed").exit_code == 0
    jobs = CsvJobStore(work / "parallel_progress.csv").snapshot().jobs
    assert "not_before" in (work / "parallel_progress.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    planned = sorted(j.not_before for j in jobs if j.account == "p1" and j.not_before is not None)
    assert len(planned) == 3 and all(j.not_before is None for j in jobs if j.account == "p2")  # p2: no pacing
    berlin = [p.astimezone(ZoneInfo("Europe/Berlin")) for p in planned]
    assert all(9 <= b.hour < 21 for b in berlin)
    # a gap of 12 h / 3 = 4 h, less a jitter of at most 45 min, and never under the 2 h spacing
    assert all(b - a >= timedelta(hours=3, minutes=15) for a, b in itertools.pairwise(planned))
    listed = invoke("list")
    assert listed.output.count("pending, not before") == 3, listed.output


def test_remove_account_returns_its_unseeded_videos_to_the_waiting_list(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B"))
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    result = invoke("remove-account", "p2")
    assert result.exit_code == 0, result.output
    assert "1 unseeded assignment(s) returned" in result.output
    state = state_of(work)
    assert [a["account"] for a in state["assignments"]] == ["p1"]


def test_removing_an_account_cancels_its_queued_jobs_even_during_a_run(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C", "D"))
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2", "--days-ahead", "2")
    assert invoke("seed").exit_code == 0
    store = CsvJobStore(work / "parallel_progress.csv")
    p2_jobs = [j.job_id for j in store.snapshot().jobs if j.account == "p2"]
    assert len(p2_jobs) == 2
    claim = store.claim_next(0, 1, datetime.now(UTC), prefer_account="p2")  # a worker is posting one
    assert claim is not None and claim.job.account == "p2"
    result = invoke("remove-account", "p2")
    assert result.exit_code == 0, result.output
    statuses = {j.job_id: (j.status, j.error_type) for j in store.snapshot().jobs if j.account == "p2"}
    waiting = next(j for j in p2_jobs if j != claim.job.job_id)
    assert statuses[waiting] == (JobStatus.FAILED, "cancelled")  # a run going on will not claim it
    assert statuses[claim.job.job_id][0] is JobStatus.CLAIMED  # its worker finishes it
    assert "queued jobs of removed accounts cancelled (failed 'cancelled'): 1" in result.output
    assert f"being posted right now, left to finish: {claim.job.job_id}" in result.output


def test_subcommands_add_folder_and_add_accounts(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    (work / "accs.txt").write_text("x1\nx2\n", encoding="utf-8")
    assert invoke("add-folder", "chunk_01").exit_code == 0
    assert invoke("add-accounts", "x0", "--file", "accs.txt").exit_code == 0
    assert len(state_of(work)["assignments"]) == 3


def test_adding_the_same_folder_twice_reports_duplicates(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    invoke("--add-folder", "chunk_01")
    before = (work / "scheduler_state.json").read_bytes()
    result = invoke("--add-folder", "chunk_01")
    assert result.exit_code == 0
    assert "0 video(s) added" in result.output
    assert "duplicate: already in the state" in result.output
    assert "nothing changed; state not rewritten" in result.output
    assert (work / "scheduler_state.json").read_bytes() == before


# --- bad input: clear error, non-zero exit, nothing written -------------------------------------


@pytest.fixture
def existing_state(work: Path, invoke: Invoke) -> bytes:
    bulk_export_folder(work, name="chunk_00")
    assert invoke("--add-folder", "chunk_00", "--add-accounts", "phone1").exit_code == 0
    return (work / "scheduler_state.json").read_bytes()


def assert_refused(result: object, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in result.output  # type: ignore[attr-defined]
    assert "nothing was written" in result.output  # type: ignore[attr-defined]


def test_missing_folder(work: Path, invoke: Invoke, existing_state: bytes) -> None:
    result = invoke("--add-folder", "chunk_99", "--add-accounts", "phone2")
    assert_refused(result, EXIT_BAD_INPUT, "folder not found: chunk_99", "give the full path")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


def test_folder_without_videos(work: Path, invoke: Invoke, existing_state: bytes) -> None:
    (work / "empty").mkdir()
    assert_refused(invoke("--add-folder", "empty"), EXIT_BAD_INPUT, "no video files in empty")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


def test_folder_whose_videos_have_no_caption(work: Path, invoke: Invoke, existing_state: bytes) -> None:
    write_video(work / "nocap" / "a.mp4")
    assert_refused(invoke("--add-folder", "nocap"), EXIT_BAD_INPUT, "a.mp4: no caption")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


def test_caption_file_missing_a_column(work: Path, invoke: Invoke, existing_state: bytes) -> None:
    write_video(work / "c2" / "a.mp4")
    (work / "c2" / "captions.csv").write_bytes(csv_bytes([["filename", "notes"], ["a.mp4", "x"]]))
    assert_refused(invoke("--add-folder", "c2"), EXIT_BAD_INPUT, "captions.csv: no caption column", "'notes'")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (["phone2", "phone2"], "given twice"),
        (["phone2", "PHONE2"], "given twice"),
        (["Phone1"], "differ only by case"),
        (["bad name"], "contains a space"),
    ],
)
def test_duplicate_or_malformed_account(
    work: Path, invoke: Invoke, existing_state: bytes, names: list[str], fragment: str
) -> None:
    assert_refused(invoke("--add-accounts", *names), EXIT_BAD_INPUT, fragment)
    assert (work / "scheduler_state.json").read_bytes() == existing_state


def test_duplicate_account_in_accounts_file_names_the_line(
    work: Path, invoke: Invoke, existing_state: bytes
) -> None:
    (work / "accounts.txt").write_text("a1\n# c\na2\na1\n", encoding="utf-8")
    assert_refused(invoke("--accounts-file", "accounts.txt"), EXIT_BAD_INPUT, "accounts.txt line 4", "line 1")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


def test_removing_an_unknown_account(work: Path, invoke: Invoke, existing_state: bytes) -> None:
    assert_refused(invoke("remove-account", "ghost"), EXIT_BAD_INPUT, "no account named 'ghost'", "phone1")
    assert (work / "scheduler_state.json").read_bytes() == existing_state


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"format": 1, "videos": [', "not valid JSON"),
        (b"", "the file is empty"),
        (b'{"format": 1, "videos": [{"video_id": "a", "path": "p", "caption": 5}]}', "videos[0].caption"),
        (b'{"format": 1, "settings": {"daily_limit": "two"}}', "settings.daily_limit"),
        (b'{"format": 1, "accounts": {}}', "accounts: expected a list"),
        (b'{"format": 7}', "newer posting-scheduler"),
        (b'{"jobs": [], "accounts": [], "settings": {}}', "original posting_scheduler.py"),
    ],
)
def test_corrupt_state_file_is_never_replaced(
    work: Path, invoke: Invoke, content: bytes, fragment: str
) -> None:
    bulk_export_folder(work)
    (work / "scheduler_state.json").write_bytes(content)
    result = invoke("--add-folder", "chunk_01", "--add-accounts", "p1")
    assert result.exit_code == EXIT_BAD_STATE, result.output
    assert "scheduler_state.json" in result.output and fragment in result.output
    assert (work / "scheduler_state.json").read_bytes() == content
    assert invoke("status").exit_code == EXIT_BAD_STATE


def test_real_subprocess_python_m_scheduler(work: Path) -> None:
    bulk_export_folder(work)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    command = [
        sys.executable,
        "-m",
        "scheduler",
        "--add-folder",
        "chunk_01",
        "--add-accounts",
        "phone1",
        "phone2",
    ]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "3 video(s) added" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "scheduler", "--add-folder", "nope"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == EXIT_BAD_INPUT
    assert "folder not found: nope" in missing.stderr


def test_list_shows_every_video_with_its_account_or_waiting(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A", "B", "C"))
    invoke("--add-folder", "chunk_01", "--add-accounts", "p1", "p2")
    lines = invoke("list").output.splitlines()
    assert len(lines) == 3
    assert sorted(line.split("\t")[2] for line in lines) == ["assigned", "assigned", "waiting"]
    waiting = json.loads(invoke("list", "--waiting", "--json").output)
    assert [(w["account"], w["status"]) for w in waiting] == [("", "waiting")]
    assert waiting[0]["caption_start"] == "Wait for it 😂🔥"


def test_folder_report_lists_used_files_with_their_caption_source(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work, shortcodes=("A",))
    assert "source0/A-1.mp4 <- chunk_01.csv:2" in invoke("--add-folder", "chunk_01").output


def test_an_unreadable_progress_file_is_a_clear_error(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    (work / "parallel_progress.csv").write_text("what,is,this\n1,2,3\n", encoding="utf-8")
    result = invoke("--add-folder", "chunk_01")
    assert_refused(result, EXIT_BAD_INPUT, "cannot read the progress file", "no job_id")
    assert not (work / "scheduler_state.json").exists()


def test_a_caption_corrected_at_the_source_reaches_jobs_not_yet_claimed(work: Path, invoke: Invoke) -> None:
    folder = work / "podcast"
    write_video(folder / "a.mp4")
    write_video(folder / "b.mp4")
    rows = [["filename", "caption"], ["a.mp4", "tpyo in a"], ["b.mp4", "tpyo in b"]]
    (folder / "captions.csv").write_bytes(csv_bytes(rows))
    assert invoke("--add-folder", "podcast", "--add-accounts", "p1", "p2").exit_code == 0
    assert invoke("seed").exit_code == 0
    store = CsvJobStore(work / "parallel_progress.csv")
    claim = store.claim_next(0, 1, datetime.now(UTC), prefer_account="p1")  # one is being posted
    assert claim is not None
    fixed = [["filename", "caption"], ["a.mp4", "fixed a"], ["b.mp4", "fixed b"]]
    (folder / "captions.csv").write_bytes(csv_bytes(fixed))
    result = invoke("--add-folder", "podcast")
    assert result.exit_code == 0, result.output
    assert "captions corrected at the source: 2" in result.output
    jobs = {j.job_id: j for j in store.snapshot().jobs}
    other = next(j for j in jobs if j != claim.job.job_id)
    assert jobs[other].caption.startswith("fixed")
    assert jobs[claim.job.job_id].caption.startswith("tpyo")  # its post is under way: left as it is
    assert f"queued jobs now with the corrected caption: {other}" in result.output
    assert f"keep the caption they had: {claim.job.job_id}" in result.output
    captions = {v["video_id"]: v["caption"] for v in state_of(work)["videos"]}
    assert captions == {"a": "fixed a", "b": "fixed b"}


def test_adding_accounts_creates_and_extends_the_accounts_list_keeping_the_operators_rows(
    work: Path, invoke: Invoke
) -> None:
    assert invoke("--add-accounts", "p1", "p2").exit_code == 0
    created = (work / "accounts.csv").read_bytes()
    assert created.startswith(
        b"\xef\xbb\xbfaccount,app,executor,timezone,window,daily_limit,min_spacing,note\r\n"
    )
    assert b"p1,,,,,,,\r\np2,,,,,,,\r\n" in created
    # the operator edits it in (European) Excel: semicolons, a note, a column of their own
    (work / "accounts.csv").write_bytes(
        "account;app;window;note;owner\r\np1;tiktok;09:00-21:00;main phone;Ann\r\np2;;;;\r\n".encode("cp1252")
    )
    result = invoke("--add-accounts", "p3")
    assert result.exit_code == 0 and "accounts.csv: 1 row(s) added" in result.output
    text = (work / "accounts.csv").read_bytes().decode("cp1252")
    assert (
        text
        == "account;app;window;note;owner\r\np1;tiktok;09:00-21:00;main phone;Ann\r\np2;;;;\r\np3;;;;\r\n"
    )
    from jobqueue.roster import AccountDefaults, load_roster

    roster = load_roster(work / "accounts.csv", AccountDefaults())
    assert roster.names() == ("p1", "p2", "p3") and roster.app_of("p3", "instagram") == "instagram"


def test_the_scheduler_refuses_a_dry_runs_folder(work: Path, invoke: Invoke) -> None:
    bulk_export_folder(work)
    (work / "DRY RUN - NOT REAL.txt").write_text("a dry run's copy\n", encoding="utf-8")
    for args in (("--add-folder", "chunk_01"), ("seed",), ("import", "--from", "chunk_01")):
        result = invoke(*args)
        assert result.exit_code == EXIT_BAD_INPUT, (args, result.output)
        assert "dry run's folder" in result.output and "nothing was written" in result.output
    assert not (work / "scheduler_state.json").exists()


def test_importing_from_a_dry_runs_folder_is_refused(work: Path, invoke: Invoke) -> None:
    simulation = work / "simulation"
    simulation.mkdir()
    (simulation / "DRY RUN - NOT REAL.txt").write_text("a dry run's copy\n", encoding="utf-8")
    (simulation / "parallel_progress.csv").write_text(
        "job_id,account,video_path,caption,status\n", encoding="utf-8"
    )
    result = invoke("import", "--from", "simulation/parallel_progress.csv")
    assert result.exit_code == EXIT_BAD_INPUT and "is never imported" in result.output
