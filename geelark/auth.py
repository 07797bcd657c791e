"""Request signing for both GeeLark auth modes (geelark.md §2).

Key mode: headers ``appId traceId ts nonce sign`` with
``sign = UPPER(HEX(SHA256(appId + traceId + ts + nonce + apiKey)))``, ``nonce = traceId[:6]``,
``ts`` in milliseconds. Token mode: ``traceId`` and ``Authorization: Bearer <token>``.
Headers are computed afresh for every request.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping


def new_trace_id() -> str:
    """A fresh trace id: a v4 UUID as 32 upper-case hex characters (as the official CLI sends)."""
    return uuid.uuid4().hex.upper()


def sign(app_id: str, trace_id: str, ts: str, nonce: str, api_key: str) -> str:
    """The key-mode signature: upper-case hex SHA-256 of the plain concatenation."""
    return hashlib.sha256((app_id + trace_id + ts + nonce + api_key).encode("utf-8")).hexdigest().upper()


def key_headers(
    app_id: str, api_key: str, *, trace_id: str | None = None, ts_ms: int | None = None
) -> dict[str, str]:
    """Signed key-mode headers for one request."""
    trace = trace_id or new_trace_id()
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    nonce = trace[:6]
    return {
        "appId": app_id,
        "traceId": trace,
        "ts": ts,
        "nonce": nonce,
        "sign": sign(app_id, trace, ts, nonce, api_key),
    }


def bearer_headers(token: str, *, trace_id: str | None = None) -> dict[str, str]:
    """Token-mode headers for one request."""
    return {"traceId": trace_id or new_trace_id(), "Authorization": f"Bearer {token}"}


def verify_key_headers(headers: Mapping[str, str], app_id: str, api_key: str) -> bool:
    """Server side of key mode: the headers carry ``app_id`` and a valid signature."""
    trace = headers.get("traceId") or ""
    ts = headers.get("ts") or ""
    nonce = headers.get("nonce") or ""
    given = (headers.get("sign") or "").upper()
    if not (trace and ts and given) or headers.get("appId") != app_id or nonce != trace[:6]:
        return False
    return hmac.compare_digest(given, sign(app_id, trace, ts, nonce, api_key))


def verify_bearer(authorization: str, token: str) -> bool:
    """Server side of token mode."""
    return bool(token) and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())
