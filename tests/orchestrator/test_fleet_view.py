"""The fleet at a glance, as pure views: worker rows, why jobs wait, the expected end, phone minutes,
the console table (80 columns, ASCII) and when the progress line is said."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from jobqueue import Job, JobStatus, QueuePolicy
from orchestrator.cli.fleet_table import fleet_renderable
from orchestrator.views.fleet_view import FleetView, SupervisedWorker, WorkerActivity, fleet_view
from orchestrator.views.logs import merged_by_time
from orchestrator.views.phone_use import PhoneUse, ledger_minutes
from orchestrator.views.progress import (
    ProgressView,
    WaitKind,
    format_until,
    nothing_to_do_text,
    progress_key,
    progress_line,
    progress_line_due,
    progress_view,
)
from orchestrator.views.report import RunEnd, build_report
from runtime.platform import ProcessRef
from runtime.state import Heartbeat
from tests.orchestrator.factories import NOW, claimed, done, job, snapshot

POLICY = QueuePolicy(daily_limit=2, timezone="UTC")
STARTED = NOW - timedelta(minutes=10)


def beat(worker: int, step: str, job_id: str | None = None, phone: str = "") -> Heartbeat:
    return Heartbeat(worker, ProcessRef(1000 + worker, 1.0), NOW, step=step, job_id=job_id, phone_id=phone)


def test_waiting_jobs_say_what_they_wait_for_and_until_when() -> None:
    snap = snapshot(
        job("due", "free"),
        job("r", "free2", JobStatus.RETRYING, retry_at=NOW + timedelta(hours=21, minutes=50)),
        job("q", "busy"),
        claimed("c", "busy", 0, 30),
        done("d1", "full"),
        done("d2", "full"),
        job("limit", "full"),
        job("b", "blocked"),
        job("cool", "cool"),
        blocked={"blocked": "captcha"},
        cooling={"cool": 90},
    )
    view = progress_view(snap, NOW, policy=POLICY)
    kinds = {g.kind: (g.count, g.until) for g in view.waiting_groups}
    assert kinds[WaitKind.DUE] == (1, None)
    assert kinds[WaitKind.RETRY] == (1, NOW + timedelta(hours=21, minutes=50))
    assert kinds[WaitKind.QUEUED][0] == 1 and kinds[WaitKind.BLOCKED][0] == 1
    assert kinds[WaitKind.COOLING] == (1, NOW + timedelta(seconds=90))
    assert kinds[WaitKind.DAILY_LIMIT] == (1, NOW.replace(hour=0) + timedelta(days=1))
    line = progress_line(view)
    assert "1 retry in 21h 50m" in line and "1 cooling in 1m 30s" in line and "1250" not in line
    assert "1 blocked (run: unblock ACCOUNT)" in line


def test_a_time_to_go_reads_in_hours_and_minutes_with_the_clock_time() -> None:
    assert format_until(NOW + timedelta(minutes=1250), NOW).startswith("in 20h 50m (")
    assert format_until(NOW - timedelta(seconds=1), NOW) == "now"


def test_the_progress_line_and_the_report_count_the_same_jobs() -> None:
    before_run = done("old", "a", ago_s=7200)
    snap = snapshot(before_run, done("new", "a", ago_s=10), job("open", "b"))
    line = progress_line(progress_view(snap, NOW, policy=POLICY, started_at=STARTED))
    report = build_report(
        snap, started_at=STARTED, ended_at=NOW, ended_by=RunEnd.COMPLETED, workers=1, simulate=False,
        logs_dir=Path("logs"), log_files={}, billed_phone_minutes=None,
    )  # fmt: skip
    assert line.startswith(f"Progress: 1/{report.total} done")
    assert report.total == 2


def said_again(view: ProgressView, after: ProgressView, since_s: float) -> bool:
    """Would the run print `after`'s line `since_s` after printing `view`'s (every 2 s at most)?"""
    return progress_line_due(
        after, line=progress_line(after), last_key=progress_key(view), last_line=progress_line(view),
        since_last_s=since_s, interval_s=2.0,
    )  # fmt: skip


def test_a_waiting_run_says_its_line_once_a_minute_but_not_every_second() -> None:
    snap = snapshot(job("r", "a", JobStatus.RETRYING, retry_at=NOW + timedelta(hours=3)))
    first = progress_view(snap, NOW, policy=POLICY)
    later = progress_view(snap, NOW + timedelta(seconds=5), policy=POLICY)
    assert progress_line(later) != progress_line(first)  # the countdown moved on ...
    assert not said_again(first, later, since_s=5)  # ... which is not worth a line
    assert said_again(first, later, since_s=60)


def test_a_change_is_said_at_the_next_interval() -> None:
    before = progress_view(snapshot(job("a", "x")), NOW, policy=POLICY)
    after = progress_view(snapshot(done("a", "x")), NOW, policy=POLICY)
    assert not said_again(before, after, since_s=1)
    assert said_again(before, after, since_s=2)


def test_nothing_to_do_says_why() -> None:
    assert (
        nothing_to_do_text(progress_view(snapshot(), NOW, policy=POLICY))
        == "Nothing to do: the queue has no jobs"
    )
    ended = nothing_to_do_text(progress_view(snapshot(done("a", "x")), NOW, policy=POLICY))
    assert ended == "Nothing to do: all 1 job(s) of the queue have ended (1 ok)"
    held = snapshot(done("a", "x"), done("b", "x"), job("c", "x"))
    assert "1 daily limit in 12h 00m" in nothing_to_do_text(progress_view(held, NOW, policy=POLICY))


def fleet(*jobs: Job, **kw: Any) -> FleetView:
    return fleet_view(snapshot(*jobs), now=NOW, policy=POLICY, started_at=STARTED, **kw)


def test_each_worker_row_shows_its_job_step_phone_attempt_and_last_error() -> None:
    view = fleet(
        claimed("x@p1", "p1", 0, 312, attempts=1),
        done(
            "old@p2",
            "p2",
            JobStatus.FAILED,
            worker_id=1,
            error="no Share button",
            error_type="element_missing",
        ),
        heartbeats={0: beat(0, "upload_video", "x@p1", "phone-77"), 1: beat(1, "idle")},
        alive={0, 1},
        supervised={0: SupervisedWorker(0, "running"), 1: SupervisedWorker(1, "running")},
    )
    w0, w1 = view.rows
    assert (w0.activity, w0.account, w0.phone_id, w0.step, w0.attempt) == (
        WorkerActivity.WORKING, "p1", "phone-77", "upload_video", "2/3",
    )  # fmt: skip
    assert w0.elapsed_s == 312
    assert (w1.activity, w1.last_error) == (WorkerActivity.IDLE, "element_missing: no Share button")


def test_supervision_names_restarting_and_given_up_workers_with_their_reason() -> None:
    view = fleet(
        heartbeats={},
        alive=set(),
        supervised={
            0: SupervisedWorker(0, "backoff", "exit code 3: appium did not start", 2.0),
            1: SupervisedWorker(1, "fatal", "gave up after 5 crashes in a row"),
            2: SupervisedWorker(2, "exited", "nothing due"),
        },
    )
    assert [(r.activity, r.last_error) for r in view.rows] == [
        (WorkerActivity.RESTARTING, "exit code 3: appium did not start"),
        (WorkerActivity.GIVEN_UP, "gave up after 5 crashes in a row"),
        (WorkerActivity.DONE, ""),
    ]


def test_without_a_run_a_dead_worker_is_gone() -> None:
    view = fleet_view(
        snapshot(), now=NOW, policy=POLICY, started_at=None, heartbeats={3: beat(3, "idle")}, alive=set()
    )
    assert view.rows[0].activity is WorkerActivity.GONE
    assert (view.run_active, view.expected_end.note) == (False, "no run active")


def test_the_expected_end_follows_the_pace_so_far_but_not_before_the_last_retry() -> None:
    paced = fleet(done("a", "p1", ago_s=60), done("b", "p2", ago_s=30), job("c", "p3"), job("d", "p4"),
                  heartbeats={}, alive=set())  # fmt: skip
    assert paced.expected_end.at == NOW + timedelta(minutes=10)  # 2 done in 10 min, 2 to go
    late = fleet(done("a", "p1"), job("r", "p2", JobStatus.RETRYING, retry_at=NOW + timedelta(hours=2)),
                 heartbeats={}, alive=set())  # fmt: skip
    assert late.expected_end.at == NOW + timedelta(hours=2)
    assert fleet(job("c", "p3"), heartbeats={}, alive=set()).expected_end.at is None  # nothing done yet
    assert fleet(done("a", "p1"), heartbeats={}, alive=set()).expected_end.at == NOW
    assert fleet(job("c", "p3"), heartbeats={}, alive=set(), follow=True).expected_end.note.endswith(
        "(--follow)"
    )


def test_phone_minutes_from_the_ledger_are_billed_per_started_minute_of_each_boot() -> None:
    at = lambda s: (STARTED + timedelta(seconds=s)).isoformat()  # noqa: E731
    events = [
        {"event": "started", "phone_id": "p1", "at": at(0)},
        {"event": "stopped", "phone_id": "p1", "at": at(61)},  # 2 minutes
        {"event": "started", "phone_id": "p1", "at": at(100)},  # runs until NOW: 600 - 100 s = 9 minutes
        {"event": "started", "phone_id": "old", "at": (STARTED - timedelta(hours=1)).isoformat()},
        {"event": "stopped", "phone_id": "old", "at": at(-1)},  # before the run: not this run's
    ]
    assert ledger_minutes(events, since=STARTED, now=NOW) == 11.0


def render(width: int) -> str:
    account = "an_account_name_that_is_long"
    job_id = f"clip_with_a_very_long_name@{account}"
    view = fleet(
        claimed(job_id, account, 0, 75),
        heartbeats={0: beat(0, "waiting_for_publish_confirmation", job_id, "5634918272771")},
        alive={0},
        supervised={0: SupervisedWorker(0, "running"), 1: SupervisedWorker(1, "backoff", "x" * 300, 4.0)},
        phones=PhoneUse(1, 12.0, simulated=True, source="simulator"),
        simulate=True,
    )  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(
        fleet_renderable(view, width=width)
    )
    return out.getvalue()


def test_the_console_table_fits_80_columns_in_plain_ascii() -> None:
    text = render(80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.isascii()
    assert "W0" in text and "working" in text and "restarting" in text and "waiting_f..." in text
    assert "billed 12 min (simulated minutes, no cost)" in text


def test_a_wider_console_shows_more_of_the_last_error() -> None:
    assert "x" * 40 in render(120) and "x" * 40 not in render(80)


def test_logs_of_several_workers_read_in_the_order_things_happened() -> None:
    w0 = [
        "2026-11-23T11:00:01.000+0000 W0 INFO a",
        "Traceback (most recent call last):",
        "2026-11-23T11:00:05.000+0000 W0 INFO c",
    ]
    w1 = ["2026-11-23T12:00:03.000+0100 W1 INFO b"]  # 11:00:03 UTC
    assert merged_by_time({"W0": w0, "W1": w1}) == [
        ("W0", w0[0]), ("W0", w0[1]), ("W1", w1[0]), ("W0", w0[2]),
    ]  # fmt: skip
