"""Every worker of a run shares one GeeLark request budget."""

from __future__ import annotations

from pathlib import Path

from runtime.settings import load_settings
from worker.config import build_config


def test_workers_of_a_run_share_one_rate_limit_folder(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'[paths]\nruntime_dir = "{(tmp_path / "rt").as_posix()}"\n', encoding="utf-8")
    settings = load_settings(config).settings
    env = {"GEELARK_TOKEN": "t0ken-for-tests"}
    dirs = {
        build_config(n, settings, env=env, simulate=False, parent_pid=None).geelark.rate_limit_dir
        for n in range(3)
    }
    assert dirs == {tmp_path / "rt" / "geelark-budget"}
