"""What the dashboard page shows, as plain data made from the status document (the template only
lays it out): fleet rows, queue counts, accounts, last failures with links to their evidence, reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from orchestrator.views.fleet_text import header_lines
from orchestrator.views.fleet_view import FleetView
from orchestrator.views.progress import format_duration, format_until
from orchestrator.views.status_report import StatusReport

REPORTS_SHOWN = 5
# What opens an account whose gate has no time of its own.
OPENED_BY = {"busy": "when its job ends", "blocked": "after unblock", "idle": "-", "ready": "now"}
REPORT_PARSED_BYTES = 2_000_000  # larger reports are linked, not read for their headline


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class WorkerLine:
    worker: str
    state: str
    account: str
    phone: str
    step: str
    time: str
    attempt: str
    last_error: str


@dataclass(frozen=True)
class AccountLine:
    account: str
    today: str
    waiting: int
    state: str
    why: str
    next_allowed: str
    can_unblock: bool


@dataclass(frozen=True)
class FailureLine:
    job_id: str
    account: str
    status: str
    error_type: str
    error: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class ReportLine:
    name: str
    headline: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Page:
    generated: str
    run: str
    headline: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]
    workers: tuple[WorkerLine, ...]
    accounts: tuple[AccountLine, ...]
    failures: tuple[FailureLine, ...]
    reports: tuple[ReportLine, ...]
    actions: bool  # the operator set a token: show the action buttons
    refresh_s: float


def log_href(logs_dir: Path, path: Path) -> str | None:
    """`/logs/<path relative to logs_dir>` (percent-encoded), or None if it is not under logs_dir."""
    try:
        relative = path.resolve().relative_to(logs_dir.resolve())
    except ValueError:
        return None
    return "/logs/" + quote(relative.as_posix())


def evidence_links(logs_dir: Path, folder: Path) -> tuple[Link, ...]:
    """The newest attempt's log, screenshot and page source in a job's evidence folder."""
    try:
        files = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return ()
    logs = sorted((p for p in files if p.name.startswith("attempt_") and p.suffix == ".log"), key=_attempt)
    if not logs:
        return ()
    stem = logs[-1].stem
    wanted = (
        ("log", f"{stem}.log"),
        ("screenshot", f"{stem}.screenshot.png"),
        ("page source", f"{stem}.page_source.xml"),
    )
    found = {p.name: p for p in files}
    links = []
    for label, name in wanted:
        href = log_href(logs_dir, found[name]) if name in found else None
        if href is not None:
            links.append(Link(label, href))
    return tuple(links)


def _attempt(path: Path) -> int:
    digits = path.stem.removeprefix("attempt_")
    return int(digits) if digits.isdigit() else -1


def batch_reports(logs_dir: Path) -> tuple[ReportLine, ...]:
    """The newest batch reports with their headline and links to the JSON and the text summary."""
    try:
        found = sorted(logs_dir.glob("batch_report_*.json"), key=lambda p: p.name, reverse=True)
    except OSError:
        return ()
    lines = []
    for path in found[:REPORTS_SHOWN]:
        summary = path.with_name(path.name.replace("batch_report_", "batch_summary_")).with_suffix(".txt")
        links = [Link(label, href) for label, p in (("summary", summary), ("JSON", path)) if p.is_file()
                 for href in [log_href(logs_dir, p)] if href is not None]  # fmt: skip
        lines.append(ReportLine(path.stem.removeprefix("batch_report_"), report_headline(path), tuple(links)))
    return tuple(lines)


def report_headline(path: Path) -> str:
    """`completed: 14 ok, 1 failed, 1 review (16 jobs, 3 workers)`, or `` if it cannot be read cheaply."""
    try:
        if path.stat().st_size > REPORT_PARSED_BYTES:
            return ""
        data = json.loads(path.read_text(encoding="utf-8"))
        c = data["counts"]
        return (
            f"{data['ended_by']}: {c['success']} ok, {c['failed']} failed, {c['review']} review"
            f" ({data['total']} jobs, {data['workers']} workers)"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def worker_lines(fleet: FleetView) -> tuple[WorkerLine, ...]:
    return tuple(
        WorkerLine(
            worker=f"W{r.worker_id}",
            state=r.activity.value,
            account=r.account,
            phone=r.phone_id,
            step=r.step,
            time=format_duration(r.elapsed_s) if r.elapsed_s is not None else "",
            attempt=r.attempt,
            last_error=r.last_error,
        )
        for r in fleet.rows
    )


def account_lines(report: StatusReport) -> tuple[AccountLine, ...]:
    now = report.generated_at
    return tuple(
        AccountLine(
            account=a.account,
            today=f"{a.done_today}/{a.daily_limit}",
            waiting=a.waiting,
            state=a.state.value,
            why=a.why,
            next_allowed=format_until(a.next_allowed_at, now)
            if a.next_allowed_at
            else OPENED_BY.get(a.state.value, "-"),
            can_unblock=a.state.value in ("blocked", "cooling"),
        )
        for a in report.accounts
    )


def failure_lines(report: StatusReport, logs_dir: Path) -> tuple[FailureLine, ...]:
    return tuple(
        FailureLine(
            f.job_id,
            f.account,
            f.status,
            group.error_type,
            f.error,
            evidence_links(logs_dir, Path(f.evidence)),
        )
        for group in report.failures
        for f in group.recent
    )


def page(report: StatusReport, *, logs_dir: Path, actions: bool, refresh_s: float) -> Page:
    fleet = report.fleet
    assert fleet is not None  # build_status always makes one
    run = report.run
    return Page(
        generated=f"{report.generated_at.astimezone():%Y-%m-%d %H:%M:%S}",
        run=(
            f"run active (orchestrator PID {run.pid}{', simulated' if run.simulate else ''})"
            if run.active
            else "no run active"
        ),
        headline=tuple(header_lines(fleet)),  # the console table's words and counts
        counts=tuple(report.counts.items()),
        workers=worker_lines(fleet),
        accounts=account_lines(report),
        failures=failure_lines(report, logs_dir),
        reports=batch_reports(logs_dir),
        actions=actions,
        refresh_s=refresh_s,
    )
