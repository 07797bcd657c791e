"""Flow files: the shipped flows are valid; a bad flow file is a clear error naming the place."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from worker.errors import FlowFileError
from worker.flow import (
    APP_FLOWS,
    FLOWS_DIR,
    FlowBook,
    default_flow_path,
    flow_path_for,
    load_flow,
    parse_flow,
)
from worker.screen import Element, Screen


def default_doc() -> dict[str, Any]:
    return json.loads(default_flow_path().read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(APP_FLOWS.values()))
def test_every_shipped_flow_loads_and_ends_with_the_publish_tap(name: str) -> None:
    flow = load_flow(FLOWS_DIR / name)
    assert flow.steps[-1].publish and flow.steps[-1].action == "tap"
    assert sum(s.publish for s in flow.steps) == 1
    assert flow.account_problems


def test_each_app_has_its_flow_and_the_book_picks_per_account(tmp_path: Path) -> None:
    assert flow_path_for("Instagram").name == "instagram_reels.json"
    assert flow_path_for("tiktok").name == "tiktok.json"
    with pytest.raises(FlowFileError, match="no shipped flow"):
        flow_path_for("myspace")
    apps = {"a": "instagram", "b": "tiktok"}
    book = FlowBook(lambda account: apps.get(account, "instagram"))
    assert book.for_account("a").app_package == "com.instagram.android"
    assert book.for_account("b").app_package == "com.zhiliaoapp.musically"
    assert book.for_account("a") is book.for_account("a")  # loaded once
    custom = FlowBook(lambda account: "tiktok", default_flow_path())
    assert custom.for_account("b").name == "default"


def test_account_problem_texts_are_found_case_insensitively_where_the_flow_says() -> None:
    flow = load_flow()
    notice = Screen((Element("com.example.poster:id/problem_text", "We SUSPENDED your account"),))
    assert flow.account_problem(notice) == ("suspended", "We SUSPENDED your account")
    elsewhere = Screen((Element("com.example.poster:id/feed_title", "we suspended your account"),))
    assert flow.account_problem(elsewhere) is None


def test_placeholders_are_rendered_into_selectors() -> None:
    flow = load_flow()
    pick = next(s for s in flow.steps if s.name == "pick_video")
    assert pick.target is not None
    assert ("text", "a.mp4") in pick.target.render({"video_name": "a.mp4"}).keys


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(default_doc())
    change(doc)
    return doc


BROKEN = {
    "no format": (lambda d: d.pop("format"), "format"),
    "no steps": (lambda d: d.pop("steps"), "steps"),
    "two actions": (lambda d: d["steps"][0].update(back=True), "steps[0]"),
    "unknown selector key": (lambda d: d["steps"][1]["tap"].update(css="x"), "steps[1].tap"),
    "unknown placeholder": (lambda d: d["steps"][3].update(text="{captoin}"), "steps[3].text"),
    "no publish step": (lambda d: d["steps"][-1].pop("publish"), "publish"),
    "publish not last": (lambda d: d["steps"][0].update(publish=True), "publish"),
    "publish retried": (lambda d: d["steps"][-1].update(retries=1), "steps[4]"),
    "negative timeout": (lambda d: d["steps"][0].update(timeout_s=-1), "steps[0].timeout_s"),
    "no outcome": (lambda d: d.pop("outcome"), "outcome"),
    "no posted screen": (lambda d: d["outcome"].pop("posted"), "outcome.posted"),
    "problem without place": (lambda d: d["account_problems"][0].pop("where"), "account_problems[0].where"),
    "empty problem texts": (lambda d: d["account_problems"][0].update(texts=[]), "account_problems[0].texts"),
    "type without text": (lambda d: d["steps"][3].pop("text"), "steps[3].text"),
    "handler without action": (
        lambda d: d["handlers"].append({"when": {"id": "x"}}),
        "handlers[0]",
    ),
    "restart after publish": (
        lambda d: d["handlers"].append({"when": {"id": "x"}, "restart": True, "after_publish": True}),
        "handlers[0].after_publish",
    ),
    "bad key name": (lambda d: d["steps"].insert(0, {"press_key": "JUMP"}), "steps[0].press_key"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_flow_is_a_clear_error(case: str, tmp_path: Path) -> None:
    change, where = BROKEN[case]
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(_broken(change)), encoding="utf-8")
    with pytest.raises(FlowFileError) as info:
        load_flow(path)
    assert str(path) in str(info.value)
    assert where in str(info.value)


def test_a_first_format_flow_is_told_to_be_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    old = {"steps": [{"action": "tap", "target": {"by": "id", "value": "x"}, "publish": True}]}
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(FlowFileError, match="first-format flow"):
        load_flow(path)


def test_flow_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text('{\n "steps": [\n', encoding="utf-8")
    with pytest.raises(FlowFileError, match="line"):
        load_flow(path)


def test_missing_flow_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match="cannot be read"):
        load_flow(tmp_path / "nope.json")


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(FlowFileError, match="top level"):
        parse_flow([1, 2], "x.json")
