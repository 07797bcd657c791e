"""`parallel-orchestrator doctor`: the checks of orchestrator.run.doctor, as lines or JSON."""

from __future__ import annotations

import dataclasses
import os

from orchestrator.cli import console
from orchestrator.cli.options import CliState
from orchestrator.config import load_config
from orchestrator.exit_codes import ExitCode
from orchestrator.run.doctor import doctor, real_machine


def run_doctor(state: CliState, *, offline: bool) -> ExitCode:
    settings = load_config(state.config, state.overrides).settings
    findings = doctor(settings, real_machine(settings, os.environ, offline=offline))
    ready = all(f.ok for f in findings)
    if state.json:
        console.echo_json({"ready": ready, "checks": [dataclasses.asdict(f) for f in findings]})
    else:
        console.echo_lines([f.line() for f in findings])
        problems = sum(not f.ok for f in findings)
        console.echo(
            "Ready for real phones." if ready else f"{problems} problem(s) to fix before a real run."
        )
    return ExitCode.OK if ready else ExitCode.USAGE
