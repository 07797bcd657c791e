"""The simulated phone's "Appium server": W3C WebDriver over HTTP, stdlib only.

A new session resolves `appium:udid` ("ip:port") through the cloud simulator
(`GET /_sim/devices/{ip}:{port}`; 404 -> session not created, like Appium when adb lacks the
device) and draws its scenario (`POST /_sim/devices/{phoneId}/session`). Every later command
re-checks the device, so a phone stopped underneath answers like a crashed UiAutomator2 ("Could not
proxy command ... socket hang up"). The share tap publishes through `POST /_sim/devices/{id}/publish`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from worker.simdevice import screen
from worker.simdevice.app import SimApp
from worker.simdevice.instagram import PACKAGE as INSTAGRAM
from worker.simdevice.instagram import InstagramApp

log = logging.getLogger(__name__)

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
CLOUD_TIMEOUT_S = 5.0
HANGUP = "Could not proxy command to the remote server. Original error: socket hang up"
_STATUS = {
    "no such element": 404,
    "stale element reference": 404,
    "invalid session id": 404,
    "unknown command": 404,
    "invalid argument": 400,
    "invalid selector": 400,
    "invalid element state": 400,
    "session not created": 500,
    "unknown error": 500,
}
_ROUTE = re.compile(r"^/session/(?P<sid>[^/]+)(?:/element/(?P<eid>[^/]+))?(?P<rest>/.*)?$")


class W3CError(Exception):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass
class Session:
    sid: str
    udid: str
    phone_id: str
    job_tag: str
    capabilities: dict[str, Any]
    app: SimApp | InstagramApp
    lock: threading.Lock


class Cloud:
    """The few /_sim/ calls the simulated phone makes."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=CLOUD_TIMEOUT_S) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (OSError, ValueError) as exc:
            raise W3CError("unknown error", f"{HANGUP} ({exc})") from exc

    def device(self, udid: str) -> dict[str, Any] | None:
        status, body = self.call("GET", f"/_sim/devices/{udid}")
        return body if status == 200 and isinstance(body, dict) else None


class SimDevice:
    """All sessions of one simulated-phone server."""

    def __init__(self, cloud_url: str) -> None:
        self.cloud = Cloud(cloud_url)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    def new_session(self, body: dict[str, Any]) -> dict[str, Any]:
        caps = _capabilities(body)
        udid = str(caps.get("appium:udid") or caps.get("udid") or "")
        if not udid:
            raise W3CError("session not created", "appium:udid is required (ip:port of the phone)")
        device = self.cloud.device(udid)
        if device is None:
            raise W3CError("session not created", f"Device {udid} was not in the list of connected devices")
        phone_id = str(device["phoneId"])
        status, drawn = self.cloud.call("POST", f"/_sim/devices/{phone_id}/session", {})
        if status != 200 or not isinstance(drawn, dict):
            raise W3CError("session not created", f"{HANGUP} (scenario draw answered {status})")
        package = str(caps.get("appium:appPackage") or caps.get("appPackage") or "")
        app: SimApp | InstagramApp
        if package == INSTAGRAM:
            app = InstagramApp(
                str(drawn.get("scenario", "ok")),
                list(device.get("files") or []),
                float(drawn.get("postDelayS", 0.0)),
                account=str(drawn.get("account", "account")),
                interruption_rate=float(drawn.get("interruptions", 0.0)),
                seed=int(drawn.get("seed", 0)),
            )
        else:
            app = SimApp(
                str(drawn.get("scenario", "ok")),
                list(device.get("files") or []),
                float(drawn.get("postDelayS", 0.0)),
            )
        tag = next((str(v) for k, v in caps.items() if k.endswith("jobTag")), "")
        session = Session(uuid.uuid4().hex, udid, phone_id, tag, caps, app, threading.Lock())
        with self.lock:
            self.sessions[session.sid] = session
        log.info("session %s on %s (phone %s): scenario %s", session.sid, udid, phone_id, app.scenario)
        return {"sessionId": session.sid, "capabilities": {**caps, "sessionId": session.sid}}

    def delete_session(self, sid: str) -> None:
        with self.lock:
            if self.sessions.pop(sid, None) is None:
                raise W3CError("invalid session id", "A session is either terminated or not started")

    def command(self, method: str, sid: str, eid: str | None, rest: str, body: dict[str, Any]) -> Any:
        with self.lock:
            session = self.sessions.get(sid)
        if session is None:
            raise W3CError("invalid session id", "A session is either terminated or not started")
        with session.lock:
            if rest.startswith("/timeouts"):
                return None if method == "POST" else {"implicit": 0, "pageLoad": 300000, "script": 30000}
            if self.cloud.device(session.udid) is None:
                raise W3CError("unknown error", HANGUP)
            result = _dispatch(self.cloud, session, method, eid, rest, body)
            if session.app.session_lost:
                with self.lock:
                    self.sessions.pop(sid, None)
            return result


