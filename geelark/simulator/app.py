"""Request dispatch of the simulator: a :class:`Request` in, a :class:`Response` out.

Order for ``POST /open/v1/...``: injected transport fault (502/524/drop/slow) -> auth
(40002/40003) -> quotas (40014 lock, 40014 hourly, 40007 per minute) -> injected API fault
(50000/40007/40014) -> body (40001) -> handler. Some transport faults strike after the handler
ran (``after_effect``), which is what makes a failed start/stop/upload ambiguous for a client.
``/_sim/...`` is the unauthenticated inspection and device API; ``PUT /_upload/<token>`` is the
upload target handed out by ``/upload/getUrl``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geelark.auth import new_trace_id, verify_bearer, verify_key_headers
from geelark.simulator.api import HANDLERS
from geelark.simulator.cloud import Cloud
from geelark.simulator.faults import parse_faults
from geelark.simulator.quota import Refusal
from geelark.simulator.taskapi import Delayed
from geelark.status import Code, message_for

log = logging.getLogger(__name__)

_DEVICE = re.compile(r"^/_sim/devices/(?P<ip>[0-9.]+):(?P<port>\d+)$")
_SHELL = re.compile(r"^/_sim/devices/(?P<ip>[0-9.]+):(?P<port>\d+)/shell$")
_SESSION = re.compile(r"^/_sim/devices/(?P<id>\d+)/(?P<what>session|publish)$")
_KILL = re.compile(r"^/_sim/phones/(?P<id>\d+)/kill$")
_UPLOAD = re.compile(r"^/_upload/(?P<token>[0-9a-f]+\.[a-z0-9]+)$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    drop: bool = False  # close the connection without answering
    delay_s: float = 0.0  # real seconds to wait before answering
    extra: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"))


def envelope(trace_id: str, code: int, data: Any = None, msg: str | None = None) -> Response:
    text = msg if msg is not None else message_for(code)
    return json_response({"traceId": trace_id, "code": int(code), "msg": text, "data": data})


def transport_fault(kind: str) -> Response | None:
    """The bare HTTP answer of an injected transport fault."""
    if kind == "http_502":
        body = {"message": "An invalid response was received from the upstream server"}
        return json_response(body, 502)
    if kind == "http_524":
        return Response(524, b"", content_type="text/plain")
    if kind == "drop":
        return Response(drop=True)
    return None


class App:
    """The simulator's routing over one :class:`Cloud`."""

    def __init__(self, cloud: Cloud, base_url: str = "") -> None:
        self.cloud = cloud
        self.base_url = base_url

    def handle(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self.sim_route(request.method, path, request.body)
        if path.startswith("/_upload/") and request.method == "PUT":
            return self.put_upload(path, request.body)
        if path.startswith("/open/") and request.method == "POST":
            return self.api_call(path, request)
        return json_response({"error": f"no route for {request.method} {path}"}, 404)

    # -- /open/v1 ------------------------------------------------------------------------
    def api_call(self, path: str, request: Request) -> Response:
        cloud = self.cloud
        with cloud.lock:
            cloud.calls[path] += 1
            fault = cloud.draw_api_fault(path)
            after = (
                fault in ("http_502", "http_524", "drop")
                and cloud.rng.random() < cloud.faults.api.after_effect
            )
            slow_s = cloud.faults.api.slow_s
        if fault is not None and fault != "slow" and not after and (early := transport_fault(fault)):
            return early
        response = self.authorized_call(path, request, fault)
        if fault == "slow":
            return Response(response.status, response.body, response.content_type, delay_s=slow_s)
        if after and fault is not None and (late := transport_fault(fault)):
            return late
        return response

    def authorized_call(self, path: str, request: Request, fault: str | None) -> Response:
        headers = request.headers
        trace_id = headers.get("traceId") or ""
        reply_trace = trace_id or new_trace_id()
        if not trace_id:
            return envelope(reply_trace, Code.NO_TRACE_ID)
        config = self.cloud.config
        authorization = headers.get("Authorization")
        if authorization is not None:
            authentic = verify_bearer(authorization, config.token)
        else:
            authentic = verify_key_headers(headers, config.app_id, config.api_key)
        if not authentic:
            return envelope(reply_trace, Code.AUTH_FAILED)
        handler = HANDLERS.get(path)
        try:
            with self.cloud.lock:
                self.cloud.admit(path)
                if fault == "server_error":
                    raise Refusal(Code.SERVER_ERROR)
                if fault == "rate_limit":
                    raise Refusal(Code.RATE_LIMITED)
                if fault == "hour_lock":
                    raise Refusal(Code.HOURLY_LOCK)
                if handler is None:
                    raise Refusal(Code.NOT_EXIST)
                body = self.parse_body(request.body)
                data = handler(self.cloud, body, self.base_url)
        except Refusal as refusal:
            return envelope(reply_trace, refusal.code, refusal.data, msg=refusal.msg)
        if isinstance(data, Delayed):
            answer = envelope(reply_trace, Code.OK, data.data)
            return Response(answer.status, answer.body, answer.content_type, delay_s=data.delay_s)
        return envelope(reply_trace, Code.OK, data)

    @staticmethod
    def parse_body(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Refusal(Code.BAD_BODY) from exc
        if not isinstance(body, dict):
            raise Refusal(Code.BAD_BODY)
        return body

    def put_upload(self, path: str, body: bytes) -> Response:
        match = _UPLOAD.match(path)
        with self.cloud.lock:
            if match is None or not self.cloud.storage.put(match["token"], len(body), self.cloud.now()):
                return Response(403, b"", content_type="text/plain")
        return Response(200, b"", content_type="text/plain")

    # -- /_sim/ --------------------------------------------------------------------------
    def sim_route(self, method: str, path: str, raw: bytes) -> Response:
        cloud = self.cloud
        with cloud.lock:
            if method == "GET" and path == "/_sim/state":
                return json_response(cloud.state())
            if method == "GET" and (m := _DEVICE.match(path)):
                phone = cloud.device_at(m["ip"], int(m["port"]))
                if phone is None:
                    return json_response({"error": "no running, ADB-enabled phone at that address"}, 404)
                return json_response(
                    {
                        "phoneId": phone.id,
                        "serialName": phone.serial_name,
                        "status": int(phone.status),
                        "files": list(phone.files),
                    }
                )
            if method == "POST" and (m := _SHELL.match(path)):
                phone = cloud.device_at(m["ip"], int(m["port"]))
                if phone is None:
                    return json_response({"error": "no running, ADB-enabled phone at that address"}, 404)
                try:
                    command = str(json.loads(raw.decode("utf-8") or "{}").get("command", ""))
                except (ValueError, AttributeError):
                    return json_response({"error": "body must be JSON with a command"}, 400)
                return json_response({"output": cloud.shell(phone, command)})
            if method == "POST" and path == "/_sim/faults":
                return self.replace_faults(raw)
            if method == "POST" and (m := _SESSION.match(path)):
                return self.device_call(m["id"], m["what"], raw)
            if method == "POST" and (m := _KILL.match(path)):
                if m["id"] not in cloud.phones:
                    return json_response({"error": "unknown phone"}, 404)
                cloud.kill(m["id"])
                return json_response(cloud.phones[m["id"]].to_state(cloud.now(), cloud.config.adb_ip))
        return json_response({"error": f"no route for {method} {path}"}, 404)

    def replace_faults(self, raw: bytes) -> Response:
        try:
            faults = parse_faults(json.loads(raw.decode("utf-8") or "{}"))
        except (ValueError, TypeError, AttributeError) as exc:
            return json_response({"error": str(exc)}, 400)
        with self.cloud.lock:
            self.cloud.faults = faults
            self.cloud.bursts.clear()
        return json_response(faults.to_json())

    def device_call(self, phone_id: str, what: str, raw: bytes) -> Response:
        cloud = self.cloud
        if phone_id not in cloud.phones:
            return json_response({"error": "unknown phone"}, 404)
        cloud.phones[phone_id].last_active_at = cloud.clock.now()  # the phone is being used
        if what == "session":
            return json_response(cloud.draw_session(phone_id))
        cloud.now()
        if not cloud.phones[phone_id].accepts_work:
            return json_response({"error": "phone is not running"}, 409)
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return json_response({"error": "body must be JSON"}, 400)
        return json_response(cloud.publish(phone_id, body if isinstance(body, dict) else {}))
