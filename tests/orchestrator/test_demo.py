"""The README's main command: `python -m orchestrator demo` runs end to end and ends with a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.processes import free_port_base
from jobqueue import CsvJobStore, JobStatus
from runtime.state import RunDir
from tests.orchestrator.conftest import Reaper, subprocess_env


def test_the_demo_runs_end_to_end_and_its_report_agrees_with_the_csv(tmp_path: Path, reaper: Reaper) -> None:
    folder = tmp_path / "demo"
    reaper.run_dirs.append(RunDir(folder / ".orchestrator"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "demo",
            "--dir",
            str(folder),
            "--videos",
            "9",
            "--accounts",
            "3",
            "--port-base",
            str(free_port_base(3)),
        ],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Progress:" in out and "Run ended: completed" in out and "Success rate:" in out

    reports = list((folder / "logs").glob("batch_report_*.json"))
    summaries = list((folder / "logs").glob("batch_summary_*.txt"))
    assert len(reports) == len(summaries) == 1
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    jobs = {j.job_id: j for j in CsvJobStore(folder / "parallel_progress.csv").snapshot().jobs}
    assert report["total"] == len(jobs) == 9
    assert {r["job_id"]: r["status"] for r in report["results"]} == {
        k: j.status.value for k, j in jobs.items()
    }
    assert report["counts"]["success"] == sum(j.status is JobStatus.SUCCESS for j in jobs.values())
    assert not any(j.status is JobStatus.CLAIMED for j in jobs.values())
    assert report["billed_phone_minutes"] is not None
    assert "BATCH SUMMARY" in summaries[0].read_text(encoding="utf-8")
