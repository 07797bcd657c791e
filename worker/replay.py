"""Replay recorded posting sessions through the flow engine (pure, no phone, no clock).

A recording is JSON lines (plain or .gz): `step` events with the screen (`ui_elements`) and the
action taken on it, then `success` or `failure`. Both the original tool's `flow_analysis` files and
this project's own recordings (worker.recording) have that shape.

The replay device shows the recorded screens in order and advances when the engine does what the
recording did on that screen: the same element (by id, else description, else text), a coordinate
tap on the element under that point, back for back, the app launched for `open_instagram`, and
time passing (an engine wait) for a recorded wait. The recording sometimes went round in a circle
(tapped, pressed back, tapped again); when the engine does on a screen what the recording did
later on a screen that looks the same (same set of ids), the replay jumps there. Anything else is
a divergence. After the publish tap the engine only watches, so every wait moves on one screen.

Verdicts per session: `agreed` (success sessions: no divergence and the publish tapped; failure
sessions: the engine calls it posted exactly when a recorded screen is classed posted), `final`
(what the engine concluded), and a class for every recorded screen.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.errors import AccountProblem, PostFailed, PublishNotConfirmed, WorkerError
from worker.flow import Flow
from worker.flow_engine import FlowClock, FlowHooks, FlowRun
from worker.screen import Element, Screen, Selector, screen_from_recording

log = logging.getLogger(__name__)

# Texts that prove a real Instagram post (README of the recorded sessions), used only to count
# screens the flow calls posted without such proof ("false posted").
POSTED_EVIDENCE = ("Posted!", "Done posting")
REPLAY_VARIABLES = {"caption": "", "video_name": "", "account": "", "job_id": "replay"}


class RecordingError(ValueError):
    """A recording cannot be read; names the file and the line."""


@dataclass(frozen=True)
class RecordedStep:
    number: int
    screen: Screen
    action: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.action.get("action", ""))


@dataclass(frozen=True)
class Recording:
    path: Path
    account: str
    steps: tuple[RecordedStep, ...]
    verdict: str  # success | failure | unknown
    video_name: str = ""  # this project's recordings name the job's video (flows may pick by it)


def read_recording(path: Path, package: str) -> Recording:
    """One session file. Raises RecordingError naming the file and line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    steps: list[RecordedStep] = []
    account, verdict, video_name = "", "unknown", ""
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RecordingError(f"{path}: line {number}: not JSON: {exc.msg}") from exc
                kind = event.get("event") if isinstance(event, dict) else None
                if kind == "session_start":
                    account = str(event.get("account", ""))
                    video_name = str(event.get("video_name", ""))
                elif kind == "video":
                    video_name = str(event.get("video_name", ""))
                elif kind == "step" and isinstance(event.get("action"), dict):
                    screen = screen_from_recording(event.get("ui_elements") or [], package)
                    steps.append(
                        RecordedStep(int(event.get("step", len(steps) + 1)), screen, event["action"])
                    )
                elif kind == "error" and isinstance(event.get("ui_elements"), list):
                    # a screen on which the session decided nothing: time passed
                    screen = screen_from_recording(event["ui_elements"], package)
                    steps.append(RecordedStep(int(event.get("step", len(steps) + 1)), screen, {"action": ""}))
                elif kind in ("success", "failure"):
                    verdict = str(kind)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot be read: {exc}") from exc
    return Recording(path, account, tuple(steps), verdict, video_name)


def recording_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The session files named, folders searched (sorted) for *.jsonl and *.jsonl.gz."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz"))
            )
        else:
            yield path


class Diverged(Exception):
    """The engine did something the recording did not do on that screen."""


class Ended(Exception):
    """The engine waits on the last recorded screen: nothing more will happen."""


def _same(a: Element, b: Element) -> bool:
    if a.id or b.id:
        return a.id == b.id
    if a.desc or b.desc:
        return a.desc == b.desc
    return a.text == b.text and a.bounds == b.bounds


