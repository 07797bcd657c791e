"""The console says what is happening and why nothing happened: mistakes exit non-zero and write
nothing, the help of every command reads alike, secrets stay masked."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geelark.cli import main as geelark_main
from harness.processes import free_port_base
from jobqueue import JobStatus, Outcome, OutcomeKind
from orchestrator.cli.actions import on_stop_signal
from orchestrator.cli.commands import own_command
from orchestrator.cli.console import run_result_lines
from orchestrator.run.context import StopSignals
from orchestrator.run.recovery import PhoneCleanup
from orchestrator.run.shutdown import RunResult
from orchestrator.views.report import RunEnd, build_report
from scheduler.cli import app as scheduler_app
from tests.orchestrator.conftest import Workdir, config_toml
from tests.orchestrator.factories import NOW, done, snapshot
from tests.orchestrator.test_cli import InProcess

BOX_DRAWING = set("─│╭╮╯╰┌┐└┘━┃")


@pytest.fixture
def console(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> InProcess:
    return InProcess(workdir, monkeypatch)


def failed_job(workdir: Workdir) -> str:
    store = workdir.store()
    now = datetime.now(UTC)
    claim = store.claim_next(0, 1, now)
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.PERMANENT, "video_missing", "gone"), now)
    return claim.job.job_id


def test_run_in_an_empty_folder_says_why_and_writes_nothing(workdir: Workdir, console: InProcess) -> None:
    result = console.cli("--run")
    assert result.returncode == 2
    assert "Nothing to run" in result.output and "posting-scheduler --add-folder" in result.output
    assert sorted(p.name for p in workdir.path.iterdir()) == []


def test_run_with_only_ended_jobs_says_so_and_succeeds(workdir: Workdir) -> None:
    (workdir.path / "parallel-orchestrator.toml").write_text(config_toml(free_port_base(1), workers=1))
    workdir.seed(jobs=1, accounts=1)
    job_id = failed_job(workdir)
    workdir.store().requeue([job_id], [JobStatus.FAILED])
    claim = workdir.store().claim_next(0, 1, datetime.now(UTC))
    assert claim is not None
    workdir.store().record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
    result = workdir.cli("--run")  # a process of its own: a run installs signal handlers and logging
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Nothing to do: all 1 job(s) of the queue have ended (1 ok)" in result.stdout


def test_unblock_of_an_unknown_account_is_a_mistake(workdir: Workdir, console: InProcess) -> None:
    workdir.seed(jobs=2, accounts=2)
    result = console.cli("unblock", "acct9")
    assert (
        result.returncode == 2
        and "Unknown account 'acct9'" in result.output
        and "acct1, acct2" in result.output
    )
    assert "nothing to do" in console.cli("unblock", "acct1").stdout


def test_requeue_of_a_job_that_cannot_be_requeued_changes_nothing(
    workdir: Workdir, console: InProcess
) -> None:
    workdir.seed(jobs=2, accounts=2)
    failed = failed_job(workdir)
    pending = next(j.job_id for j in workdir.snapshot().jobs if j.status is JobStatus.PENDING)
    result = console.cli("requeue", failed, pending)
    assert (
        result.returncode == 2
        and f"{pending} is pending" in result.output
        and "nothing was requeued" in result.output
    )
    assert workdir.snapshot().job(failed).status is JobStatus.FAILED  # type: ignore[union-attr]
    review = console.cli("requeue", "--review")
    assert review.returncode == 0 and "Nothing to requeue: no review jobs" in review.stdout


def test_logs_without_logs_say_where_they_looked(workdir: Workdir, console: InProcess) -> None:
    result = console.cli("logs")
    assert result.returncode == 2 and "No logs" in result.output and "does not exist" in result.output
    (workdir.path / "logs").mkdir()
    (workdir.path / "logs" / "worker_0.log").write_text("2026-11-23T11:00:00.000+0000 W0 INFO hi\n")
    result = console.cli("logs", "--worker", "3")
    assert result.returncode == 2 and "No log of worker 3" in result.output and "W0" in result.output


def test_logs_merge_the_workers_history_by_time(workdir: Workdir, console: InProcess) -> None:
    logs = workdir.path / "logs"
    logs.mkdir()
    (logs / "worker_0.log").write_text(
        "2026-11-23T11:00:01.000+0000 W0 INFO first\n2026-11-23T11:00:03.000+0000 W0 INFO third\n"
    )
    (logs / "worker_1.log").write_text("2026-11-23T11:00:02.000+0000 W1 INFO second\n")
    lines = console.cli("logs", "--no-orchestrator").stdout.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["first", "second", "third"]


def test_watch_goes_only_with_status(console: InProcess) -> None:
    assert console.cli("--run", "--watch").returncode == 2
    assert console.cli("--status", "--watch", "--json").returncode == 2


def test_show_config_masks_the_dashboard_token(workdir: Workdir, console: InProcess) -> None:
    (workdir.path / "parallel-orchestrator.toml").write_text('[dashboard]\ntoken = "very-secret-token"\n')
    result = console.cli("--show-config", "--json")
    assert "very-secret-token" not in result.output
    entries = {e["key"]: e["value"] for e in json.loads(result.stdout)["entries"]}
    assert entries["dashboard.token"] == "set (***)"


def test_the_dashboard_refuses_to_listen_for_other_computers_without_a_token(console: InProcess) -> None:
    result = console.cli("dashboard", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2 and "token" in result.output


def test_every_command_has_help_in_the_same_plain_style(
    console: InProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [console.cli("--help").stdout, CliRunner().invoke(scheduler_app, ["--help"]).stdout]
    assert geelark_main(["--help"], out=io.StringIO()) == 0
    texts.append(capsys.readouterr().out)
    for text in texts:
        assert text.startswith("Usage: ") and "\nOptions:\n" in text and "\nCommands:\n" in text
        assert not BOX_DRAWING & set(text)
        # a summary, examples, then the exit codes in one layout, before the options
        assert text.index("Examples:") < text.index("Exit codes:") < text.index("\nOptions:\n")
        assert "\n    0   ok" in text


def test_a_progress_file_saved_with_semicolons_is_taken_and_said(
    workdir: Workdir, console: InProcess
) -> None:
    workdir.seed(jobs=2, accounts=1)
    text = (workdir.path / "parallel_progress.csv").read_text(encoding="utf-8-sig")
    european = text.replace(",", ";").encode("cp1252")  # no cell holds a comma: a plain swap
    (workdir.path / "parallel_progress.csv").write_bytes(european)
    (workdir.path / "parallel_progress.csv.seal").unlink(missing_ok=True)  # as if written by Excel alone
    result = console.cli("--status")
    assert result.returncode == 0, result.output
    assert "the file: it was saved semicolon-separated" in result.output
    assert (workdir.path / "parallel_progress.csv.bak").read_bytes() == european
    assert (workdir.path / "parallel_progress.csv").read_bytes().startswith(b"\xef\xbb\xbfjob_id,account,")


def test_the_end_of_a_run_warns_that_review_jobs_may_already_be_posted() -> None:
    snap = snapshot(done("r1", "a", JobStatus.REVIEW))
    report = build_report(
        snap, started_at=NOW - timedelta(hours=1), ended_at=NOW, ended_by=RunEnd.COMPLETED, workers=1,
        simulate=True, logs_dir=Path("logs"), log_files={}, billed_phone_minutes=4.0,
    )  # fmt: skip
    text = "\n".join(run_result_lines(RunResult(report, None, 1, PhoneCleanup())))  # type: ignore[arg-type]
    assert "requeue --review" in text and "may already be posted" in text
    assert "4.0 (simulated minutes, no cost)" in text


def test_a_second_ctrl_c_taken_as_the_same_keypress_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    moments = iter([10.0, 10.3, 12.0])
    stop = StopSignals(clock=lambda: next(moments))
    on_stop_signal(stop, 1)
    on_stop_signal(stop, 2)
    assert stop.count == 1 and "taken as the same keypress" in capsys.readouterr().err
    on_stop_signal(stop, 3)
    assert stop.count == 2 and "Hard stop requested" in capsys.readouterr().err


def test_the_demo_hint_works_outside_the_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    command = own_command()
    assert command.strip('"').startswith(str(Path(sys.executable).parent)) or command.startswith(
        sys.executable
    )
