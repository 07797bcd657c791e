"""The simulator speaks GeeLark's wire protocol: envelope, auth errors, documented limits,
and the unauthenticated /_sim/ routes of docs/design.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from geelark.auth import bearer_headers, key_headers
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import API_KEY, APP_ID, TOKEN, FakeClock, sim_get, sim_post


def api(sim: SimulatorServer, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    hdrs = headers if headers is not None else bearer_headers(TOKEN)
    response = requests.post(
        f"{sim.url}/open/v1{path}", json={} if body is None else body, headers=hdrs, timeout=5
    )
    assert response.status_code == 200
    return response.json()


def test_envelope_has_trace_code_msg_data_and_echoes_the_trace_id(sim_clocked: SimulatorServer) -> None:
    headers = key_headers(APP_ID, API_KEY)
    reply = api(sim_clocked, "/phone/list", {"page": 1, "pageSize": 10}, headers)
    assert set(reply) == {"traceId", "code", "msg", "data"}
    assert reply["traceId"] == headers["traceId"]
    assert reply["code"] == 0
    assert all(isinstance(item["id"], str) and len(item["id"]) == 18 for item in reply["data"]["items"])


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 40002),
        ({"traceId": "ABCDEF0123", "Authorization": "Bearer wrong"}, 40003),
        ({**key_headers(APP_ID, "wrong-key")}, 40003),
        ({**key_headers("other-app", API_KEY)}, 40003),
    ],
)
def test_auth_failures_answer_200_with_an_error_code(
    sim_clocked: SimulatorServer, headers: dict[str, str], code: int
) -> None:
    assert api(sim_clocked, "/auth/status", {}, headers)["code"] == code


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/phone/list", {"page": 0, "pageSize": 10}, 40008),
        ("/phone/list", {"page": 1, "pageSize": 101}, 40008),
        ("/phone/status", {"ids": [str(i) for i in range(101)]}, 40004),
        ("/phone/start", {"ids": [str(i) for i in range(201)]}, 40004),
        ("/phone/status", {}, 40004),
        ("/upload/getUrl", {"fileType": "exe"}, 40004),
        ("/no/such/endpoint", {}, 40005),
    ],
)
def test_documented_limits_are_enforced(
    sim_clocked: SimulatorServer, path: str, body: Any, code: int
) -> None:
    assert api(sim_clocked, path, body)["code"] == code


def test_unreadable_body_is_40001(sim_clocked: SimulatorServer) -> None:
    response = requests.post(
        sim_clocked.url + "/open/v1/phone/list", data=b"{not json", headers=bearer_headers(TOKEN), timeout=5
    )
    assert response.json()["code"] == 40001


def test_start_and_stop_report_per_item_failures_under_code_0(sim_clocked: SimulatorServer) -> None:
    phone_id = sim_clocked.phone_id("phone-01")
    reply = api(sim_clocked, "/phone/start", {"ids": [phone_id, "123"]})
    assert reply["code"] == 0
    data = reply["data"]
    assert (data["totalAmount"], data["successAmount"], data["failAmount"]) == (2, 1, 1)
    assert data["failDetails"] == [{"code": 42001, "id": "123", "msg": "env not found"}]
    assert data["successDetails"][0]["chargingMethod"] == "Per-minute usage"
    stop = api(sim_clocked, "/phone/stop", {"ids": [phone_id, "123"]})["data"]
    assert stop["failDetails"][0]["code"] == 42001


def test_state_route_has_the_design_shape(sim_clocked: SimulatorServer, clock: FakeClock) -> None:
    phone_id = sim_clocked.phone_id("phone-01")
    api(sim_clocked, "/phone/start", {"ids": [phone_id]})
    clock.advance(30)
    api(sim_clocked, "/adb/setStatus", {"ids": [phone_id], "open": True})
    clock.advance(3)
    state = sim_get(sim_clocked, "/_sim/state").json()
    assert {"phones", "calls", "faults", "publishes", "balance"} <= set(state)
    phone = next(p for p in state["phones"] if p["id"] == phone_id)
    assert phone["serialName"] == "phone-01" and phone["status"] == 0 and phone["boots"] == 1
    assert phone["adb"] == {"ip": "127.0.0.1", "port": phone["adb"]["port"]}
    assert phone["billedMinutes"] == 1
    assert state["calls"]["/open/v1/phone/start"] == 1


def test_device_session_publish_and_kill_routes(sim_clocked: SimulatorServer, clock: FakeClock) -> None:
    phone_id = sim_clocked.phone_id("phone-02")
    assert sim_post(sim_clocked, f"/_sim/devices/{phone_id}/publish", {"video": "v"}).status_code == 409
    api(sim_clocked, "/phone/start", {"ids": [phone_id]})
    clock.advance(30)
    api(sim_clocked, "/adb/setStatus", {"ids": [phone_id], "open": True})
    clock.advance(3)
    item = api(sim_clocked, "/adb/getData", {"ids": [phone_id]})["data"]["items"][0]
    device = sim_get(sim_clocked, f"/_sim/devices/{item['ip']}:{item['port']}").json()
    assert device == {"phoneId": phone_id, "serialName": "phone-02", "status": 0, "files": []}
    assert sim_get(sim_clocked, "/_sim/devices/127.0.0.1:1").status_code == 404

    session = sim_post(sim_clocked, f"/_sim/devices/{phone_id}/session").json()
    assert session["scenario"] == "ok" and session["postDelayS"] >= 0

    body = {"video": "a.mp4", "caption": "hi", "jobTag": "job-1"}
    published = sim_post(sim_clocked, f"/_sim/devices/{phone_id}/publish", body).json()
    assert published["jobTag"] == "job-1" and published["serialName"] == "phone-02"
    assert sim_get(sim_clocked, "/_sim/state").json()["publishes"] == [published]

    assert sim_post(sim_clocked, f"/_sim/phones/{phone_id}/kill").json()["status"] == 2
    assert sim_get(sim_clocked, f"/_sim/devices/{item['ip']}:{item['port']}").status_code == 404
    assert sim_post(sim_clocked, f"/_sim/devices/{phone_id}/publish", body).status_code == 409
    assert sim_get(sim_clocked, "/_sim/state").json()["faults"]["phone_killed"] == 1


def test_faults_route_replaces_the_mix_and_rejects_unknown_settings(sim_clocked: SimulatorServer) -> None:
    phone_id = sim_clocked.phone_id("phone-03")
    reply = sim_post(sim_clocked, "/_sim/faults", {"scenarios": {"captcha": 1}})
    assert reply.status_code == 200 and reply.json()["scenarios"] == {"captcha": 1.0}
    assert sim_post(sim_clocked, f"/_sim/devices/{phone_id}/session").json()["scenario"] == "captcha"
    assert sim_post(sim_clocked, "/_sim/faults", {"api": {"nonsense": 1}}).status_code == 400
    assert sim_post(sim_clocked, "/_sim/faults", {"scenarios": {"explode": 1}}).status_code == 400
    assert sim_post(sim_clocked, "/_sim/faults", {"preset": "chaos"}).status_code == 400
    assert sim_get(sim_clocked, "/_sim/state").json()["scenarios"] == {"captcha": 1}


def test_per_phone_scenarios_override_the_global_mix(make_sim: Callable[..., SimulatorServer]) -> None:
    sim = make_sim(faults={"phones": {"phone-02": {"scenarios": {"banned": 1}}}})
    one, two = sim.phone_id("phone-01"), sim.phone_id("phone-02")
    assert sim_post(sim, f"/_sim/devices/{one}/session").json()["scenario"] == "ok"
    assert sim_post(sim, f"/_sim/devices/{two}/session").json()["scenario"] == "banned"


def test_realistic_mix_is_seeded_and_mostly_ok(make_sim: Callable[..., SimulatorServer]) -> None:
    draws = []
    for _ in range(2):
        sim = make_sim(faults={"preset": "realistic", "phone": {"phone_stopped": 0}}, seed=7)
        phone_id = sim.phone_id("phone-01")
        with requests.Session() as http:
            url = f"{sim.url}/_sim/devices/{phone_id}/session"
            draws.append([http.post(url, json={}, timeout=5).json()["scenario"] for _ in range(200)])
    assert draws[0] == draws[1]
    ok_share = sum(s in ("ok", "slow_post") for s in draws[0]) / 200
    assert 0.55 < ok_share < 0.85
    assert len(set(draws[0])) >= 5


def test_upload_put_target_accepts_only_handed_out_urls(sim_clocked: SimulatorServer) -> None:
    target = api(sim_clocked, "/upload/getUrl", {"fileType": "mp4"})["data"]
    assert requests.put(target["uploadUrl"], data=b"video", timeout=5).status_code == 200
    assert requests.put(sim_clocked.url + "/_upload/0000.mp4", data=b"x", timeout=5).status_code == 403
    assert target["resourceUrl"].endswith(".mp4")