def _alike(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same kind of screen: at least 80% of the ids shared (a tooltip or a counter may come
    and go)."""
    return bool(a or b) and len(a & b) >= SAME_SCREEN * len(a | b)


def _signature(screen: Screen) -> frozenset[str]:
    ids = frozenset(e.short_id for e in screen.elements if e.short_id)
    return ids or frozenset(t for t in screen.texts())


SAME_SCREEN = 0.8
SKIPPABLE = frozenset({"back", "wait", "scroll_up", "scroll_down", "home", ""})


@dataclass
class ReplayDevice:
    """A Device (worker.flow_engine) that shows a recording's screens."""

    recording: Recording
    interruptions: tuple[Selector, ...] = ()  # the flow's handler selectors
    package: str = ""
    pos: int = 0
    absorbed: int = 0
    published: bool = False
    diverged_at: int | None = None
    acted: bool = False

    @property
    def steps(self) -> tuple[RecordedStep, ...]:
        return self.recording.steps

    def screen(self) -> Screen:
        return self.steps[min(self.pos, len(self.steps) - 1)].screen

    # what the engine does ---------------------------------------------------------------------
    def tap(self, element: Element, *, handler: str = "") -> None:
        self._did("tap", element, handler)

    def type_into(self, element: Element, text: str) -> str:
        self._did("type", element)
        return text

    def back(self, *, handler: str = "") -> None:
        self._did("back", None, handler)

    def press_key(self, code: int, *, handler: str = "") -> None:
        self._did("back" if code == 4 else "home" if code == 3 else f"key{code}", None, handler)

    def scroll(self, direction: str) -> None:
        self._did(f"scroll_{direction}")

    def launch(self, package: str, activity: str) -> None:
        if not self.acted:
            return  # the recordings start with the app just launched
        self._did("open_instagram")

    def mark_published(self) -> None:
        self.published = True

    def sleep(self, seconds: float) -> None:
        if self.pos >= len(self.steps) - 1:
            raise Ended
        if self.published or self.steps[self.pos].kind in ("wait", ""):
            self.pos += 1

    # matching ---------------------------------------------------------------------------------
    def _did(self, kind: str, element: Element | None = None, handler: str = "") -> None:
        self.acted = True
        last = len(self.steps) - 1
        if self.pos >= last and self.steps[min(self.pos, last)].kind in ("done", ""):
            if not self.published:
                self.diverged_at = self.steps[last].number
                raise Diverged(f"the engine did {kind} after the recording ended")
            raise Ended
        if self.published:
            self.pos = min(self.pos + 1, last)
            return
        if self._matches(self.pos, kind, element):
            self.pos += 1
            if (
                kind == "type"
                and self.steps[self.pos - 1].kind == "tap"
                and self._matches(self.pos, kind, element)
            ):
                self.pos += 1  # the recording tapped the field, then typed into it
            return
        here = _signature(self.steps[self.pos].screen)
        only_skippable = True
        for later in range(self.pos + 1, len(self.steps)):
            only_skippable = only_skippable and self._skippable(later - 1)
            same_screen = _alike(_signature(self.steps[later].screen), here)
            if (same_screen or only_skippable) and self._matches(later, kind, element):
                self.pos = later + 1
                return
        if handler:
            # an interruption handled where the recording did not: the app would have closed it;
            # the recorded screen stays (the handler's own limit ends this)
            self.absorbed += 1
            return
        self.diverged_at = self.steps[self.pos].number
        did = f"{kind} {element.label()}" if element is not None else kind
        raise Diverged(f"the engine did {did}; the recording did {_describe(self.steps[self.pos])}")

    def _skippable(self, pos: int) -> bool:
        """A recorded action that moved nothing forward: back, wait, scroll, or closing a popup."""
        step = self.steps[pos]
        if step.kind in SKIPPABLE:
            return True
        index = step.action.get("element_index")
        if step.kind == "tap" and isinstance(index, int) and 0 <= index < len(step.screen.elements):
            element = step.screen.elements[index]
            return any(s.matches(element, self.package) for s in self.interruptions)
        return False

    def _matches(self, pos: int, kind: str, element: Element | None) -> bool:
        step = self.steps[pos]
        recorded = step.kind
        if kind in ("tap", "type") and element is not None:
            if recorded in ("tap", "tap_and_type") and (kind == "tap" or recorded == "tap_and_type"):
                index = step.action.get("element_index")
                if isinstance(index, int) and 0 <= index < len(step.screen.elements):
                    return _same(element, step.screen.elements[index])
                return False
            if recorded == "tap_coordinate" and kind == "tap":
                x, y = int(step.action.get("x", -1)), int(step.action.get("y", -1))
                under = _element_under(step.screen, x, y)
                return element.contains(x, y) or (under is not None and _same(element, under))
            return False
        return kind == recorded


def _describe(step: RecordedStep) -> str:
    index = step.action.get("element_index")
    if isinstance(index, int) and 0 <= index < len(step.screen.elements):
        return f"{step.kind} {step.screen.elements[index].label()}"
    if step.kind == "tap_coordinate":
        return f"tap at ({step.action.get('x')},{step.action.get('y')})"
    return step.kind


def _element_under(screen: Screen, x: int, y: int) -> Element | None:
    hits = [e for e in screen.elements if e.contains(x, y) and e.bounds != (0, 0, 0, 0)]
    if not hits:
        return None
    return min(hits, key=lambda e: (e.bounds[2] - e.bounds[0]) * (e.bounds[3] - e.bounds[1]))


@dataclass
class ReplayResult:
    file: str
    recorded: str
    agreed: bool
    diverged_at: int | None
    publish_tapped: bool
    final: str
    screens: list[dict[str, Any]] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "recorded": self.recorded,
            "agreed": self.agreed,
            "diverged_at": self.diverged_at,
            "publish_tapped": self.publish_tapped,
            "final": self.final,
            "screens": self.screens,
        }


