"""The orchestrator's GeeLark waits: scaled like the simulator it talks to, shared with its workers'
budget, and cut short by Ctrl+C (the first while the run goes on, the second while it shuts down)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geelark import Interrupted
from orchestrator.adapters.geelark_api import client_settings
from orchestrator.run.context import StopSignals
from orchestrator.run.startup import open_run
from runtime.settings import Settings, load_settings


class Collect:
    def __init__(self) -> None:
        self.events: list[str] = []

    def event(self, message: str) -> None:
        self.events.append(message)

    def progress(self, line: str) -> None:
        pass

    def tick(self, state: object) -> None:
        pass


def settings_in(tmp_path: Path, time_scale: float = 0.02) -> Settings:
    config = tmp_path / "run.toml"
    config.write_text(
        f'[paths]\nruntime_dir = "{(tmp_path / "rt").as_posix()}"\n'
        f'progress_file = "{(tmp_path / "parallel_progress.csv").as_posix()}"\n'
        f"[simulate]\ntime_scale = {time_scale}\n",
        encoding="utf-8",
    )
    return load_settings(config).settings


def test_a_simulator_client_waits_on_the_simulators_clock_and_shares_the_workers_budget(
    tmp_path: Path,
) -> None:
    gl = client_settings(settings_in(tmp_path, 0.02), {}, simulator_url="http://127.0.0.1:9")
    assert gl.rate_window_s == pytest.approx(1.2)  # not a real minute against a fast simulator
    assert gl.rate_limit_dir == tmp_path / "rt" / "geelark-budget"


def test_the_real_cloud_keeps_its_minute_and_a_status_probe_never_waits(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, 0.02)
    real = client_settings(settings, {"GEELARK_TOKEN": "t0ken"}, simulator_url=None)
    assert real.rate_window_s == 60.0
    assert real.rate_limit_dir == tmp_path / "rt" / "geelark-budget"
    quick = client_settings(settings, {"GEELARK_TOKEN": "t0ken"}, simulator_url=None, quick=True)
    assert quick.max_attempts == 1 and quick.rate_limit_dir is None


def test_the_first_ctrl_c_ends_waits_of_the_running_loop_but_not_of_the_shutdown(tmp_path: Path) -> None:
    stop = StopSignals()
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=Collect(), stop=stop)
    during_run, during_shutdown = run.stoppable(stop_at=1), run.stoppable(stop_at=2)
    during_run(0.01)
    stop.count = 1
    with pytest.raises(Interrupted):
        during_run(30.0)
    during_shutdown(0.05)  # the phones still get stopped after one Ctrl+C
    stop.count = 2
    with pytest.raises(Interrupted):
        during_shutdown(30.0)


def test_stop_all_ends_the_running_loops_waits(tmp_path: Path) -> None:
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=Collect(), stop=StopSignals())
    run.run_dir.ensure()
    run.run_dir.request_stop()
    assert run.run_dir.stop_all_file.exists()
    with pytest.raises(Interrupted):
        run.stoppable(stop_at=1)(30.0)


def test_a_long_wait_is_told_to_the_operator_with_the_way_out(tmp_path: Path) -> None:
    observer = Collect()
    stop = StopSignals(count=2)
    run = open_run(settings_in(tmp_path), tmp_path, env={}, observer=observer, stop=stop)
    with pytest.raises(Interrupted):
        run.stoppable(stop_at=2)(45.0)
    assert observer.events == ["GeeLark asks us to wait 45s (rate limit); Ctrl+C again ends the wait"]
