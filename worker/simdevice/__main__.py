"""`python -m worker.simdevice --port P --cloud URL [--log FILE]`: run a simulated phone server.

Listens on 127.0.0.1:P until SIGINT/SIGTERM (Windows: CTRL_BREAK), then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path

from runtime.platform import install_stop_handlers
from worker.simdevice.server import SimDeviceServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.simdevice", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cloud", required=True, help="base URL of the GeeLark simulator")
    parser.add_argument("--log", type=Path, default=None, help="log file (default: stderr)")
    args = parser.parse_args(argv)
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.log, level=logging.INFO, format="%(asctime)s simdevice %(levelname)s %(message)s"
    )
    server = SimDeviceServer(args.port, args.cloud)
    install_stop_handlers(lambda _n: threading.Thread(target=server.shutdown, daemon=True).start())
    logging.getLogger(__name__).info("listening on 127.0.0.1:%s, cloud %s", args.port, args.cloud)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
