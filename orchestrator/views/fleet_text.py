"""The fleet's totals in words: the lines above the console table and the dashboard's headline."""

from __future__ import annotations

from orchestrator.views.fleet_view import FleetView
from orchestrator.views.progress import format_duration, format_until


def header_lines(view: FleetView) -> list[str]:
    """The run's totals: progress, why jobs wait, phones and billed minutes, the expected end."""
    now = view.generated_at
    t = view.totals
    if view.run_active and view.started_at is not None:
        run = f"Run {format_duration((now - view.started_at).total_seconds())}"
        run += " (simulated)" if view.simulate else ""
    else:
        run = "No run active"
    end = view.expected_end
    ends = f"ends {format_until(end.at, now)}, {end.note}" if end.at is not None else f"end: {end.note}"
    lines = [f"{run} | {ends}" if view.run_active else run]
    outcome = f"{t.ok} ok, {t.failed} failed, {t.review} review"
    lines.append(f"Jobs {t.done}/{t.total} done ({outcome}) | {t.claimed} active | {t.waiting} waiting")
    if t.waiting_why:
        lines.append(f"  waiting: {t.waiting_why}")
    p = view.phones
    if not view.run_active:
        lines.append(f"Phones {p.running} running (our phone log)")
        return lines
    if p.billed_minutes is None:
        billed = "billed minutes unknown"
    elif p.simulated:
        billed = f"billed {p.billed_minutes:.0f} min (simulated minutes, no cost)"
    else:
        billed = f"billed ~{p.billed_minutes:.0f} min (from our phone log)"
    lines.append(f"Phones {p.running} running, {billed}")
    return lines
