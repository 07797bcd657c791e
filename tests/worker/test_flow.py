"""Flow files: the shipped default is valid; a bad flow file is a clear error naming the place."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from worker.errors import FlowFileError
from worker.flow import default_flow_path, load_flow, parse_flow


def default_doc() -> dict[str, Any]:
    return json.loads(default_flow_path().read_text(encoding="utf-8"))


def test_default_flow_loads_and_ends_with_the_publish_tap() -> None:
    flow = load_flow()
    assert flow.steps[-1].publish and flow.steps[-1].action == "tap"
    assert sum(s.publish for s in flow.steps) == 1
    assert {"suspended", "banned", "captcha", "logged_out", "action_blocked", "verification"} <= {
        kind for kind, _ in flow.account_problems
    }


def test_account_problem_texts_are_found_case_insensitively() -> None:
    flow = load_flow()
    assert flow.account_problem_in("<x text='We SUSPENDED your account'/>") == (
        "suspended",
        "we suspended your account",
    )
    assert flow.account_problem_in("<x text='Home'/>") is None


def test_placeholders_are_rendered_into_selectors() -> None:
    flow = load_flow()
    pick = next(s for s in flow.steps if s.name == "pick_video")
    assert "a.mp4" in pick.target.render({"video_name": "a.mp4"}).value


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(default_doc())
    change(doc)
    return doc


BROKEN = {
    "no steps": (lambda d: d.pop("steps"), "steps"),
    "unknown action": (lambda d: d["steps"][0].update(action="swipe"), "steps[0].action"),
    "unknown strategy": (lambda d: d["steps"][1]["target"].update(by="css"), "steps[1].target.by"),
    "unknown placeholder": (lambda d: d["steps"][3].update(text="{captoin}"), "steps[3].text"),
    "no publish step": (lambda d: d["steps"][-1].pop("publish"), "publish"),
    "publish not last": (lambda d: d["steps"][0].update(publish=True), "publish"),
    "negative timeout": (lambda d: d["steps"][0].update(timeout_s=-1), "steps[0].timeout_s"),
    "no success": (lambda d: d.pop("success"), "success"),
    "empty success": (lambda d: d["success"].update(any_of=[]), "success.any_of"),
    "empty problem texts": (lambda d: d["account_problems"].update(captcha=[]), "account_problems.captcha"),
    "type without text": (lambda d: d["steps"][3].pop("text"), "steps[3].text"),
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
