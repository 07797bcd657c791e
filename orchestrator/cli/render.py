"""Plain-text rendering for the console: ASCII only, so any Windows console code page shows it.

Every function takes the data a library function returned and gives lines; the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orchestrator.config import ConfigView
from orchestrator.views.fleet_text import header_lines
from orchestrator.views.progress import format_duration, format_until, job_label
from orchestrator.views.status_report import StatusReport

MAX_ROWS = 20


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> list[str]:
    """Left-aligned columns separated by two spaces, a dashed rule under the header."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt = [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return [fmt[0], indent + "  ".join("-" * w for w in widths), *fmt[1:]]


def when(moment: datetime | None, now: datetime) -> str:
    """A time as the operator reads it: `now`, `in 4m 00s (14:05)`, `in 21h 50m (2026-11-24 09:50)`."""
    return "-" if moment is None else format_until(moment, now)


def ago(seconds: float | None) -> str:
    """How long ago: `42s`, `5m 12s`, `3h 05m`."""
    return "-" if seconds is None else format_duration(seconds)


def status_lines(report: StatusReport) -> list[str]:
    """The whole `--status` screen."""
    now = report.generated_at
    out = [f"Queue: {report.progress_file} ({report.total} jobs)"]
    out.append("  " + "  ".join(f"{k} {v}" for k, v in report.counts.items()))
    if report.hosts:
        out.append(f"Hosts on the shared queue: {len(report.hosts)}")
        out += [
            f"  {h.host:<16} {'SILENT' if h.silent else 'working'}  seen {h.seen_s:.0f}s ago"
            f"  pid {h.pid}  {h.folder}"
            for h in report.hosts
        ]
    run = report.run
    if run.active:
        started = f", started {run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else ""
        out.append(
            f"Run: ACTIVE (orchestrator PID {run.pid}{started}{', simulated' if run.simulate else ''})"
        )
        if run.phones_started:
            out.append(
                f"  phones started: {run.phones_started}, {run.phones_auto_stop} with energySavingMode"
                " (off after 30 idle min)"
            )
    else:
        out.append("Run: none active")
    if report.fleet is not None:
        out += ["  " + line for line in header_lines(report.fleet)[int(not run.active) :]]
    out += (
        _accounts(report, now)
        + _claims(report)
        + _retries(report, now)
        + _failures(report)
        + _workers(report)
    )
    out += _phones(report) + _edits(report)
    return out


def _edits(report: StatusReport) -> list[str]:
    if not report.outside_edits:
        return []
    out = ["", "Outside edits of the progress file and what the queue did (newest first):"]
    for n in report.outside_edits:
        if not n.job_id:  # about the whole file (e.g. an Excel save with semicolons)
            out.append(f"  {n.at[:19]} the file: {n.why}")
            continue
        out.append(f"  {n.at[:19]} job {n.job_id}: kept {n.queue_status} (edit: {n.edited_status}) - {n.why}")
    return out


def _accounts(report: StatusReport, now: datetime) -> list[str]:
    if not report.accounts:
        return ["", "Accounts: none in the queue"]
    rows = [
        (
            a.account,
            a.executor,
            f"{a.done_today}/{a.daily_limit}",
            a.waiting,
            a.state,
            when(a.next_eligible_at, now),
            a.why,
        )
        for a in report.accounts
    ]
    head = ("account", "executor", "today", "waiting", "state", "next eligible", "why")
    return ["", "Accounts:", *table(head, rows)]


def _claims(report: StatusReport) -> list[str]:
    if not report.claims:
        return ["", "Active claims: none"]
    rows = [
        (
            f"{c.host}/W{c.worker_id}" if c.host and report.hosts else f"W{c.worker_id}",
            c.job_id,
            c.account,
            ago(c.age_s),
            ago(c.heartbeat_age_s),
            c.step,
            "yes" if c.past_checkpoint else "",
        )
        for c in report.claims
    ]
    head = ("worker", "job", "account", "age", "heartbeat", "step", "published?")
    return ["", "Active claims:", *table(head, rows)]


