"""The simulator as a real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer``)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from geelark.simulator.app import App, Request, Response, json_response
from geelark.simulator.cloud import Cloud
from geelark.simulator.config import SimClock, SimulatorConfig

log = logging.getLogger("geelark.simulator")
access_log = logging.getLogger("geelark.simulator.access")
# POST {"seconds": s}: the whole API (not the /_sim/ routes) drops every connection for s real
# seconds, as when GeeLark itself is down (connection refused or reset, time-outs).
OUTAGE_ROUTE = "/_sim/outage"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    app: App
    stopping: threading.Event
    down_until: float = 0.0  # monotonic: until then the API drops every connection (an outage)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k: v for k, v in self.headers.items()}
        request = Request(method, self.path, _CaseInsensitive(headers), body)
        if self.path.startswith(OUTAGE_ROUTE) and method == "POST":
            response = self._start_outage(body)
        elif not self.path.startswith("/_sim/") and time.monotonic() < self.server.down_until:
            response = Response(drop=True)  # GeeLark is down: the API answers nothing
        else:
            response = self.server.app.handle(request)
        if response.delay_s > 0 and self.server.stopping.wait(response.delay_s):
            response = Response(drop=True)
        if response.drop:
            self.close_connection = True
            access_log.debug("%s %s dropped", method, _loggable(self.path))
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # A client that gave up on a late answer (a slow fault) has closed its end.
            self.close_connection = True
            access_log.debug("%s %s: client gone before the answer", method, _loggable(self.path))
            return
        access_log.debug(
            "%s %s -> %s %.0fms",
            method,
            _loggable(self.path),
            response.status,
            (time.monotonic() - started) * 1000,
        )

    def _start_outage(self, body: bytes) -> Response:
        try:
            seconds = float(json.loads(body or b"{}")["seconds"])
        except (ValueError, KeyError, TypeError):
            return json_response({"error": 'body must be {"seconds": <number>}'}, 400)
        self.server.down_until = time.monotonic() + seconds
        log.warning("outage: the API drops every connection for %.1f s", seconds)
        return json_response({"ok": True})

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr log; requests are logged in ``_serve`` without secrets."""


def _loggable(path: str) -> str:
    """The path without query and without the upload token (a credential of sorts)."""
    path = path.split("?", 1)[0]
    return "/_upload/***" if path.startswith("/_upload/") else path


class _CaseInsensitive(dict[str, str]):
    """HTTP headers: look-ups ignore case."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class SimulatorServer:
    """The simulated GeeLark cloud on ``127.0.0.1``, served from a background thread.

    Use as a context manager (``with SimulatorServer(cfg) as sim: sim.url``) or call
    ``start()`` / ``stop()``. ``real_clock`` (seconds) may be injected for deterministic tests.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, real_clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SimulatorConfig()
        self.cloud = Cloud(self.config, SimClock(self.config.time_scale, real_clock))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to put in ``GeeLarkSettings.base_url``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorServer:
        """Bind (port 0 = a free port) and serve in a daemon thread; returns self."""
        httpd = _HTTPServer(("127.0.0.1", self.config.port), _Handler)
        httpd.stopping = threading.Event()
        self._httpd = httpd
        httpd.app = App(self.cloud, self.url)
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="geelark-simulator", daemon=True
        )
        self._thread.start()
        log.info("GeeLark simulator listening on %s with %d phones", self.url, len(self.config.phones))
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` is called from elsewhere (CLI form)."""
        if self._thread is not None:
            self._thread.join()

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` returns (a deep copy)."""
        with self.cloud.lock:
            copy: dict[str, Any] = json.loads(json.dumps(self.cloud.state()))
        return copy

    def set_faults(self, raw: dict[str, Any]) -> None:
        """Replace the fault configuration, like ``POST /_sim/faults``."""
        response = self._app().replace_faults(json.dumps(raw).encode())
        if response.status != 200:
            raise ValueError(json.loads(response.body)["error"])

    def set_outage(self, seconds: float) -> None:
        """The API drops every connection for `seconds` real seconds, like ``POST /_sim/outage``."""
        if self._httpd is not None:
            self._httpd.down_until = time.monotonic() + seconds

    def kill_phone(self, phone_id: str) -> None:
        """Stop a phone underneath its user, like ``POST /_sim/phones/{id}/kill``."""
        with self.cloud.lock:
            self.cloud.kill(phone_id)

    def phone_id(self, serial_name: str) -> str:
        """The id of the phone called ``serial_name``."""
        for phone in self.cloud.phones.values():
            if phone.serial_name == serial_name:
                return phone.id
        raise KeyError(serial_name)

    def _app(self) -> App:
        if self._httpd is None:
            return App(self.cloud)
        return self._httpd.app

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
