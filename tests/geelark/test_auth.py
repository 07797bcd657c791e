"""Signing: the worked example of GeeLark's docs, on the client side and the simulator side."""

from __future__ import annotations

import requests

from geelark.auth import bearer_headers, key_headers, sign, verify_bearer, verify_key_headers
from geelark.simulator import SimulatorConfig, SimulatorServer

DOC_APP_ID = "eH6gQR4oHr3FsZpI36La01IW"
DOC_API_KEY = "YjmFIUuq0oJgSDJ42fxLEb6R1qjjqf"
DOC_TRACE_ID = "db6094ab-3797-4186-84d5-b0b58eebad56"
DOC_TS = "1716972892166"
DOC_NONCE = "db6094"
DOC_SIGN = "6280C080AF7C3CCE168F15C913E3444A00A618CB0E16038EED9811D6E3366BDD"
DOC_HEADERS = {
    "appId": DOC_APP_ID,
    "traceId": DOC_TRACE_ID,
    "ts": DOC_TS,
    "nonce": DOC_NONCE,
    "sign": DOC_SIGN,
}


def test_sign_matches_the_docs_worked_example() -> None:
    assert sign(DOC_APP_ID, DOC_TRACE_ID, DOC_TS, DOC_NONCE, DOC_API_KEY) == DOC_SIGN


def test_key_headers_reproduce_the_docs_example() -> None:
    headers = key_headers(DOC_APP_ID, DOC_API_KEY, trace_id=DOC_TRACE_ID, ts_ms=int(DOC_TS))
    assert headers == DOC_HEADERS


def test_key_headers_are_fresh_per_request_with_nonce_from_trace_id() -> None:
    first, second = key_headers("app", "key"), key_headers("app", "key")
    assert first["traceId"] != second["traceId"]
    assert first["nonce"] == first["traceId"][:6]
    assert first["sign"] != second["sign"]
    assert first["ts"].isdigit() and len(first["ts"]) == 13


def test_server_side_verification_accepts_the_docs_example_and_rejects_tampering() -> None:
    assert verify_key_headers(DOC_HEADERS, DOC_APP_ID, DOC_API_KEY)
    assert not verify_key_headers({**DOC_HEADERS, "ts": "1716972892167"}, DOC_APP_ID, DOC_API_KEY)
    assert not verify_key_headers({**DOC_HEADERS, "nonce": "db6095"}, DOC_APP_ID, DOC_API_KEY)
    assert not verify_key_headers(DOC_HEADERS, DOC_APP_ID, "another-key")
    assert not verify_key_headers({**DOC_HEADERS, "appId": "other"}, DOC_APP_ID, DOC_API_KEY)


def test_bearer_headers_and_verification() -> None:
    headers = bearer_headers("tok")
    assert headers["Authorization"] == "Bearer tok" and headers["traceId"]
    assert verify_bearer("Bearer tok", "tok")
    assert not verify_bearer("Bearer other", "tok")
    assert not verify_bearer("Bearer ", "")


def test_simulator_accepts_the_docs_example_headers_verbatim() -> None:
    config = SimulatorConfig(app_id=DOC_APP_ID, api_key=DOC_API_KEY, phones=("a",))
    with SimulatorServer(config) as sim:
        ok = requests.post(sim.url + "/open/v1/auth/status", json={}, headers=DOC_HEADERS, timeout=5).json()
        bad = requests.post(
            sim.url + "/open/v1/auth/status", json={}, headers={**DOC_HEADERS, "sign": "0" * 64}, timeout=5
        ).json()
    assert ok["code"] == 0
    assert bad["code"] == 40003