def _retries(report: StatusReport, now: datetime) -> list[str]:
    if not report.retries:
        return []
    rows = [
        (
            r.job_id,
            r.account,
            f"account {r.held_by}" if r.held_by else when(r.due_at, now),
            f"{r.attempts}/{r.max_attempts}",
            r.error_type,
        )
        for r in report.retries[:MAX_ROWS]
    ]
    more = len(report.retries) - MAX_ROWS
    tail = [f"  ... and {more} more"] if more > 0 else []
    head = ("job", "account", "due", "attempts", "last error")
    return ["", f"Retry queue ({len(report.retries)}):", *table(head, rows), *tail]


def _failures(report: StatusReport) -> list[str]:
    if not report.failures:
        return []
    out = ["", "Failures and review, by error type:"]
    for group in report.failures:
        out.append(f"  {group.error_type}: {group.count}")
        for f in group.recent:
            error = f.error if len(f.error) <= 90 else f.error[:87] + "..."
            out.append(f"    {job_label(f.job_id, f.account)} [{f.status}] {error}")
            out.append(f"      evidence: {f.evidence}")
    out.append("  Requeue:  parallel-orchestrator requeue --failed | --review | JOB_ID ...")
    out.append("  (a review job may already be posted: check the account before requeueing it)")
    return out


def _workers(report: StatusReport) -> list[str]:
    if not report.workers:
        return []
    rows = [
        (
            f"W{w.worker_id}",
            w.pid,
            "alive" if w.alive else "gone",
            w.step,
            w.job_id or "",
            ago(w.heartbeat_age_s),
        )
        for w in report.workers
    ]
    return ["", "Workers:", *table(("worker", "pid", "process", "step", "job", "heartbeat"), rows)]


def _phones(report: StatusReport) -> list[str]:
    phones = report.phones
    if phones is None:
        return []
    if not phones.reachable:
        return ["", f"Phones: GeeLark not reachable ({phones.error})"]
    billed = "" if phones.billed_minutes is None else f", billed {phones.billed_minutes:.1f} min"
    out = ["", f"Phones running: {len(phones.running)}{billed}"]
    rows = [(p.serial_name, p.phone_id, p.status, "yes" if p.ours else "no") for p in phones.running]
    return out + (table(("phone", "id", "status", "ours"), rows) if rows else [])


def _default_app(view: ConfigView) -> object:
    return next((e.value for e in view.entries if e.key == "accounts.app"), "instagram")


def config_lines(view: ConfigView) -> list[str]:
    """`--show-config`: the port table, then every setting with its source."""
    out = ["Worker ports:"]
    rows = [(p.worker, p.appium, p.system_ports, p.mjpeg, p.chromedriver, p.log_file) for p in view.ports]
    out += table(("worker", "appium", "systemPort", "mjpeg", "chromedriver", "log file"), rows)
    out += ["", f"Configuration (file: {view.config_file or 'none, defaults'}):"]
    out += table(("setting", "value", "source"), [(e.key, e.value, e.source) for e in view.entries])
    out += ["", f"Flows (per account's app; default app: {_default_app(view)}):"]
    out += [f"  {app}: {path}" for app, path in view.flows.items()]
    defaults = {e.key: e.value for e in view.entries}
    out += [
        "",
        f"Accounts ({view.accounts_file}; an empty cell takes [accounts] app ="
        f" {defaults.get('accounts.app')}, executor = {defaults.get('accounts.executor')}):",
    ]
    listed = [(a.account, a.app, a.executor) for a in view.accounts]
    none = ["  none listed: every account takes the defaults"]
    out += table(("account", "app", "executor"), listed) if listed else none
    out += ["", "Secrets (environment only):"]
    out += [f"  {name}: {state}" for name, state in view.secrets.items()]
    return out