def _capabilities(body: dict[str, Any]) -> dict[str, Any]:
    caps = body.get("capabilities") or {}
    merged = dict(caps.get("alwaysMatch") or {})
    first = caps.get("firstMatch") or [{}]
    merged.update(first[0] if first else {})
    return merged


def _dispatch(
    cloud: Cloud, session: Session, method: str, eid: str | None, rest: str, body: dict[str, Any]
) -> Any:
    app = session.app
    nodes = app.nodes()
    if eid is None:
        if method == "POST" and rest in ("/element", "/elements"):
            return _find(nodes, app.generation, body, many=rest == "/elements")
        if method == "GET" and rest == "/source":
            return screen.page_source(nodes)
        if method == "GET" and rest == "/screenshot":
            return screen.tiny_png_base64()
        if method == "POST" and rest == "/back":
            app.back()
            return None
        if method == "POST" and rest == "/appium/device/press_keycode":
            _press(app, body.get("keycode"))
            return None
        if method == "POST" and rest == "/execute/sync":
            return _execute(app, str(body.get("script", "")), body.get("args") or [{}])
        if method == "POST" and rest == "/actions":
            return _actions(cloud, session, nodes, body)
        if method == "DELETE" and rest == "/actions":
            return None
        raise W3CError("unknown command", f"{method} {rest} is not supported by the simulated phone")
    node = _element(nodes, app.generation, eid)
    if method == "POST" and rest == "/click":
        _tap(cloud, session, node)
        return None
    if method == "POST" and rest in ("/value", "/clear"):
        text = "" if rest == "/clear" else str(body.get("text") or "".join(body.get("value") or []))
        if not app.type_text(node, text):
            raise W3CError("invalid element state", f"element {node.resource_id} does not take text")
        return None
    if method == "GET":
        return _read(node, rest)
    raise W3CError("unknown command", f"{method} element{rest} is not supported by the simulated phone")


def _tap(cloud: Cloud, session: Session, node: screen.Node) -> None:
    publish = session.app.tap(node)
    if publish is not None:
        status, _ = cloud.call(
            "POST",
            f"/_sim/devices/{session.phone_id}/publish",
            {"video": publish.video, "caption": publish.caption, "jobTag": session.job_tag},
        )
        if status != 200:
            raise W3CError("unknown error", f"{HANGUP} (publish answered {status})")


def _press(app: SimApp | InstagramApp, keycode: object) -> None:
    if keycode == 4:  # BACK; other keys change nothing in the simulated apps
        app.back()


def _execute(app: SimApp | InstagramApp, script: str, args: list[Any]) -> Any:
    """The `mobile:` commands the worker uses (UiAutomator2 names and argument shapes)."""
    params = args[0] if args and isinstance(args[0], dict) else {}
    if script == "mobile: terminateApp":
        return True
    if script in ("mobile: activateApp", "mobile: startActivity"):
        app.launch()
        return None
    if script == "mobile: pressKey":
        _press(app, params.get("keycode"))
        return None
    if script in ("mobile: scrollGesture", "mobile: swipeGesture"):
        return False  # nothing to scroll on the simulated screens
    raise W3CError("unknown command", f"{script} is not supported by the simulated phone")


