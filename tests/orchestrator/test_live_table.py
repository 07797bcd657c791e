"""The live fleet table: drawn from the run's ticks, redrawn in place in a terminal, with events as
lines above it; a real simulated run shows it when its console can redraw."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from harness.processes import free_port_base, subprocess_env
from jobqueue import QueuePolicy
from orchestrator.cli.live import LiveObserver, can_redraw
from orchestrator.config import load_config
from orchestrator.views.fleet_view import FleetView, RunTick, SupervisedWorker
from runtime.platform import ProcessRef
from runtime.state import Heartbeat, RunDir
from tests.orchestrator.conftest import Workdir, config_toml
from tests.orchestrator.factories import NOW, claimed, snapshot

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def tick(at_s: float) -> RunTick:
    return RunTick(
        now=NOW + timedelta(seconds=at_s),
        started_at=NOW - timedelta(minutes=1),
        snapshot=snapshot(claimed("clip_01@acct1", "acct1", 0, 20)),
        policy=QueuePolicy(timezone="UTC"),
        workers=(SupervisedWorker(0, "running"), SupervisedWorker(1, "backoff", "exit code 3", 1.0)),
        simulate=True,
        simulator_url=None,
        follow=False,
    )


def test_the_table_is_redrawn_in_place_with_events_above_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_config(None, {}, env={}, cwd=tmp_path).settings
    run_dir = RunDir(settings.paths.runtime_dir)
    run_dir.ensure()
    run_dir.write_heartbeat(
        Heartbeat(0, ProcessRef(10, 1.0), NOW, step="upload_video", job_id="clip_01@acct1")
    )
    out = io.StringIO()
    screen = Console(file=out, force_terminal=True, width=80, legacy_windows=False, color_system=None)
    moments = iter([0.0, 0.5, 1.5])
    with LiveObserver(settings, screen, meter=lambda url: None, clock=lambda: next(moments)) as live:
        live.tick(tick(0))
        live.event("W1 crashed (exit code 3); restart in 1.0s")
        live.tick(tick(10))  # within a second of the last drawing: not drawn
        live.tick(tick(20))
    text = out.getvalue()
    assert "Run 1m 00s" in text and "Run 1m 10s" not in text and "Run 1m 20s" in text
    assert "upload_video" in text and "restarting" in text
    assert "W1 crashed (exit code 3)" in text
    assert "\x1b[1A" in text  # the cursor went back up to redraw
    assert max(len(line) for line in ANSI.sub("", text).replace("\r", "\n").split("\n")) <= 80


def test_a_pipe_or_a_dumb_terminal_gets_plain_lines() -> None:
    piped = Console(file=io.StringIO())
    assert not can_redraw(piped, {})
    assert not can_redraw(piped, {"FORCE_COLOR": "1"})  # colours, maybe; redrawing in a file, never
    assert can_redraw(piped, {"TTY_COMPATIBLE": "1"})
    assert not can_redraw(piped, {"TTY_COMPATIBLE": "1", "TERM": "dumb"})


def test_a_simulated_run_in_a_terminal_shows_the_live_table(workdir: Workdir) -> None:
    (workdir.path / "parallel-orchestrator.toml").write_text(config_toml(free_port_base(2), workers=2))
    workdir.seed(jobs=4, accounts=2)
    env = {**subprocess_env(), "TTY_COMPATIBLE": "1", "COLUMNS": "80", "LINES": "40", "TERM": "xterm"}
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--run"],
        cwd=workdir.path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    screen = ANSI.sub("", result.stdout)
    assert "\x1b[1A" in result.stdout  # drawn in place
    assert "state" in screen and "last error" in screen and "Jobs " in screen
    assert "W0 started" in screen  # events still print as lines
    assert "Progress:" not in screen  # the table replaces the plain progress lines
    assert "Run ended: completed" in screen
    assert max(len(line) for line in screen.replace("\r", "\n").split("\n")) <= 80


def test_status_watch_without_a_terminal_prints_one_line_per_refresh() -> None:
    from orchestrator.cli.live import watch
    from orchestrator.views.fleet_view import fleet_view

    fetched: list[int] = []
    out = io.StringIO()

    def fetch() -> FleetView:
        fetched.append(1)
        return fleet_view(snapshot(claimed("j", "a", 0, 5)), now=NOW, policy=QueuePolicy(), started_at=None,
                          heartbeats={}, alive=set())  # fmt: skip

    calls: list[float] = []
    watch(fetch, Console(file=out), keep_going=lambda: len(calls) < 35, interval_s=1.0, sleep=calls.append)
    lines = out.getvalue().splitlines()
    assert len(fetched) == len(lines) == 4  # one refresh a second (10 naps of 0.1 s) until Ctrl+C
    assert all("Progress: 0/1 done" in line and "W0 j @a" in line for line in lines)
