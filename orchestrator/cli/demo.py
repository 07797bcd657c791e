"""`demo`: a sample working folder (videos, captions, accounts, config) run on the simulator.

The folder is built the way an operator builds one: video files with a caption `.txt` beside each,
accounts added through the posting-scheduler's API (which writes `scheduler_state.json`), and a
`parallel-orchestrator.toml` with fast simulated timings. The run then seeds the queue from the
scheduler state like any other run. A folder is only ever replaced if an earlier demo made it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from orchestrator.errors import OrchestratorError
from scheduler.operations import ChangeRequest, apply_changes

MARKER = ".parallel-orchestrator-demo"
CAPTIONS = (
    "Morning light over the harbour #sunrise",
    "Three ingredients, five minutes: dinner done",
    "Trying the new trail before the rain",
    "Behind the scenes of today's shoot",
    "Our cat has opinions about Mondays",
    "Street food tour, stop number two",
    "Before and after: the balcony garden",
    "Quick tip: fold a shirt in two seconds",
)
# A bit of everything that resolves quickly (the `realistic` mix also has 20 s element waits).
DEMO_FAULTS = MappingProxyType(
    {
        "preset": "none",
        "scenarios": {"ok": 0.86, "post_fails": 0.08, "session_lost": 0.05, "captcha": 0.01},
        "phone": {"start_fail": 0.05},
        "api": {"http_502": 0.01},
        "app_interruptions": 0.15,  # the simulated Instagram's popups, handled by the flow
    }
)
FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 512


@dataclass(frozen=True)
class DemoFolder:
    folder: Path
    videos: int
    accounts: tuple[str, ...]
    config_file: Path


def demo_config(workers: int, *, faults: str, daily_limit: int, port_base: int | None = None) -> str:
    """The demo's TOML: simulated, fast backoff and cooldowns so a run ends in well under a minute."""
    ports = (
        ""
        if port_base is None
        else f"""
[worker]
appium_port_base = {port_base}
system_port_base = {port_base + 200}
"""
    )
    return f"""# parallel-orchestrator settings for the demo (see --show-config for every key)
[orchestrator]
workers = {workers}
grace_period_s = 20
restart_backoff_s = 1
heartbeat_timeout_s = 30

[queue]
daily_limit = {daily_limit}
backoff_base_s = 1
backoff_cap_s = 3
infra_cooldown_s = 3

[simulate]
enabled = true
faults = "{faults}"
time_scale = 0.02
{ports}"""


def create_demo_folder(
    folder: Path, *, videos: int, accounts: int, workers: int, faults: str, port_base: int | None = None
) -> DemoFolder:
    """Create (or re-create, if an earlier demo made it) the sample folder. Raises OrchestratorError."""
    if folder.exists():
        if not (folder / MARKER).exists():
            raise OrchestratorError(
                f"{folder} exists and was not made by the demo; choose another folder with --dir"
            )
        shutil.rmtree(folder)
    media = folder / "videos"
    media.mkdir(parents=True)
    (folder / MARKER).write_text("made by `python -m orchestrator demo`; safe to delete\n", encoding="utf-8")
    for n in range(1, videos + 1):
        (media / f"clip_{n:02d}.mp4").write_bytes(FAKE_MP4 + n.to_bytes(2, "big"))
        caption = f"{CAPTIONS[(n - 1) % len(CAPTIONS)]} (clip {n})"
        (media / f"clip_{n:02d}.txt").write_text(caption + "\n", encoding="utf-8")
    names = tuple(f"demo_phone{n}" for n in range(1, accounts + 1))
    daily_limit = -(-videos // max(1, accounts))  # every video gets posted today
    if faults == "demo":
        (folder / "faults.json").write_text(json.dumps(dict(DEMO_FAULTS), indent=1), encoding="utf-8")
        faults = (folder / "faults.json").as_posix()
    config = folder / "parallel-orchestrator.toml"
    config.write_text(
        demo_config(workers, faults=faults, daily_limit=daily_limit, port_base=port_base), encoding="utf-8"
    )
    apply_changes(
        folder / "scheduler_state.json",
        folder / "parallel_progress.csv",
        ChangeRequest(folders=(media,), accounts=names, daily_limit=daily_limit, days_ahead=1, seed=1),
    )
    return DemoFolder(folder, videos, names, config)
