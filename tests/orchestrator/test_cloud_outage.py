"""The run while GeeLark is down: it says so once, pauses claiming, probes with backoff, resumes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from geelark import errors as ge
from orchestrator.run import cloud
from orchestrator.run.cloud import OutageWatch, geelark_down
from orchestrator.run.context import StopSignals
from orchestrator.run.startup import open_run
from orchestrator.views.progress import format_duration
from runtime.outage import OutageRecord
from runtime.settings import load_settings


class Collect:
    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, message: str) -> None:
        self.events.append(message)

    def progress(self, line: str) -> None:
        pass

    def tick(self, state: object) -> None:
        pass


def test_the_loop_announces_probes_with_backoff_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.toml").write_text(f'[paths]\nruntime_dir = "{(tmp_path / "rt").as_posix()}"\n')
    observer = Collect()
    run = open_run(
        load_settings(tmp_path / "c.toml").settings, tmp_path, env={}, observer=observer, stop=StopSignals()
    )
    answers = iter([False, False, True])
    probes: list[float] = []

    def probe(_run: object) -> bool:
        probes.append(now)
        return next(answers)

    monkeypatch.setattr(cloud, "probe", probe)
    watch = OutageWatch()
    now = 100.0
    assert not geelark_down(run, watch, now)  # nothing recorded: nothing to wait for
    OutageRecord(run.run_dir).report("ConnectFailed: refused", "W2", datetime.now(UTC))
    down_at = []
    for now in (100.0, 101.0, 104.9, 105.0, 110.0, 115.0):
        down_at.append(geelark_down(run, watch, now))
    assert down_at == [True, True, True, True, True, False]
    assert probes == [100.0, 105.0, 115.0]  # probed at once, then after 5 s, then after 10 s more
    assert OutageRecord(run.run_dir).current() is None
    assert observer.events[0].startswith("GeeLark is unreachable since")
    assert "(W2: ConnectFailed: refused). No job or account is charged for it" in observer.events[0]
    assert observer.events[-1].startswith("GeeLark answers again")


def test_only_silence_counts_as_an_outage_an_answer_with_a_code_does_not() -> None:
    assert ge.ConnectFailed("refused").unreachable and ge.RequestTimeout("slow").unreachable
    assert ge.HttpStatusError("bad gateway", status=502).unreachable
    assert not ge.HttpStatusError("not found", status=404).unreachable  # a wrong URL answers
    assert ge.OutcomeUnknown("start?", cause=ge.ConnectionDropped("reset")).unreachable
    assert not ge.AuthError("bad key", code=40003).unreachable
    assert not ge.RetryableApiError("busy", code=47002).unreachable  # one phone's trouble


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (0, 42, 312, 3 * 3600 + 5 * 60, 78600, 2 * 86400 + 4 * 3600)] == [
        "0s", "42s", "5m 12s", "3h 05m", "21h 50m", "2d 4h",
    ]  # fmt: skip
