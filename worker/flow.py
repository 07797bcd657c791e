"""A posting app's flow as data: one JSON file per app, loaded and validated here.

A flow file lists the steps to post one video (tap / type / wait, each with a selector and a
timeout), marks exactly one step as the irreversible publish tap (the engine records the queue
checkpoint right before it), says what success looks like on screen (it must be seen: a timeout is
not a success), which texts after the publish mean the post failed, and which screen texts mean an
account problem (checked at every step). `worker/flows/default.json` drives the simulated app and
an Appium fake-driver XML app with the same ids; copy and adjust it when a real app's UI changes.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.errors import FlowFileError

STRATEGIES = frozenset({"id", "xpath", "accessibility id", "-android uiautomator", "class name"})
ACTIONS = frozenset({"tap", "type", "wait"})
VARIABLES = frozenset({"caption", "video_name", "account", "job_id"})
DEFAULT_STEP_TIMEOUT_S = 20.0
DEFAULT_SUCCESS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Selector:
    """How to find one element: an Appium strategy and its value (may hold {variables})."""

    by: str
    value: str

    def render(self, variables: dict[str, str]) -> Selector:
        return Selector(self.by, self.value.format_map(variables))

    def __str__(self) -> str:
        return f"{self.by}={self.value}"


@dataclass(frozen=True)
class Step:
    """One step: wait for `target`, then tap it, type `text` into it, or only wait for it."""

    name: str
    action: str
    target: Selector
    timeout_s: float
    text: str = ""
    publish: bool = False
    verify_text: bool = True


@dataclass(frozen=True)
class Flow:
    """A validated flow; `steps[-1]` is the publish step."""

    name: str
    source: str
    steps: tuple[Step, ...]
    success: tuple[Selector, ...]
    success_timeout_s: float
    failure_texts: tuple[str, ...]
    account_problems: tuple[tuple[str, tuple[str, ...]], ...]  # (error_type, lower-case texts)
    app_package: str = ""
    app_activity: str = ""

    def account_problem_in(self, page_source: str) -> tuple[str, str] | None:
        """(error_type, matched text) if the screen shows an account problem, else None."""
        screen = page_source.lower()
        for error_type, texts in self.account_problems:
            for text in texts:
                if text in screen:
                    return error_type, text
        return None

    def failure_in(self, page_source: str) -> str | None:
        """The failure text the screen shows after the publish tap, if any."""
        screen = page_source.lower()
        return next((t for t in self.failure_texts if t in screen), None)


def default_flow_path() -> Path:
    """The flow shipped for the posting app (and the simulated phone)."""
    return Path(__file__).resolve().parent / "flows" / "default.json"


def load_flow(path: Path | None = None) -> Flow:
    """Read and validate a flow file (default: the shipped one). Raises FlowFileError."""
    path = path or default_flow_path()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowFileError(str(path), "file", f"cannot be read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise FlowFileError(str(path), f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from exc
    return parse_flow(data, str(path))


def parse_flow(data: Any, source: str = "<flow>") -> Flow:
    """Validate a parsed flow document. Raises FlowFileError naming where it is wrong."""
    check = _Checker(source)
    doc = check.mapping(data, "top level")
    default_timeout = check.positive(doc.get("step_timeout_s", DEFAULT_STEP_TIMEOUT_S), "step_timeout_s")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise FlowFileError(source, "steps", "must be a non-empty list")
    steps = tuple(check.step(raw, i, default_timeout) for i, raw in enumerate(raw_steps))
    publish = [s for s in steps if s.publish]
    if len(publish) != 1 or not steps[-1].publish:
        raise FlowFileError(source, "steps", 'exactly one step, the last, must have "publish": true')
    if steps[-1].action != "tap":
        raise FlowFileError(source, f"steps[{len(steps) - 1}]", "the publish step must be a tap")
    success = check.mapping(doc.get("success"), "success")
    targets = success.get("any_of")
    if not isinstance(targets, list) or not targets:
        raise FlowFileError(source, "success.any_of", "must list at least one selector that proves success")
    problems = check.mapping(doc.get("account_problems"), "account_problems")
    if not problems:
        raise FlowFileError(source, "account_problems", "must name at least one account problem")
    return Flow(
        name=str(doc.get("name", Path(source).stem)),
        source=source,
        steps=steps,
        success=tuple(check.selector(t, f"success.any_of[{i}]") for i, t in enumerate(targets)),
        success_timeout_s=check.positive(
            success.get("timeout_s", DEFAULT_SUCCESS_TIMEOUT_S), "success.timeout_s"
        ),
        failure_texts=check.texts(doc.get("failure_texts", []), "failure_texts"),
        account_problems=tuple(
            (str(kind), check.texts(texts, f"account_problems.{kind}", non_empty=True))
            for kind, texts in problems.items()
        ),
        app_package=str(doc.get("app_package", "")),
        app_activity=str(doc.get("app_activity", "")),
    )


class _Checker:
    """Field validators that raise FlowFileError with the file and the place."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, reason: str) -> FlowFileError:
        return FlowFileError(self.source, where, reason)

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        return value

    def positive(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(where, f"must be a positive number of seconds, not {value!r}")
        return float(value)

    def template(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must be a non-empty string")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise self.fail(where, f"bad {{placeholder}}: {exc}") from exc
        unknown = fields - VARIABLES
        if unknown:
            raise self.fail(where, f"unknown placeholder(s) {sorted(unknown)}; known: {sorted(VARIABLES)}")
        return value

    def selector(self, value: Any, where: str) -> Selector:
        doc = self.mapping(value, where)
        by = doc.get("by")
        if by not in STRATEGIES:
            raise self.fail(f"{where}.by", f"{by!r} is not one of {sorted(STRATEGIES)}")
        return Selector(str(by), self.template(doc.get("value"), f"{where}.value"))

    def texts(self, value: Any, where: str, non_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
            raise self.fail(where, "must be a list of non-empty strings")
        if non_empty and not value:
            raise self.fail(where, "must not be empty")
        return tuple(t.strip().lower() for t in value)

    def step(self, value: Any, index: int, default_timeout: float) -> Step:
        where = f"steps[{index}]"
        doc = self.mapping(value, where)
        action = doc.get("action")
        if action not in ACTIONS:
            raise self.fail(f"{where}.action", f"{action!r} is not one of {sorted(ACTIONS)}")
        text = self.template(doc.get("text"), f"{where}.text") if action == "type" else ""
        return Step(
            name=str(doc.get("name") or f"step_{index}"),
            action=str(action),
            target=self.selector(doc.get("target"), f"{where}.target"),
            timeout_s=self.positive(doc.get("timeout_s", default_timeout), f"{where}.timeout_s"),
            text=text,
            publish=bool(doc.get("publish", False)),
            verify_text=bool(doc.get("verify_text", True)),
        )
