"""Pure views of one snapshot: the run's outlook, the progress line, the status report, the report."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobqueue import JobStatus, Outcome, OutcomeKind, QueuePolicy, QueueSnapshot
from jobqueue.outlook import work_outlook
from orchestrator.adapters.queue_store import open_store
from orchestrator.cli.render import status_lines
from orchestrator.jsonable import dumps
from orchestrator.views.progress import progress_line, progress_view
from orchestrator.views.report import RunEnd, build_report, find_job_logs, summary_text
from orchestrator.views.status_probe import current_status
from orchestrator.views.status_report import StatusReport, build_status
from runtime.settings import load_settings
from runtime.state import Heartbeat
from tests.orchestrator.conftest import Workdir
from tests.orchestrator.factories import NOW, claimed, done, job, snapshot
from worker.evidence import AttemptLog

LOGS = Path("logs")


def test_progress_line_counts_done_and_lists_active_workers_oldest_first() -> None:
    snap = snapshot(
        done("a", "p1"),
        done("b", "p2", JobStatus.FAILED),
        job("c", "p3"),
        claimed("x", "p4", 1, 30),
        claimed("y", "p5", 0, 312),
    )
    line = progress_line(progress_view(snap, NOW))
    assert line == (
        "Progress: 2/5 done (1 ok, 1 failed), 1 waiting, 2 active: W0 y @p5 (5m 12s), W1 x @p4 (30s)"
    )


def test_progress_line_shortens_a_long_active_list() -> None:
    snap = snapshot(*[claimed(f"j{n}", f"p{n}", n, 10) for n in range(6)])
    assert progress_line(progress_view(snap, NOW)).endswith("+2 more")


def status_of(snap: QueueSnapshot, heartbeats: dict[int, Heartbeat] | None = None) -> StatusReport:
    return build_status(
        snap,
        NOW,
        policy=QueuePolicy(daily_limit=2, timezone="UTC"),
        progress_file=Path("parallel_progress.csv"),
        logs_dir=LOGS,
        heartbeats=heartbeats or {},
        alive_workers=set(),
        run=None,
        run_active=False,
        phones=None,
    )


def test_status_explains_each_account() -> None:
    snap = snapshot(
        done("d1", "full"),
        done("d2", "full"),
        job("w1", "full"),
        job("w2", "blocked"),
        job("w3", "cool"),
        claimed("c1", "busy", 0, 5),
        job("w4", "ready"),
        blocked={"blocked": "suspended"},
        cooling={"cool": 60},
    )
    accounts = {a.account: a for a in status_of(snap).accounts}
    assert accounts["full"].done_today == 2 and accounts["full"].state == "daily limit"
    assert accounts["full"].next_eligible_at is not None and accounts["full"].next_eligible_at > NOW
    assert accounts["blocked"].state == "blocked" and "suspended" in accounts["blocked"].why
    assert accounts["cool"].state == "cooling" and accounts["cool"].next_eligible_at == NOW + timedelta(
        seconds=60
    )
    assert accounts["busy"].state == "busy"
    assert accounts["ready"].state == "ready" and accounts["ready"].next_eligible_at == NOW


def test_status_groups_failures_by_error_type_with_evidence() -> None:
    snap = snapshot(
        done("f1", "a", JobStatus.FAILED, error="suspended!", error_type="suspended"),
        done("f2", "b", JobStatus.FAILED, error="suspended!", error_type="suspended"),
        done("f3", "c", JobStatus.REVIEW, error="lost after tap", error_type="released_after_checkpoint"),
    )
    groups = status_of(snap).failures
    assert [(g.error_type, g.count) for g in groups] == [("suspended", 2), ("released_after_checkpoint", 1)]
    first = groups[0].recent[0]
    assert first.evidence == str(LOGS / "jobs" / first.job_id)


def test_status_lists_claims_and_the_retry_queue_and_renders_as_text_and_json() -> None:
    retry = job(
        "r1", "a", JobStatus.RETRYING, retry_at=NOW + timedelta(minutes=3), attempts=1, error_type="x"
    )
    report = status_of(snapshot(claimed("c1", "b", 2, 90), retry))
    assert [(c.worker_id, c.job_id) for c in report.claims] == [(2, "c1")]
    assert report.retries[0].due_at == NOW + timedelta(minutes=3)
    text = "\n".join(status_lines(report))
    assert "Active claims:" in text and "Retry queue (1)" in text
    assert json.loads(dumps(report))["counts"]["claimed"] == 1


def test_status_and_outlook_of_ten_thousand_jobs_count_every_one() -> None:
    # How fast this is, is measured by bench/fleet.py (--status of 1k, 10k and 100k rows), not here.
    jobs = [done(f"j{n}", f"acct{n % 50}") for n in range(5000)] + [
        job(f"p{n}", f"acct{n % 50}") for n in range(5000)
    ]
    snap = snapshot(*jobs)
    report = status_of(snap)
    assert report.total == 10_000
    assert (report.counts["success"], report.counts["pending"]) == (5000, 5000)
    assert len(report.accounts) == 50
    # every account already posted 100 times today
    out = work_outlook(snap, NOW, QueuePolicy(daily_limit=2, timezone="UTC"))
    assert (out.due_now, out.held_by_daily_limit, out.next_due_at) == (0, 5000, None)


def test_report_covers_the_jobs_of_the_run_and_the_open_ones() -> None:
    old = done("old", "a", ago_s=7200)
    new = done("new", "a", ago_s=10)
    failed = done("bad", "b", JobStatus.FAILED, ago_s=5, error="boom", error_type="post_failed")
    waiting = job("wait", "c")
    report = build_report(
        snapshot(old, new, failed, waiting),
        started_at=NOW - timedelta(minutes=5),
        ended_at=NOW,
        ended_by=RunEnd.COMPLETED,
        workers=2,
        simulate=True,
        logs_dir=LOGS,
        log_files={"bad": "logs/jobs/bad/attempt_1.log"},
        billed_phone_minutes=3.5,
    )
    assert [r.job_id for r in report.results] == ["new", "bad", "wait"]
    assert report.counts["success"] == 1 and report.counts["failed"] == 1 and report.counts["pending"] == 1
    assert report.success_rate == 50.0
    assert report.results[0].duration_s == 30.0
    text = summary_text(report)
    assert "boom" in text and "logs/jobs/bad/attempt_1.log" in text and "Billed phone minutes: 3.5" in text


def test_status_and_report_point_at_the_folder_the_worker_writes_for_any_job_id(tmp_path: Path) -> None:
    job_id = "clip_10@demo phone/2"  # scheduler-made ids carry '@' (and account names may carry more)
    with AttemptLog(tmp_path, job_id, attempt=1, tag="W0") as attempt:
        logging.getLogger("worker.test").info("tried")
    failed = done(job_id, "demo phone/2", JobStatus.FAILED, error_type="element_missing")
    report = build_status(
        snapshot(failed), NOW, policy=QueuePolicy(), progress_file=tmp_path / "p.csv", logs_dir=tmp_path,
        heartbeats={}, alive_workers=set(), run=None, run_active=False, phones=None,
    )  # fmt: skip
    assert report.failures[0].recent[0].evidence == str(attempt.folder)
    assert find_job_logs(tmp_path, [job_id]) == {job_id: str(attempt.folder / "attempt_1.log")}


def test_a_job_failed_by_hand_without_any_time_is_listed_not_a_crash() -> None:
    by_hand = job("hand", "a1", JobStatus.FAILED)  # an operator set it in Excel: no claimed/completed time
    report = status_of(snapshot(by_hand, done("d", "a2", JobStatus.FAILED)))
    assert {f.job_id for g in report.failures for f in g.recent} == {"hand", "d"}


def test_a_store_kept_between_refreshes_sees_every_change(
    workdir: Workdir, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir.seed(jobs=3, accounts=3)
    monkeypatch.chdir(workdir.path)
    settings = load_settings(None).settings
    kept = open_store(settings)
    first = current_status(settings, datetime.now(UTC), store=kept)
    assert first.counts["pending"] == 3
    other = workdir.store()  # a worker's write, made by another store
    claim = other.claim_next(0, 1, datetime.now(UTC))
    assert claim is not None
    other.record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
    second = current_status(settings, datetime.now(UTC), store=kept)
    assert (second.counts["pending"], second.counts["success"]) == (2, 1)
