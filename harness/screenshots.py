"""The README's screenshots, taken from a simulated run: the console's fleet table (rendered by rich
to SVG, photographed by headless Chromium) and the web dashboard.

    python -m harness.screenshots [--out docs]

Needs Chromium and chromedriver (see harness/browser.py). Takes about half a minute.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path

from rich.console import Console

from harness.browser import Chromium, find_chromium, headless
from harness.processes import free_port_base, subprocess_env, wait_for
from orchestrator.adapters.geelark_api import simulator_meter
from orchestrator.cli.demo import create_demo_folder
from orchestrator.cli.fleet_table import fleet_renderable
from orchestrator.config import load_config
from orchestrator.views.fleet_view import FleetView, WorkerActivity
from orchestrator.views.status_probe import current_status
from runtime.platform import ProcessRef, kill_tree, new_group_popen_kwargs, request_stop

TOKEN = "screenshot-token"


def busy(fleet: FleetView | None) -> bool:
    """A moment worth a picture: most workers at a step, some jobs done, one failed or retried."""
    if fleet is None:
        return False
    working = sum(r.activity is WorkerActivity.WORKING and r.step not in ("", "claimed") for r in fleet.rows)
    return working >= 2 and fleet.totals.done >= 4


def console_png(fleet: FleetView, chromium: Chromium, out: Path, scratch: Path) -> None:
    screen = Console(record=True, width=80, force_terminal=True, color_system="truecolor", file=open(  # noqa: SIM115
        scratch / "console.txt", "w", encoding="utf-8"))  # fmt: skip
    screen.print(fleet_renderable(fleet, width=80, ascii_only=False))
    svg = scratch / "console.svg"
    svg.write_text(screen.export_svg(title="parallel-orchestrator --run"), encoding="utf-8")
    with headless(chromium, scratch / "profile-console", width=1000, height=420) as driver:
        driver.get(svg.as_uri())
        driver.save_screenshot(str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if isinstance(chromium, str):
        print(chromium, file=sys.stderr)
        return 2
    out: Path = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        demo = create_demo_folder(scratch / "demo", videos=30, accounts=4, workers=3, faults="demo",
                                  port_base=free_port_base(3))  # fmt: skip
        text = demo.config_file.read_text(encoding="utf-8")
        # a heartbeat every 0.2 s shows each step of the demo's quick jobs; a slower cloud, more of them
        text = text.replace("[worker]\n", "[worker]\nheartbeat_interval_s = 0.2\n")
        text = text.replace("time_scale = 0.02", "time_scale = 0.05")
        text += f'\n[dashboard]\nenabled = true\nport = 0\ntoken = "{TOKEN}"\n'
        demo.config_file.write_text(text, encoding="utf-8")
        log = scratch / "run.txt"
        with open(log, "wb") as sink:
            command = [sys.executable, "-m", "orchestrator", "--run", "--plain"]
            run = subprocess.Popen(command, cwd=demo.folder, env=subprocess_env(), stdout=sink,
                                   stderr=subprocess.STDOUT, **new_group_popen_kwargs())  # fmt: skip
        ref = ProcessRef.of(run.pid)
        try:
            url = wait_for(
                lambda: re.search(r"Dashboard: (http://\S+)", log.read_text()), 60, "the dashboard"
            )[1]
            settings = load_config(demo.config_file, {}, cwd=demo.folder).settings
            paths = {f.name: demo.folder / getattr(settings.paths, f.name) for f in fields(settings.paths)}
            settings = replace(settings, paths=replace(settings.paths, **paths))

            def busy_fleet() -> FleetView | None:
                fleet = current_status(settings, now(), meter=simulator_meter).fleet
                return fleet if busy(fleet) else None

            fleet = wait_for(busy_fleet, 120, "a busy moment of the run", interval_s=0.1)
            console_png(fleet, chromium, out / "console-table.png", scratch)
            with headless(chromium, scratch / "profile-dashboard", width=1280, height=980) as driver:
                driver.get(url)
                driver.save_screenshot(str(out / "dashboard.png"))
        finally:
            if ref is not None:
                request_stop(ref)
                try:
                    run.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    kill_tree(ref)
    print(f"wrote {out / 'console-table.png'} and {out / 'dashboard.png'}")
    return 0


def now() -> datetime:
    return datetime.now().astimezone()


if __name__ == "__main__":
    sys.exit(main())
