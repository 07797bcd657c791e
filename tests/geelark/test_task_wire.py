"""The simulator's task endpoints speak GeeLark's wire protocol: envelope, auth, documented
limits and codes, batch envelopes of /task/cancel, and the /_sim/state task fields."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from geelark.auth import bearer_headers
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import TOKEN, FakeClock


def api(sim: SimulatorServer, path: str, body: Any, token: str = TOKEN) -> Any:
    reply = requests.post(f"{sim.url}/open/v1{path}", json=body, headers=bearer_headers(token), timeout=5)
    assert reply.status_code == 200
    return reply.json()


def tiktok(phone_id: str, **item: Any) -> dict[str, Any]:
    entry = {"scheduleAt": 1, "envId": phone_id, "video": "https://x/v.mp4", **item}
    return {"planName": "plan", "taskType": 1, "list": [entry]}


def reels(phone_id: str, **fields: Any) -> dict[str, Any]:
    return {"scheduleAt": 1, "id": phone_id, "description": "d", "video": ["https://x/v.mp4"], **fields}


def test_task_endpoints_need_auth(sim_clocked: SimulatorServer) -> None:
    phone_id = sim_clocked.phone_id("phone-01")
    assert api(sim_clocked, "/task/add", tiktok(phone_id), token="wrong")["code"] == 40003
    assert sim_clocked.state()["tasks"] == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"taskType": 2}, 40004),
        ({"list": []}, 40004),
        ({"item": {"maxTryTimes": 4}}, 40004),
        ({"item": {"timeoutMin": 29}}, 40004),
        ({"item": {"videoDesc": "x" * 4001}}, 40004),
        ({"item": {"video": ""}}, 40004),
        ({"item": {"scheduleAt": "soon"}}, 40004),
        ({"item": {"envId": "1"}}, 42001),
        ({}, 0),
    ],
)
def test_task_add_checks_its_documented_limits(
    sim_clocked: SimulatorServer, change: dict[str, Any], code: int
) -> None:
    body = tiktok(sim_clocked.phone_id("phone-01"), **change.pop("item", {}))
    body.update(change)
    reply = api(sim_clocked, "/task/add", body)
    assert reply["code"] == code
    assert len(sim_clocked.state()["tasks"]) == (1 if code == 0 else 0)
    if code == 0:
        assert isinstance(reply["data"]["taskIds"][0], str) and len(reply["data"]["taskIds"][0]) == 18


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": "n" * 129}, 40004),
        ({"description": "x" * 2201}, 40004),
        ({"video": [f"https://x/{i}.mp4" for i in range(11)]}, 40004),
        ({"video": []}, 40004),
        ({"id": "1"}, 42001),
        ({"name": "n" * 128}, 0),
    ],
)
def test_instagram_reels_checks_its_documented_limits(
    sim_clocked: SimulatorServer, change: dict[str, Any], code: int
) -> None:
    reply = api(sim_clocked, "/rpa/task/instagramPubReels", reels(sim_clocked.phone_id("phone-01"), **change))
    assert reply["code"] == code
    if code == 0:
        assert set(reply["data"]) == {"taskId"}


def test_an_expired_phone_takes_no_task(make_sim: Any, clock: FakeClock) -> None:
    sim = make_sim(real_clock=clock, expired=("phone-05",))
    assert api(sim, "/task/add", tiktok(sim.phone_id("phone-05")))["code"] == 43004
    assert sim.state()["taskCredits"] == 10_000


def test_query_answers_documented_fields_and_skips_unknown_ids(sim_clocked: SimulatorServer) -> None:
    phone_id = sim_clocked.phone_id("phone-01")
    task_id = api(sim_clocked, "/task/add", tiktok(phone_id))["data"]["taskIds"][0]
    data = api(sim_clocked, "/task/query", {"ids": [task_id, "404"]})["data"]
    assert data["total"] == 1
    [item] = data["items"]
    assert set(item) >= {"id", "planName", "taskType", "serialName", "envId", "scheduleAt", "status", "cost"}
    assert (item["status"], item["envId"], item["serialName"]) == (1, phone_id, "phone-01")
    assert api(sim_clocked, "/task/query", {"ids": []})["code"] == 40004
    assert api(sim_clocked, "/task/detail", {"id": "404"})["code"] == 48002


def test_cancel_answers_40006_for_a_partial_success(sim_clocked: SimulatorServer) -> None:
    task_id = api(sim_clocked, "/task/add", tiktok(sim_clocked.phone_id("phone-01")))["data"]["taskIds"][0]
    reply = api(sim_clocked, "/task/cancel", {"ids": [task_id, "404"]})
    assert reply["code"] == 40006
    assert reply["data"]["failDetails"] == [{"id": "404", "code": 48002, "msg": "task does not exist"}]
    reply = api(sim_clocked, "/task/cancel", {"ids": [task_id]})
    assert reply["code"] == 40009 and reply["data"]["failDetails"][0]["code"] == 48001


def test_sim_state_shows_tasks_credits_and_the_busy_phone(
    sim_clocked: SimulatorServer, clock: FakeClock
) -> None:
    phone_id = sim_clocked.phone_id("phone-01")
    api(sim_clocked, "/phone/start", {"ids": [phone_id]})
    clock.advance(30)
    body = tiktok(phone_id)
    body["planName"] = "po:job-7"
    task_id = api(sim_clocked, "/task/add", body)["data"]["taskIds"][0]
    state = sim_clocked.state()
    [task] = state["tasks"]
    # running; its video was never uploaded, so this run is set to fail (20200) when it ends
    expected = (task_id, "job-7", 2, 1, "fail")
    assert (task["id"], task["jobTag"], task["status"], task["runs"], task["plan"]) == expected
    assert state["taskCredits"] == 9_999
    phone = next(p for p in state["phones"] if p["id"] == phone_id)
    assert phone["task"] == task_id
    listed = api(sim_clocked, "/phone/list", {"page": 1, "pageSize": 10, "ids": [phone_id]})["data"]["items"]
    assert listed[0]["rpaStatus"] == 1
