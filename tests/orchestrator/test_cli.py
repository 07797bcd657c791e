"""The console without a run: help, configuration, status, seeding, requeue and unblock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from jobqueue import JobStatus, Outcome, OutcomeKind
from orchestrator.cli.app import app
from scheduler.operations import ChangeRequest, apply_changes
from tests.orchestrator.conftest import Workdir


class InProcess:
    """The CLI run in this process (fast), in the working folder; `.cli(...)` like Workdir.cli."""

    def __init__(self, workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(workdir.path)
        for name in ("GEELARK_API_KEY", "GEELARK_TOKEN", "GEELARK_APP_ID", "GEELARK_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        self.runner = CliRunner()

    def cli(self, *args: str) -> Ran:
        result = self.runner.invoke(app, list(args), catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.output)


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    output: str


@pytest.fixture
def console(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(workdir, monkeypatch)


def test_help_lists_the_seed_flags_the_commands_and_the_exit_codes(workdir: Workdir) -> None:
    result = workdir.cli("--help")
    assert result.returncode == 0
    for word in ("--run", "--status", "--stop-all", "--seed-only", "--show-config", "logs", "requeue", "130"):
        assert word in result.stdout


def test_show_config_has_the_port_table_and_the_source_of_each_value(
    workdir: Workdir, console: InProcess
) -> None:
    (workdir.path / "parallel-orchestrator.toml").write_text("[queue]\ndaily_limit = 4\n")
    result = console.cli("--workers", "2", "--show-config", "--json")
    assert result.returncode == 0, result.output
    view = json.loads(result.stdout)
    assert [p["appium"] for p in view["ports"]] == [4723, 4725]
    assert view["ports"][1]["system_ports"] == "8210-8219"
    sources = {e["key"]: (e["value"], e["source"]) for e in view["entries"]}
    assert sources["orchestrator.workers"] == (2, "flag")
    assert sources["queue.daily_limit"] == (4, "file")
    assert sources["queue.max_attempts"][1] == "default"
    assert view["secrets"]["GEELARK_API_KEY"] == "not set"


def test_a_bad_config_is_a_clear_error_with_exit_code_2(workdir: Workdir, console: InProcess) -> None:
    (workdir.path / "bad.toml").write_text("[orchestrator]\nworkers = 'many'\n")
    result = console.cli("--config", "bad.toml", "--run")
    assert result.returncode == 2
    assert "workers" in result.output and "bad.toml" in result.output
    assert not (workdir.path / ".orchestrator" / "run.json").exists()


def test_two_actions_at_once_are_refused(workdir: Workdir, console: InProcess) -> None:
    assert console.cli("--status", "--run").returncode == 2


def test_seed_only_seeds_from_the_scheduler_state_once(workdir: Workdir, console: InProcess) -> None:
    media = workdir.path / "chunk_01"
    media.mkdir()
    for n in range(3):
        (media / f"v{n}.mp4").write_bytes(b"\x00video")
        (media / f"v{n}.txt").write_text(f"caption {n}")
    apply_changes(
        workdir.path / "scheduler_state.json",
        workdir.path / "parallel_progress.csv",
        ChangeRequest(folders=(media,), accounts=("p1", "p2", "p3"), daily_limit=1),
    )
    first = json.loads(console.cli("--seed-only", "--json").stdout)
    second = json.loads(console.cli("--seed-only", "--json").stdout)
    assert (first["added"], second["added"]) == (3, 0)
    assert len(workdir.snapshot().jobs) == 3


def test_a_lost_progress_file_is_never_seeded_again_from_scratch(
    workdir: Workdir, console: InProcess
) -> None:
    media = workdir.path / "chunk_01"
    media.mkdir()
    for n in range(2):
        (media / f"v{n}.mp4").write_bytes(b"\x00video")
        (media / f"v{n}.txt").write_text(f"caption {n}")
    apply_changes(
        workdir.path / "scheduler_state.json",
        workdir.path / "parallel_progress.csv",
        ChangeRequest(folders=(media,), accounts=("p1", "p2"), daily_limit=1),
    )
    assert console.cli("--seed-only").returncode == 0
    progress = workdir.path / "parallel_progress.csv"
    progress.write_bytes(b"")  # emptied by mistake: the queue still has its own copy and keeps the rows
    assert console.cli("--seed-only").returncode == 0
    assert len(workdir.snapshot().jobs) == 2
    progress.unlink()  # deleted: say so and stop, never seed everything again as if nothing was posted
    result = console.cli("--seed-only")
    assert result.returncode == 6
    assert "2 job(s) were seeded into parallel_progress.csv, but it is missing or empty" in result.output
    assert "Restore it from parallel_progress.csv.bak" in result.output
    assert not progress.exists()


def test_status_json_without_a_run_matches_the_csv(workdir: Workdir, console: InProcess) -> None:
    workdir.seed(jobs=4, accounts=2)
    result = console.cli("--status", "--json")
    assert result.returncode == 0, result.output
    status = json.loads(result.stdout)
    assert status["total"] == 4 and status["counts"]["pending"] == 4
    assert status["run"]["active"] is False
    assert {a["account"] for a in status["accounts"]} == {"acct1", "acct2"}


def test_status_says_per_account_when_the_next_post_is_allowed_and_why_not_now(
    workdir: Workdir, console: InProcess
) -> None:
    workdir.seed(jobs=4, accounts=2)
    opens = (datetime.now(UTC) + timedelta(hours=6)).replace(second=0, microsecond=0)
    window = f"{opens:%H:%M}-{opens + timedelta(minutes=30):%H:%M}"
    (workdir.path / "accounts.csv").write_text(
        f"account,timezone,window,daily_limit,note\nacct1,,,,\nacct2,UTC,{window},2,night owl\n"
    )
    status = json.loads(console.cli("--status", "--json").stdout)
    accounts = {a["account"]: a for a in status["accounts"]}
    assert (accounts["acct1"]["waiting_for"], accounts["acct1"]["state"]) == (None, "ready")
    assert (accounts["acct2"]["waiting_for"], accounts["acct2"]["state"]) == ("window", "outside window")
    assert datetime.fromisoformat(accounts["acct2"]["next_allowed_at"]) == opens
    assert accounts["acct2"]["daily_limit"] == 2


def test_a_bad_accounts_list_is_refused_naming_line_and_column(workdir: Workdir, console: InProcess) -> None:
    workdir.seed(jobs=1, accounts=1)
    (workdir.path / "accounts.csv").write_text("account,window\nacct1,9-22\n")
    result = console.cli("--status")
    assert result.returncode == 2
    assert (
        "Accounts list: accounts.csv line 2, column window: '9-22' is not a posting window" in result.output
    )


def test_requeue_and_unblock_change_the_queue(workdir: Workdir, console: InProcess) -> None:
    workdir.seed(jobs=2, accounts=2)
    store = workdir.store()
    now = datetime.now(UTC)
    claim = store.claim_next(0, 1, now)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.ACCOUNT, "suspended", "account suspended"), now)
    assert console.cli("requeue").returncode == 2
    result = console.cli("requeue", "--failed")
    assert result.returncode == 0 and claim.job.job_id in result.stdout
    requeued = workdir.snapshot().job(claim.job.job_id)
    assert requeued is not None and requeued.status is JobStatus.PENDING
    assert claim.job.account in workdir.snapshot().blocked
    assert "unblocked" in console.cli("unblock", claim.job.account).stdout
    assert claim.job.account not in workdir.snapshot().blocked
    assert console.cli("requeue", "no-such-job").returncode == 2


def test_a_run_with_only_planned_posts_ends_and_says_when_the_next_is_allowed(workdir: Workdir) -> None:
    workdir.seed(jobs=2, accounts=1)
    opens = (datetime.now(UTC) + timedelta(hours=6)).replace(second=0, microsecond=0)
    window = f"{opens:%H:%M}-{opens + timedelta(minutes=30):%H:%M}"
    (workdir.path / "accounts.csv").write_text(f"account,timezone,window\nacct1,UTC,{window}\n")
    # A folder made for simulation (not a dry run): its run is on the real clock and ends.
    (workdir.path / "parallel-orchestrator.toml").write_text("[simulate]\nenabled = true\n")
    result = workdir.cli("--run")
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "Nothing to do today: 2 waiting (2 posting window in " in said
    local = opens.astimezone()
    assert f"The next post is allowed at {local:%Y-%m-%d %H:%M} (in " in said
    assert f"; acct1: window {window}, spacing 0s, 1 a day). Run again then" in said
    assert said.count("The next post is allowed") == 1
    assert "or use --follow to keep waiting" in said


def test_status_says_which_rows_an_outside_save_could_not_change(
    workdir: Workdir, console: InProcess
) -> None:
    workdir.seed(jobs=2, accounts=2)
    path = workdir.path / "parallel_progress.csv"
    stale = path.read_bytes()
    store = workdir.store()
    claim = store.claim_next(0, 1, datetime.now(UTC))
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
    path.write_bytes(stale)  # someone saves the old copy over it
    status = json.loads(console.cli("--status", "--json").stdout)
    assert [(e["job_id"], e["queue_status"], e["edited_status"]) for e in status["outside_edits"]] == [
        (claim.job.job_id, "success", "pending")
    ]
    assert f"job {claim.job.job_id}: kept success (edit: pending)" in console.cli("--status").stdout
