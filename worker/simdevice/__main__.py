"""`python -m worker.simdevice --port P --cloud URL [--log FILE]`: run a simulated phone server.

Listens on 127.0.0.1:P until SIGINT/SIGTERM (Windows: CTRL_BREAK), then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runtime.platform import ProcessRef, install_stop_handlers
from worker.simdevice.server import SimDeviceServer

PARENT_CHECK_S = 0.5


def watch_parent(pid: int, on_gone: Callable[[], None]) -> None:
    """Call `on_gone` (from a daemon thread) once process `pid`, as it is now, has ended."""
    parent = ProcessRef.of(pid)

    def watch() -> None:
        while parent is not None and parent.is_alive():
            time.sleep(PARENT_CHECK_S)
        logging.getLogger(__name__).warning("worker pid %s is gone: stopping", pid)
        on_gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.simdevice", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cloud", required=True, help="base URL of the GeeLark simulator")
    parser.add_argument("--log", type=Path, default=None, help="log file (default: stderr)")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.log, level=logging.INFO, format="%(asctime)s simdevice %(levelname)s %(message)s"
    )
    server = SimDeviceServer(args.port, args.cloud)
    install_stop_handlers(lambda _n: threading.Thread(target=server.shutdown, daemon=True).start())
    if args.parent_pid is not None:
        watch_parent(args.parent_pid, server.shutdown)
    logging.getLogger(__name__).info("listening on 127.0.0.1:%s, cloud %s", args.port, args.cloud)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
