"""Printing for the CLI: the run's live output and the final blocks. The library never prints.

Console output is plain text; stdout/stderr are switched to `errors="replace"` so a caption with an
emoji can never crash a run on a legacy Windows code page.
"""

from __future__ import annotations

import contextlib
import io
import sys
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from orchestrator.jsonable import dumps
from orchestrator.views.report import summary_lines

if TYPE_CHECKING:  # not imported at run time: --status must start fast (these pull in GeeLark)
    from orchestrator.run.recovery import PhoneCleanup
    from orchestrator.run.shutdown import RunResult
    from orchestrator.run.stop_all import StopAllResult
    from orchestrator.views.fleet_view import RunTick


def make_console_safe() -> None:
    """Never fail on characters the console cannot show (Windows cp1252/cp437 consoles)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # not when a test or an embedder swapped it
            with contextlib.suppress(ValueError):
                stream.reconfigure(errors="replace", line_buffering=True)


def echo(line: str = "", err: bool = False) -> None:
    stream: TextIO = sys.stderr if err else sys.stdout
    print(line, file=stream, flush=True)


def echo_lines(lines: list[str]) -> None:
    for line in lines:
        echo(line)


def echo_json(value: object) -> None:
    echo(dumps(value))


class ConsoleObserver:
    """A run's events and progress lines on the console, each with the local time (on stderr when
    stdout is reserved for JSON)."""

    def __init__(self, to_stderr: bool = False) -> None:
        self.to_stderr = to_stderr

    def event(self, message: str) -> None:
        echo(f"{datetime.now():%H:%M:%S} {message}", err=self.to_stderr)

    def progress(self, line: str) -> None:
        echo(f"{datetime.now():%H:%M:%S} {line}", err=self.to_stderr)

    def tick(self, state: RunTick) -> None:
        """Plain output has no live view: the progress lines say it all."""


def run_result_lines(result: RunResult) -> list[str]:
    rule = "=" * 72
    lines = ["", rule, *summary_lines(result.report), rule]
    if result.report_files is not None:
        lines.append(f"Report:  {result.report_files[0]}")
        lines.append(f"Summary: {result.report_files[1]}")
    else:
        lines.append("Report:  NOT WRITTEN (see the warning above); the summary above is all there is")
    lines += phone_lines(result.phones)
    counts = result.report.counts
    if counts["failed"] or counts["review"]:
        which = " ".join(f for f, n in (("--failed", counts["failed"]), ("--review", counts["review"])) if n)
        lines.append("Failed/review jobs: see parallel-orchestrator --status")
        lines.append(f"  requeue them with: parallel-orchestrator requeue {which}")
        if counts["review"]:
            lines.append(
                "  WARNING: review jobs may already be posted (the worker got past the publish tap):"
                " check each account first, and requeue only the ones that were not posted"
            )
    return lines


def phone_lines(phones: PhoneCleanup) -> list[str]:
    out = [
        f"Phone {r.serial_name} ({r.phone_id}): "
        + ("shut down" if r.stopped else f"NOT CONFIRMED STOPPED: {r.final_status_name}")
        for r in phones.results
    ]
    if phones.error:
        out.append(f"WARNING: phones could not be checked: {phones.error}")
    return out


def stop_all_lines(result: StopAllResult) -> list[str]:
    out = [f"Orchestrator: {result.orchestrator}"]
    out += [f"Killed: {name}" for name in result.killed] or [
        "Killed: nothing (no recorded process was alive)"
    ]
    out += [f"Released claim: {line}" for line in result.released]
    out += [f"Task: {line}" for line in result.tasks]
    if result.phones:
        out.append(f"Phones ({result.phone_note}):")
        out += [
            f"  {p.serial_name or '?'} ({p.phone_id}) [{p.why}]: "
            + ("shut down" if p.stopped else f"NOT CONFIRMED ({p.final_status_name}) {p.error}".rstrip())
            for p in result.phones
        ]
    else:
        out.append(f"Phones: none of ours running ({result.phone_note})")
    if result.phone_error:
        out.append(f"WARNING: phones could not be checked: {result.phone_error}")
    out.append(f"Simulator: {result.simulator}")
    out.append(
        "Everything is stopped."
        if result.complete
        else "NOT everything could be confirmed stopped: see above."
    )
    return out
