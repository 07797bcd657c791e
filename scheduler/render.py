"""Reports as text lines for the terminal (the CLI prints them; the library never prints)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from scheduler.folders import Skipped
from scheduler.importer import ImportReport
from scheduler.operations import ChangeReport
from scheduler.seeding import SeedReport
from scheduler.status import StatusReport

SHOW_AT_MOST = 20


def as_json(report: Any) -> str:
    return json.dumps(dataclasses.asdict(report), indent=2, ensure_ascii=False, default=str)


def _capped(lines: Sequence[str], indent: str = "    ") -> list[str]:
    shown = [indent + line for line in lines[:SHOW_AT_MOST]]
    if len(lines) > SHOW_AT_MOST:
        shown.append(f"{indent}... and {len(lines) - SHOW_AT_MOST} more")
    return shown


def skipped_lines(skipped: Sequence[Skipped]) -> list[str]:
    return _capped([f"{s.item}: {s.reason}" for s in skipped])


def change_lines(report: ChangeReport) -> list[str]:
    lines: list[str] = []
    for folder in report.folders:
        captions = ", ".join(folder.caption_files) or "sidecar .txt files only"
        lines.append(f"folder {folder.folder}: {len(folder.added)} video(s) added (captions: {captions})")
        lines += _capped([f"{video} <- {source}" for video, source in folder.added])
        lines += [f"  note: {note}" for note in folder.notes]
        if folder.captions_updated:
            lines.append(f"  captions corrected at the source: {len(folder.captions_updated)}")
            lines += _capped(list(folder.captions_updated))
        if folder.skipped:
            lines.append(f"  skipped {len(folder.skipped)}:")
            lines += skipped_lines(folder.skipped)
    if report.accounts_added:
        lines.append(f"accounts added: {', '.join(report.accounts_added)}")
    if report.accounts_listed:
        lines.append(
            f"accounts.csv: {len(report.accounts_listed)} row(s) added (empty cells take the config's"
            " [accounts] defaults; set app, window, daily_limit, min_spacing there)"
        )
    if report.accounts_already_present:
        lines.append(f"accounts already present: {', '.join(report.accounts_already_present)}")
    if report.accounts_removed:
        lines.append(
            f"accounts removed: {', '.join(report.accounts_removed)} "
            f"({report.assignments_dropped} unseeded assignment(s) returned to the waiting list)"
        )
    if report.jobs_cancelled:
        lines.append(
            f"queued jobs of removed accounts cancelled (failed 'cancelled'): {len(report.jobs_cancelled)}"
        )
    if report.jobs_left_claimed:
        lines.append("being posted right now, left to finish: " + ", ".join(report.jobs_left_claimed))
    if report.captions_changed:
        lines.append(f"queued jobs now with the corrected caption: {', '.join(report.captions_changed)}")
    if report.captions_left:
        lines.append(
            "jobs already being posted or done keep the caption they had: " + ", ".join(report.captions_left)
        )
    if report.newly_posted:
        lines.append(f"posted ledger: {report.newly_posted} success(es) from the progress file recorded")
    lines.append(f"assigned now: {len(report.plan.given)}; waiting: {len(report.plan.unassigned)}")
    lines += waiting_lines(report.plan.unassigned)
    lines.append("state saved" if report.saved else "nothing changed; state not rewritten")
    return lines


def waiting_lines(waiting: Sequence[tuple[str, str]]) -> list[str]:
    reasons = Counter(reason for _, reason in waiting)
    return [f"  {count} waiting: {reason}" for reason, count in reasons.most_common()]


def status_lines(report: StatusReport) -> list[str]:
    s = report.settings
    lines = [
        f"state: {report.state_path}   progress: {report.progress_path}",
        f"settings: days_ahead={s.days_ahead} seed={s.seed} max_attempts={s.max_attempts}; open jobs per"
        f" account: days_ahead x its daily limit ({report.daily_limits})",
        f"folders: {len(report.folders)}   videos: {report.videos}   assigned: {report.assigned} "
        f"(seeded {report.seeded})   waiting: {len(report.waiting)}",
    ]
    if report.queue_counts:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.queue_counts.items()))
        lines.append(f"progress file: {counts}")
    lines.append(f"posted ledger: {report.posted_entries} entries")
    if report.successes_not_in_ledger:
        lines.append(
            f"  {report.successes_not_in_ledger} success(es) in the progress file not yet in the ledger"
        )
    lines.append(f"accounts: {len(report.accounts)}")
    lines += _capped(
        [
            f"{a.name}: open {a.open_jobs}, assigned {a.assigned_total}, posted {a.posted}"
            for a in report.accounts
        ]
    )
    if report.assignable_now:
        lines.append(f"{report.assignable_now} video(s) will be assigned at the next change or seed")
    lines += waiting_lines(report.waiting)
    return lines


def seed_lines(report: SeedReport) -> list[str]:
    return [
        f"seeded: {report.added} new job(s), {report.already_present} already queued",
        f"assigned now: {report.newly_assigned}; waiting: {report.unassigned}; "
        f"ledger: {report.newly_posted} new success(es)",
    ]


def import_lines(report: ImportReport) -> list[str]:
    lines = ["imported from:", *_capped(list(report.files))]
    lines += [f"{what}: {n}" for what, n in sorted(report.counts.items())]
    if report.quarantine_file:
        lines.append(
            f"rows set aside (with the reason, 'review:' ones need a look): {report.quarantine_file}"
        )
    if report.legacy_backup:
        lines.append(f"the original state file was kept as {report.legacy_backup}")
    lines.append(f"assigned now: {report.assigned_now}; state saved")
    return lines
