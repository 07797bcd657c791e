"""``python -m geelark.simulator``: run the simulated GeeLark cloud until SIGTERM / Ctrl+C.

Defaults: --port 0 (a free port), --phones 5 (phone-01..phone-05), credentials
sim-app-id / sim-api-key / sim-token, --faults none, --time-scale 1, --seed 0. Once listening
on 127.0.0.1 it writes ``{"port", "pid", "url"}`` atomically to --ready-file (removed on exit).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

from geelark.simulator.config import (
    DEFAULT_API_KEY,
    DEFAULT_APP_ID,
    DEFAULT_TOKEN,
    SimulatorConfig,
    phone_names,
)
from geelark.simulator.faults import PRESETS, FaultConfig, parse_faults
from geelark.simulator.server import SimulatorServer


def load_faults(spec: str) -> FaultConfig:
    """``none``, ``realistic`` or the path of a JSON fault file."""
    if spec in PRESETS:
        return PRESETS[spec]
    return parse_faults(json.loads(Path(spec).read_text(encoding="utf-8")))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m geelark.simulator", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    p.add_argument("--ready-file", type=Path, help='write {"port","pid","url"} here once listening')
    p.add_argument("--phones", default="5", help="a count (phone-01..) or comma-separated serial names")
    p.add_argument("--app-id", default=DEFAULT_APP_ID)
    p.add_argument("--api-key", default=DEFAULT_API_KEY)
    p.add_argument("--token", default=DEFAULT_TOKEN)
    p.add_argument("--faults", default="none", help="none | realistic | path to a JSON fault file")
    p.add_argument("--time-scale", type=float, default=1.0, help="real seconds per simulated second")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--boot-time", type=float, default=30.0, help="simulated seconds a boot takes")
    p.add_argument("--balance", type=float, default=100.0)
    p.add_argument("--rate-limit", type=int, default=200, help="requests per endpoint per simulated minute")
    p.add_argument("--task-credits", type=int, default=10_000, help="publishing tasks the account may create")
    p.add_argument("--task-time", type=float, default=120.0, help="simulated seconds one task run takes")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument(
        "--parent-pid", type=int, help="exit when this process is gone (nothing runs unsupervised)"
    )
    return p.parse_args(argv)


def write_ready_file(path: Path, port: int, url: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"port": port, "pid": os.getpid(), "url": url}), encoding="utf-8")
    os.replace(tmp, path)


def parent_watch(pid: int | None) -> Callable[[], bool]:
    """A check that is True while process `pid` (as it is now: same create time) still runs."""
    if pid is None:
        return lambda: True
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        return lambda: False

    def alive() -> bool:
        try:
            proc = psutil.Process(pid)
            return proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    return alive


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = SimulatorConfig(
            phones=phone_names(args.phones),
            app_id=args.app_id,
            api_key=args.api_key,
            token=args.token,
            port=args.port,
            time_scale=args.time_scale,
            seed=args.seed,
            faults=load_faults(args.faults),
            boot_time_s=args.boot_time,
            balance=args.balance,
            rate_limit_per_minute=args.rate_limit,
            task_credits=args.task_credits,
            task_time_s=args.task_time,
        )
    except (OSError, ValueError) as exc:
        print(f"geelark.simulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: stop.set())
    parent_alive = parent_watch(args.parent_pid)
    with SimulatorServer(config) as sim:
        if args.ready_file:
            write_ready_file(args.ready_file, sim.port, sim.url)
        try:
            while not stop.wait(0.5):
                if not parent_alive():
                    logging.getLogger(__name__).warning("parent process is gone: stopping")
                    break
        finally:
            if args.ready_file:
                args.ready_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