class _Clock:
    def __init__(self, device: ReplayDevice) -> None:
        self.t = 0.0
        self.device = device

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.device.sleep(seconds)


def classify_screens(flow: Flow, recording: Recording) -> list[dict[str, Any]]:
    out = []
    for step in recording.steps:
        problem = flow.account_problem(step.screen)
        out.append(
            {
                "step": step.number,
                "class": flow.classify(step.screen),
                "account_problem": problem[0] if problem else None,
            }
        )
    return out


def replay(flow: Flow, recording: Recording) -> ReplayResult:
    """Run the flow on the recording; never raises for what the engine does."""
    screens = classify_screens(flow, recording)
    if not recording.steps:
        return ReplayResult(
            str(recording.path),
            recording.verdict,
            False,
            None,
            False,
            "unknown",
            screens,
            reason="no screens",
        )
    device = ReplayDevice(
        recording,
        tuple(sel for h in flow.handlers if h.action == "tap" and (sel := h.tap or h.when) is not None),
        flow.app_package,
    )
    clock = _Clock(device)
    run = FlowRun(
        device,
        flow,
        {**REPLAY_VARIABLES, "account": recording.account, "video_name": recording.video_name},
        deadline=float("inf"),
        hooks=FlowHooks(before_publish=device.mark_published),
        clock=FlowClock(clock.now, clock.sleep),
    )
    final, reason = "unknown", ""
    try:
        run.run()
        final = "posted"
    except Diverged as exc:
        reason = str(exc)
    except Ended:
        kind = flow.classify(device.screen())
        final = kind if kind != "none" else "unknown"
        reason = "recording ended"
    except AccountProblem as exc:
        final, reason = "account_problem", exc.message
    except PostFailed as exc:
        final, reason = "post_failed", exc.message
    except PublishNotConfirmed as exc:
        final, reason = ("uploading" if "uploading" in exc.message else "unknown"), exc.message
    except WorkerError as exc:
        reason = exc.message
        if device.diverged_at is None and not run.publish_tapped:
            device.diverged_at = recording.steps[min(device.pos, len(recording.steps) - 1)].number
    recorded_posted = any(s["class"] == "posted" for s in screens)
    if recording.verdict == "success":
        agreed = device.diverged_at is None and run.publish_tapped
    else:
        agreed = (final == "posted") == recorded_posted
    return ReplayResult(
        str(recording.path),
        recording.verdict,
        agreed,
        device.diverged_at,
        run.publish_tapped,
        final,
        screens,
        dict(run.fired),
        reason,
    )


@dataclass
class ReplaySummary:
    results: list[ReplayResult]
    errors: list[str]

    @property
    def success_sessions(self) -> list[ReplayResult]:
        return [r for r in self.results if r.recorded == "success"]

    @property
    def agreed_successes(self) -> int:
        return sum(r.agreed for r in self.success_sessions)

    def false_posted(self, recordings: dict[str, Recording]) -> int:
        """Screens classed posted that show none of the texts that prove a real post."""
        count = 0
        for result in self.results:
            rec = recordings[result.file]
            for step, screen in zip(rec.steps, result.screens, strict=True):
                if screen["class"] == "posted" and not any(
                    any(mark in t for mark in POSTED_EVIDENCE) for t in step.screen.texts()
                ):
                    count += 1
        return count

    @property
    def false_problems(self) -> int:
        return sum(1 for r in self.success_sessions for s in r.screens if s["class"] == "account_problem")


def replay_all(flow: Flow, paths: Iterable[Path]) -> tuple[ReplaySummary, dict[str, Recording]]:
    results: list[ReplayResult] = []
    errors: list[str] = []
    recordings: dict[str, Recording] = {}
    for path in recording_files(paths):
        try:
            recording = read_recording(path, flow.app_package)
        except RecordingError as exc:
            errors.append(str(exc))
            continue
        recordings[str(path)] = recording
        results.append(replay(flow, recording))
    return ReplaySummary(results, errors), recordings
