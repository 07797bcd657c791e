"""The outcome of a run: `logs/batch_report_<ts>.json` and `logs/batch_summary_<ts>.txt`.

`build_report` is pure (snapshot + what the shell measured); `write_report_files` writes both files
atomically. The report covers the jobs this run touched and the ones still open, so a second run
reports what it finished, and each row agrees with the progress CSV at the moment it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from jobqueue.model import Job, JobStatus, QueueSnapshot
from orchestrator.jsonable import to_jsonable
from orchestrator.views.progress import OPEN, format_duration, in_run, job_label
from orchestrator.views.status_report import evidence_dir
from runtime.logs import job_dir
from runtime.state import write_json_atomic

MARKS = MappingProxyType(
    {
        "success": "OK  ",
        "failed": "FAIL",
        "review": "REVW",
        "retrying": "RTRY",
        "pending": "PEND",
        "claimed": "BUSY",
    }
)


class RunEnd(StrEnum):
    """How a run ended (the batch report's `ended_by`)."""

    COMPLETED = "completed"  # nothing due, claimed or coming due within the run
    INTERRUPTED = "interrupted"  # Ctrl+C
    STOPPED = "stopped"  # --stop-all from another console
    WORKERS_FATAL = "workers_fatal"  # every worker was given up
    DISK_FULL = "disk_full"  # the disk ran (nearly) full: stopped before files could be damaged
    REFUSED = "geelark_refused"  # GeeLark refused new work (balance or task credits ran out)
    ERROR = "error"  # the orchestrator itself failed (a bug, or an expected failure it reports)


@dataclass(frozen=True)
class JobResult:
    job_id: str
    account: str
    status: str
    attempts: int
    duration_s: float | None
    error: str
    error_type: str
    log_file: str | None
    evidence_dir: str
    completed_at: datetime | None = None
    post_url: str = ""  # the post's link when the executor learned one (GeeLark's share link)
    external_id: str = ""  # the GeeLark task that posted it (task executor)


@dataclass(frozen=True)
class BatchReport:
    started_at: datetime
    ended_at: datetime
    duration_s: float
    ended_by: RunEnd
    workers: int
    simulate: bool
    total: int
    counts: dict[str, int]
    success_rate: float | None  # percent of the jobs that reached an end state in this report
    billed_phone_minutes: float | None
    phones_left_running: tuple[str, ...]
    notes: tuple[str, ...]
    results: tuple[JobResult, ...]
    simulated_clock: bool = False  # a dry run: every time above is its simulated clock's
    phones_started: int = 0
    phones_auto_stop: int = 0  # of those, started with GeeLark's energySavingMode (stop when idle)


def job_result(job: Job, logs_dir: Path, log_files: Mapping[str, str]) -> JobResult:
    duration = None
    if job.claimed_at is not None and job.completed_at is not None and job.status not in OPEN:
        duration = max(0.0, (job.completed_at - job.claimed_at).total_seconds())
    return JobResult(
        job_id=job.job_id,
        account=job.account,
        status=job.status.value,
        attempts=job.attempts,
        duration_s=duration,
        error=job.error,
        error_type=job.error_type,
        log_file=log_files.get(job.job_id),
        evidence_dir=evidence_dir(logs_dir, job.job_id),
        completed_at=job.completed_at,
        post_url=job.post_url,
        external_id=job.external_id,
    )


def build_report(
    snapshot: QueueSnapshot,
    *,
    started_at: datetime,
    ended_at: datetime,
    ended_by: RunEnd,
    workers: int,
    simulate: bool,
    logs_dir: Path,
    log_files: Mapping[str, str],
    billed_phone_minutes: float | None,
    phones_left_running: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    simulated_clock: bool = False,
    phone_starts: tuple[int, int] = (0, 0),
) -> BatchReport:
    """The report of one run from the queue as it is at the end."""
    jobs = [j for j in snapshot.jobs if in_run(j, started_at)]
    counts = {s.value: 0 for s in JobStatus}
    for job in jobs:
        counts[job.status.value] += 1
    ended = counts["success"] + counts["failed"] + counts["review"]
    return BatchReport(
        started_at=started_at,
        ended_at=ended_at,
        duration_s=max(0.0, (ended_at - started_at).total_seconds()),
        ended_by=ended_by,
        workers=workers,
        simulate=simulate,
        total=len(jobs),
        counts=counts,
        success_rate=round(100.0 * counts["success"] / ended, 1) if ended else None,
        billed_phone_minutes=billed_phone_minutes,
        phones_left_running=phones_left_running,
        notes=notes,
        results=tuple(job_result(j, logs_dir, log_files) for j in jobs),
        simulated_clock=simulated_clock,
        phones_started=phone_starts[0],
        phones_auto_stop=phone_starts[1],
    )


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def summary_lines(report: BatchReport) -> list[str]:
    """The headline block (also printed at the end of a run)."""
    rate = "-" if report.success_rate is None else f"{report.success_rate:.1f}%"
    c = report.counts
    billed = "unknown" if report.billed_phone_minutes is None else f"{report.billed_phone_minutes:.1f}"
    if report.simulate and report.billed_phone_minutes is not None:
        billed += " (simulated minutes, no cost)"
    lines = [
        f"Run ended: {report.ended_by}  ({_minutes(report.duration_s)}, {report.workers} workers"
        + (", simulated)" if report.simulate else ")"),
        f"Jobs: {report.total}  ok {c['success']}  failed {c['failed']}  review {c['review']}  "
        f"retrying {c['retrying']}  pending {c['pending']}  claimed {c['claimed']}",
        f"Success rate: {rate}   Billed phone minutes: {billed}",
    ]
    if report.phones_started:
        lines.append(
            f"Phones started: {report.phones_started}, {report.phones_auto_stop} with energySavingMode"
            " (off after 30 idle min)"
        )
    if report.phones_left_running:
        lines.append("PHONES STILL RUNNING (stop them!): " + ", ".join(report.phones_left_running))
    lines.extend(f"Note: {note}" for note in report.notes)
    if report.simulated_clock:
        lines += ["DRY RUN: nothing was posted; the times are the simulated clock's.", *post_timeline(report)]
    return lines


def post_timeline(report: BatchReport) -> list[str]:
    """When each account's posts went out (a dry run shows a simulated day or more this way)."""
    posted: dict[str, list[datetime]] = {}
    for r in report.results:
        if r.status == "success" and r.completed_at is not None:
            posted.setdefault(r.account, []).append(r.completed_at.astimezone())
    lines = ["Posts by account:"] if posted else []
    for account, times in sorted(posted.items()):
        lines.append(f"  {account}: " + ", ".join(f"{t:%a %d %H:%M}" for t in sorted(times)))
    return lines


def summary_text(report: BatchReport) -> str:
    """The human-readable summary file: headline, then one line per job (+ error and log pointer)."""
    rule = "=" * 78
    out = [rule, "BATCH SUMMARY", rule]
    out.append(
        f"Start: {report.started_at:%Y-%m-%d %H:%M:%S %z}   End: {report.ended_at:%Y-%m-%d %H:%M:%S %z}"
    )
    out.extend(summary_lines(report))
    out += ["", rule, "JOBS", rule]
    for r in report.results:
        out.append(
            f"[{MARKS.get(r.status, r.status)}] {job_label(r.job_id, r.account)}  {r.status}"
            f"  ({_minutes(r.duration_s)})"
        )
        if r.post_url:
            out.append(f"       post: {r.post_url}")
        if r.error or r.error_type:
            out.append(f"       error: {r.error_type or '-'}: {r.error}")
        if r.status in ("failed", "review", "retrying"):
            out.append(f"       evidence: {r.log_file or r.evidence_dir}")
    return "\n".join(out) + "\n"


def write_report_files(report: BatchReport, logs_dir: Path) -> tuple[Path, Path]:
    """Write the JSON report and the text summary; returns their paths (never overwrites an older pair)."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    stamp = report.started_at.strftime("%Y%m%d_%H%M%S")
    suffix, n = "", 1
    while (logs_dir / f"batch_report_{stamp}{suffix}.json").exists():
        n += 1
        suffix = f"_{n}"
    json_path = logs_dir / f"batch_report_{stamp}{suffix}.json"
    text_path = logs_dir / f"batch_summary_{stamp}{suffix}.txt"
    write_json_atomic(json_path, to_jsonable(report))
    tmp = text_path.with_suffix(".txt.tmp")
    tmp.write_text(summary_text(report), encoding="utf-8")
    tmp.replace(text_path)
    return json_path, text_path


def find_job_logs(logs_dir: Path, job_ids: list[str]) -> dict[str, str]:
    """The newest `attempt_<n>.log` of each job that has one."""
    found: dict[str, str] = {}
    for job_id in job_ids:
        folder = job_dir(logs_dir, job_id)
        attempts = sorted(folder.glob("attempt_*.log"), key=_attempt_number)
        if attempts:
            found[job_id] = str(attempts[-1])
    return found


def _attempt_number(path: Path) -> int:
    digits = path.stem.removeprefix("attempt_")
    return int(digits) if digits.isdigit() else -1
