"""A posting app's flow as data: one JSON file per app, loaded and validated here (pure).

A flow says how to post one video in one app:

- `app`: the package and launch activity; with `"launch": true` the engine force-stops the app and
  starts it fresh before the first step, so a job never starts on the screen the last one left.
- `steps`, in order; each does one thing: `tap`, `type` (clears the field, types, checks what
  landed), `wait` (for a selector), `back`, `press_key`, `scroll`, `launch`. A step may be
  `optional` (skipped when its target does not come, or when a later step's target is already on
  screen), may be `retries` times repeated when the screen did not move on, and has its own
  `timeout_s`. Exactly one step, the last, is the irreversible `publish` tap: the engine records
  the queue checkpoint right before it and never repeats it.
- `handlers`: interruptions ("Not now", "Dismiss", a rating prompt, the camera in another mode):
  when a handler's `when` selector is on screen it taps (that element or its own `tap` selector) or
  presses back, before each step and while waiting, at most `max_times` per job.
- `outcome`: the screens after the publish tap, told apart: `posted` (success), `uploading` (keep
  waiting, up to `upload_wait_s`), `post_failed`; nothing recognised within `confirm_timeout_s` is
  "not confirmed" (the job goes to review, never retried blindly).
- `account_problems`: each names WHERE its texts count (`where`, a selector for dialogs, banners or
  full-screen notices) and optionally where they never count (`not_on`: a screen with this is not
  a notice). Text typed into a field never counts. A caption or someone's post that says "action
  blocked" must not block an account.

Selectors are `worker.screen` selectors. Placeholders in texts and selectors: {caption}
{video_name} {account} {job_id}. `flow check` and `flow replay` (worker.flowtool) test a flow
against a screen or recorded sessions; README "Real phones" says how to adapt one.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.contract import APP_FLOWS, FLOWS_DIR
from worker.errors import FlowFileError
from worker.screen import Element, Screen, Selector, parse_selector

FORMAT = 2
ACTIONS = ("tap", "type", "wait", "back", "press_key", "scroll", "launch")
TARGETED = frozenset({"tap", "type", "wait"})
VARIABLES = frozenset({"caption", "video_name", "account", "job_id"})
KEYCODES = {"BACK": 4, "HOME": 3, "ENTER": 66, "DEL": 67, "ESCAPE": 111, "TAB": 61, "APP_SWITCH": 187}
DEFAULT_STEP_TIMEOUT_S = 20.0
DEFAULT_CONFIRM_TIMEOUT_S = 90.0
DEFAULT_UPLOAD_WAIT_S = 300.0
DEFAULT_RETRY_AFTER_S = 3.0
DEFAULT_HANDLER_TIMES = 3


@dataclass(frozen=True)
class Step:
    """One step. `target` is None for back/press_key/scroll/launch."""

    name: str
    action: str
    target: Selector | None = None
    text: str = ""  # type: what to type ({placeholders})
    key: int = 0  # press_key: Android keycode
    direction: str = ""  # scroll: up | down
    timeout_s: float = DEFAULT_STEP_TIMEOUT_S
    optional: bool = False
    retries: int = 0
    retry_after_s: float = DEFAULT_RETRY_AFTER_S
    publish: bool = False
    verify_text: bool = True


@dataclass(frozen=True)
class Handler:
    """An interruption: when `when` is on screen (and `unless` is not), tap (`tap`, default the
    matched element), press back or a key, or `restart` (launch the app, start from the first
    step; before the publish tap only). With `stuck_s` it fires only once the current step has
    waited that long (`when` may then be left out: any screen)."""

    name: str
    when: Selector | None
    action: str  # tap | back | press_key | restart
    tap: Selector | None = None
    key: int = 0
    max_times: int = DEFAULT_HANDLER_TIMES
    after_publish: bool = True  # may it fire after the publish tap too
    unless: Selector | None = None
    stuck_s: float = 0.0


@dataclass(frozen=True)
class Outcome:
    posted: Selector
    uploading: Selector | None = None
    post_failed: Selector | None = None
    confirm_timeout_s: float = DEFAULT_CONFIRM_TIMEOUT_S
    upload_wait_s: float = DEFAULT_UPLOAD_WAIT_S


@dataclass(frozen=True)
class AccountProblemRule:
    """`texts` (lower case) count only in elements matching `where`, never in typed text, and not
    at all on a screen with `not_on`. `match` is "contains" or "starts"."""

    kind: str
    texts: tuple[str, ...]
    where: Selector = field(default_factory=Selector)
    not_on: Selector | None = None
    match: str = "contains"

    def found(self, screen: Screen, package: str) -> tuple[str, Element] | None:
        if self.not_on is not None and self.not_on.find(screen, package) is not None:
            return None
        for element in self.where.find_all(screen, package):
            if element.editable:
                continue
            for shown in (element.text, element.desc):
                low = shown.lower()
                for text in self.texts:
                    if low.startswith(text) if self.match == "starts" else text in low:
                        return text, element
        return None


@dataclass(frozen=True)
class Flow:
    """A validated flow; `steps[-1]` is the publish step."""

    name: str
    source: str
    steps: tuple[Step, ...]
    outcome: Outcome
    account_problems: tuple[AccountProblemRule, ...]
    handlers: tuple[Handler, ...] = ()
    app_package: str = ""
    app_activity: str = ""
    wait_activity: str = ""
    launch: bool = False
    about: str = ""

    def account_problem(self, screen: Screen) -> tuple[str, str] | None:
        """(kind, the text shown) if the screen shows an account problem where the flow says."""
        for rule in self.account_problems:
            hit = rule.found(screen, self.app_package)
            if hit is not None:
                return rule.kind, (hit[1].text or hit[1].desc)
        return None

    def classify(self, screen: Screen) -> str:
        """posted | uploading | post_failed | account_problem | none (posted wins: a finished
        post is what matters; a stale "can't be posted" row beside an upload is still uploading)."""
        if self.account_problem(screen) is not None:
            return "account_problem"
        pkg = self.app_package
        if self.outcome.posted.find(screen, pkg) is not None:
            return "posted"
        if self.outcome.uploading is not None and self.outcome.uploading.find(screen, pkg) is not None:
            return "uploading"
        if self.outcome.post_failed is not None and self.outcome.post_failed.find(screen, pkg) is not None:
            return "post_failed"
        return "none"


def default_flow_path() -> Path:
    """The flow of the simulator's example app (tests, --simulate with the example app)."""
    return FLOWS_DIR / "default.json"


