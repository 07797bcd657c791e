"""Serve the dashboard (uvicorn) from a thread of this process: during `--run`, or for the
`dashboard` command. The socket is bound before the thread starts, so a taken port is an error at
once (naming it), and port 0 gets a free port whose URL is known before anyone connects.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from orchestrator.errors import PreflightFailed
from orchestrator.views.web.security import check_exposure

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (IPv6 when the host is); PreflightFailed when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        raise PreflightFailed(
            f"the dashboard cannot listen on {host}:{port} ({exc.strerror or exc}). Choose another"
            " port: [dashboard] port in the config, or --port (0: any free port)"
        ) from None


class DashboardServer:
    """The app on host:port in a background thread; a context manager that stops it on exit."""

    def __init__(self, app: Starlette, *, host: str, port: int, token: str) -> None:
        check_exposure(host, token)
        self._socket = bind(host, port)
        bound = self._socket.getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}/"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="dashboard", daemon=True)

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> DashboardServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            self.stop()
            raise PreflightFailed(f"the dashboard did not start on {self.url} (see logs/orchestrator.log)")
        log.info("dashboard serving at %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        self._socket.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