def _actions(cloud: Cloud, session: Session, nodes: list[screen.Node], body: dict[str, Any]) -> None:
    """W3C pointer actions: a tap at (x, y) taps the smallest clickable view under that point."""
    for source in body.get("actions") or []:
        x = y = None
        for action in source.get("actions") or []:
            if action.get("type") == "pointerMove":
                x, y = int(action.get("x", 0)), int(action.get("y", 0))
            elif action.get("type") == "pointerUp" and x is not None and y is not None:
                node = _node_at(nodes, x, y)
                if node is not None:
                    _tap(cloud, session, node)
    return None


def _node_at(nodes: list[screen.Node], x: int, y: int) -> screen.Node | None:
    hits = []
    for i, node in enumerate(nodes):
        x1, y1, x2, y2 = screen.bounds_of(node, i)
        if node.clickable and x1 <= x <= x2 and y1 <= y <= y2:
            hits.append(((x2 - x1) * (y2 - y1), i, node))
    return min(hits)[2] if hits else None


def _read(node: screen.Node, rest: str) -> Any:
    if rest == "/text":
        return node.text
    if rest in ("/displayed", "/enabled"):
        return True
    if rest == "/selected":
        return False
    if rest == "/name":
        return node.cls
    if rest.startswith("/attribute/"):
        name = rest.removeprefix("/attribute/")
        values = {
            "text": node.text,
            "resource-id": node.resource_id,
            "content-desc": node.desc,
            "class": node.cls,
            "clickable": str(node.clickable).lower(),
            "displayed": "true",
        }
        return values.get(name)
    raise W3CError("unknown command", f"GET element{rest} is not supported by the simulated phone")


def _find(nodes: list[screen.Node], generation: int, body: dict[str, Any], many: bool) -> Any:
    using, value = str(body.get("using", "")), str(body.get("value", ""))
    try:
        hits = screen.find(nodes, using, value)
    except screen.InvalidSelector as exc:
        raise W3CError("invalid selector", str(exc)) from exc
    refs = [{ELEMENT_KEY: f"{generation}.{i}"} for i in hits]
    if many:
        return refs
    if not refs:
        raise W3CError("no such element", f"An element could not be located using {using}={value!r}")
    return refs[0]


def _element(nodes: list[screen.Node], generation: int, eid: str) -> screen.Node:
    gen, _, index = eid.partition(".")
    if not gen.isdigit() or not index.isdigit() or int(gen) != generation or int(index) >= len(nodes):
        raise W3CError("stale element reference", f"The element {eid} is no longer on the screen")
    return nodes[int(index)]


class Handler(BaseHTTPRequestHandler):
    server: SimDeviceServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            self._reply(200, {"value": self._route(method, self.path.split("?", 1)[0].rstrip("/"))})
        except W3CError as exc:
            self._reply(
                _STATUS.get(exc.error, 500),
                {"value": {"error": exc.error, "message": exc.message, "stacktrace": ""}},
            )

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}") if length else {}
        except ValueError as exc:
            raise W3CError("invalid argument", f"body is not JSON: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _route(self, method: str, path: str) -> Any:
        device = self.server.device
        if path == "/status" and method == "GET":
            return {"ready": True, "message": "simulated phone server ready", "build": {"version": "sim"}}
        if path == "/session" and method == "POST":
            return device.new_session(self._body())
        match = _ROUTE.match(path)
        if match is None:
            raise W3CError("unknown command", f"{method} {path} is not a WebDriver command")
        sid, eid, rest = match["sid"], match["eid"], match["rest"] or ""
        if method == "DELETE" and not eid and not rest:
            device.delete_session(sid)
            return None
        return device.command(method, sid, eid, rest, self._body() if method == "POST" else {})

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SimDeviceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, cloud_url: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.device = SimDevice(cloud_url)