def flow_path_for(app: str) -> Path:
    """The shipped flow for an app name from the accounts list ("instagram", "tiktok", "example")."""
    name = APP_FLOWS.get(app.strip().lower())
    if name is None:
        raise FlowFileError(app, "app", f"no shipped flow for app {app!r}; known: {sorted(APP_FLOWS)}")
    return FLOWS_DIR / name


class FlowBook:
    """Which flow each account posts with: `[worker] flow_file` for everyone when set, else the
    shipped flow of the account's app (accounts list, `[accounts] app`). Loaded once per file."""

    def __init__(self, app_of: Callable[[str], str], override: Path | None = None) -> None:
        self._app_of = app_of
        self._override = override
        self._loaded: dict[Path, Flow] = {}

    def path_for(self, account: str) -> Path:
        return self._override if self._override is not None else flow_path_for(self._app_of(account))

    def check(self, accounts: Iterable[str]) -> None:
        """Load every flow these accounts need now (a broken file stops the worker at start)."""
        self.for_account("")
        for account in accounts:
            self.for_account(account)

    def for_account(self, account: str) -> Flow:
        path = self.path_for(account)
        if path not in self._loaded:
            self._loaded[path] = load_flow(path)
        return self._loaded[path]


def load_flow(path: Path | None = None) -> Flow:
    """Read and validate a flow file (default: the example app's). Raises FlowFileError."""
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
    if doc.get("format") != FORMAT:
        hint = (
            "this looks like a first-format flow (steps with action/target.by); rewrite it in the second "
            "format (see worker/flows/default.json and README 'Real phones')"
            if isinstance(doc.get("steps"), list)
            and any("target" in s for s in doc["steps"] if isinstance(s, dict))
            else f'add "format": {FORMAT}'
        )
        raise FlowFileError(source, "format", f"must be {FORMAT}; {hint}")
    default_timeout = check.positive(doc.get("step_timeout_s", DEFAULT_STEP_TIMEOUT_S), "step_timeout_s")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise FlowFileError(source, "steps", "must be a non-empty list")
    steps = tuple(check.step(raw, i, default_timeout) for i, raw in enumerate(raw_steps))
    if sum(s.publish for s in steps) != 1 or not steps[-1].publish:
        raise FlowFileError(source, "steps", 'exactly one step, the last, must have "publish": true')
    if steps[-1].action != "tap" or steps[-1].optional or steps[-1].retries:
        raise FlowFileError(source, f"steps[{len(steps) - 1}]", "the publish step must be a plain tap")
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise FlowFileError(source, "steps", "step names must be unique")
    app = check.mapping(doc.get("app", {}), "app")
    raw_handlers = doc.get("handlers", [])
    if not isinstance(raw_handlers, list):
        raise FlowFileError(source, "handlers", "must be a list")
    raw_problems = doc.get("account_problems")
    if not isinstance(raw_problems, list) or not raw_problems:
        raise FlowFileError(source, "account_problems", "must list at least one account problem")
    launch = doc.get("launch", False)
    if not isinstance(launch, bool):
        raise FlowFileError(source, "launch", "must be true or false")
    package = check.text(app.get("package", ""), "app.package")
    if launch and not package:
        raise FlowFileError(source, "app.package", '"launch": true needs the app\'s package')
    return Flow(
        name=str(doc.get("name", Path(source).stem)),
        source=source,
        steps=steps,
        outcome=check.outcome(doc.get("outcome")),
        account_problems=tuple(
            check.problem(p, f"account_problems[{i}]") for i, p in enumerate(raw_problems)
        ),
        handlers=tuple(check.handler(h, f"handlers[{i}]") for i, h in enumerate(raw_handlers)),
        app_package=package,
        app_activity=check.text(app.get("activity", ""), "app.activity"),
        wait_activity=check.text(app.get("wait_activity", ""), "app.wait_activity"),
        launch=launch,
        about=str(doc.get("about", "")),
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

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "must be text")
        return value

    def positive(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(where, f"must be a positive number of seconds, not {value!r}")
        return float(value)

    def count(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, f"must be a whole number >= 0, not {value!r}")
        return value

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
        try:
            selector = parse_selector(value, where)
        except ValueError as exc:
            raise self.fail(where, str(exc).removeprefix(f"{where}: ")) from exc
        for key, text in _all_keys(selector):
            self.template(text, f"{where}.{key}") if text else None
        return selector

    def keycode(self, value: Any, where: str) -> int:
        if isinstance(value, str) and value.upper() in KEYCODES:
            return KEYCODES[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 400:
            return value
        raise self.fail(where, f"must be an Android keycode number or one of {sorted(KEYCODES)}")

    def step(self, value: Any, index: int, default_timeout: float) -> Step:
        where = f"steps[{index}]"
        doc = self.mapping(value, where)
        given = [a for a in ACTIONS if a in doc]
        if len(given) != 1:
            raise self.fail(where, f"must have exactly one action key of {list(ACTIONS)}, has {given}")
        action = given[0]
        name = str(doc.get("name") or f"step_{index}")
        target = self.selector(doc[action], f"{where}.{action}") if action in TARGETED else None
        if action == "type":
            text = self.template(doc.get("text"), f"{where}.text")
        elif "text" in doc:
            raise self.fail(f"{where}.text", "only a type step types text")
        else:
            text = ""
        direction = ""
        if action == "scroll":
            direction = str(doc["scroll"])
            if direction not in ("up", "down"):
                raise self.fail(f"{where}.scroll", 'must be "up" or "down"')
        elif action in ("back", "launch") and doc[action] is not True:
            raise self.fail(f"{where}.{action}", "must be true")
        return Step(
            name=name,
            action=action,
            target=target,
            text=text,
            key=self.keycode(doc["press_key"], f"{where}.press_key") if action == "press_key" else 0,
            direction=direction,
            timeout_s=self.positive(doc.get("timeout_s", default_timeout), f"{where}.timeout_s"),
            optional=bool(doc.get("optional", False)),
            retries=self.count(doc.get("retries", 0), f"{where}.retries"),
            retry_after_s=self.positive(
                doc.get("retry_after_s", DEFAULT_RETRY_AFTER_S), f"{where}.retry_after_s"
            ),
            publish=bool(doc.get("publish", False)),
            verify_text=bool(doc.get("verify_text", True)),
        )

    def handler(self, value: Any, where: str) -> Handler:
        doc = self.mapping(value, where)
        stuck_s = self.positive(doc["stuck_s"], f"{where}.stuck_s") if "stuck_s" in doc else 0.0
        if "when" not in doc and not stuck_s:
            raise self.fail(f"{where}.when", "must say what on screen sets it off (or give stuck_s)")
        when = self.selector(doc["when"], f"{where}.when") if "when" in doc else None
        actions = [a for a in ("tap", "back", "press_key", "restart") if a in doc]
        if len(actions) != 1:
            raise self.fail(
                where,
                'must have exactly one of "tap" (true or a selector), "back": true, "press_key", '
                '"restart": true',
            )
        action = actions[0]
        tap = None
        if action == "tap" and doc["tap"] is not True:
            tap = self.selector(doc["tap"], f"{where}.tap")
        if action == "tap" and when is None and tap is None:
            raise self.fail(f"{where}.tap", 'a handler without "when" must name what to tap')
        if action in ("back", "restart") and doc[action] is not True:
            raise self.fail(f"{where}.{action}", "must be true")
        if action == "restart" and doc.get("after_publish", False):
            raise self.fail(f"{where}.after_publish", "a restart never follows the publish tap")
        max_times = self.count(doc.get("max_times", DEFAULT_HANDLER_TIMES), f"{where}.max_times")
        if max_times < 1:
            raise self.fail(f"{where}.max_times", "must be at least 1")
        return Handler(
            name=str(doc.get("name") or where),
            when=when,
            action=action,
            tap=tap,
            key=self.keycode(doc["press_key"], f"{where}.press_key") if action == "press_key" else 0,
            max_times=max_times,
            after_publish=bool(doc.get("after_publish", action != "restart")),
            unless=self.selector(doc["unless"], f"{where}.unless") if "unless" in doc else None,
            stuck_s=stuck_s,
        )

    def outcome(self, value: Any) -> Outcome:
        doc = self.mapping(value, "outcome")
        if "posted" not in doc:
            raise self.fail(
                "outcome.posted", "must name the screen that proves the post (a timeout is no proof)"
            )
        optional = {
            k: self.selector(doc[k], f"outcome.{k}") for k in ("uploading", "post_failed") if k in doc
        }
        return Outcome(
            posted=self.selector(doc["posted"], "outcome.posted"),
            uploading=optional.get("uploading"),
            post_failed=optional.get("post_failed"),
            confirm_timeout_s=self.positive(
                doc.get("confirm_timeout_s", DEFAULT_CONFIRM_TIMEOUT_S), "outcome.confirm_timeout_s"
            ),
            upload_wait_s=self.positive(
                doc.get("upload_wait_s", DEFAULT_UPLOAD_WAIT_S), "outcome.upload_wait_s"
            ),
        )

    def problem(self, value: Any, where: str) -> AccountProblemRule:
        doc = self.mapping(value, where)
        kind = doc.get("kind")
        if not isinstance(kind, str) or not kind.strip():
            raise self.fail(f"{where}.kind", "must name the problem (suspended, captcha, logged_out, ...)")
        texts = doc.get("texts")
        if (
            not isinstance(texts, list)
            or not texts
            or not all(isinstance(t, str) and t.strip() for t in texts)
        ):
            raise self.fail(f"{where}.texts", "must be a non-empty list of non-empty strings")
        if "where" not in doc:
            raise self.fail(
                f"{where}.where",
                "must say where the texts count (a dialog, banner or notice), never the whole screen",
            )
        match = doc.get("match", "contains")
        if match not in ("contains", "starts"):
            raise self.fail(f"{where}.match", 'must be "contains" or "starts"')
        return AccountProblemRule(
            kind=kind.strip(),
            texts=tuple(t.strip().lower() for t in texts),
            where=self.selector(doc["where"], f"{where}.where"),
            not_on=self.selector(doc["not_on"], f"{where}.not_on") if "not_on" in doc else None,
            match=str(match),
        )


def _all_keys(selector: Selector) -> list[tuple[str, str]]:
    return [*selector.keys, *(kv for s in selector.any_of for kv in _all_keys(s))]


def describe(flow: Flow) -> Mapping[str, Any]:
    """A short plain description (for --show-config and `flow check`)."""
    return {
        "name": flow.name,
        "file": flow.source,
        "app": flow.app_package,
        "steps": [s.name for s in flow.steps],
        "handlers": [h.name for h in flow.handlers],
    }
