"""Runs a Flow on a Device: a live phone through Appium (worker.device), the simulated phone, or a
recorded session (worker.replay). Same engine, same decisions, so a replay predicts a live run.

Each poll reads the screen once and decides, in this order: an account problem where the flow
says (raise), an interruption handler (fire it), the current step's target (act), a later step's
target when the steps in between are optional (skip ahead), the previous step's target still there
after `retry_after_s` (act again, up to `retries`), else wait. After the publish tap it waits for
an outcome screen: posted (done), uploading (wait on, up to `upload_wait_s`), post failed (raise),
nothing (`confirm_timeout_s`, then "not confirmed": review, never a blind retry).

Stop requests are honoured between polls only before the publish tap; from the checkpoint to the
end of the confirmation nothing interrupts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from worker.errors import (
    AccountProblem,
    ElementNotFound,
    JobError,
    JobTimeout,
    PostFailed,
    PublishNotConfirmed,
)
from worker.flow import Flow, Handler, Step
from worker.screen import Element, Screen

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5
VERIFY_CHARS = 20


class Device(Protocol):
    """What the engine needs from a phone (live, simulated or replayed)."""

    def screen(self) -> Screen: ...
    # `handler`: the interruption handler doing it ("" for a flow step)
    def tap(self, element: Element, *, handler: str = "") -> None: ...
    def type_into(self, element: Element, text: str) -> str: ...  # returns what the field shows
    def back(self, *, handler: str = "") -> None: ...
    def press_key(self, code: int, *, handler: str = "") -> None: ...
    def scroll(self, direction: str) -> None: ...
    def launch(self, package: str, activity: str) -> None: ...


def _no_op() -> None:
    return None


def _no_step(name: str) -> None:
    return None


def _no_record(event: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class FlowHooks:
    """What the engine tells its caller: the step it is on, the checkpoint, and where it may stop."""

    on_step: Callable[[str], None] = _no_step
    before_publish: Callable[[], None] = _no_op  # records the queue checkpoint; may raise LostClaim
    check_stop: Callable[[], None] = _no_op  # raises StopRequested when a stop is pending
    record: Callable[[dict[str, Any]], None] = _no_record  # the session recording (worker.recording)


@dataclass(frozen=True)
class FlowClock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = POLL_INTERVAL_S


class _Restart(Exception):
    """A handler relaunched the app: the flow starts again from its first step."""


@dataclass
class _Previous:
    step: Step
    acted_at: float
    retries_left: int


@dataclass
class FlowRun:
    """Runs one flow for one job. `deadline` is on the clock's `now` scale (job timeout)."""

    device: Device
    flow: Flow
    variables: dict[str, str]
    deadline: float
    hooks: FlowHooks = field(default_factory=FlowHooks)
    clock: FlowClock = field(default_factory=FlowClock)
    ids: dict[str, str] = field(default_factory=dict)  # job_id / account for the errors
    publish_tapped: bool = False
    fired: dict[str, int] = field(default_factory=dict)
    _previous: _Previous | None = None
    _last_recorded: tuple[Any, ...] = ()

    @property
    def package(self) -> str:
        return self.flow.app_package

    def run(self) -> None:
        """Post the video; returns only when the posted screen was seen, raises otherwise."""
        if self.flow.launch:
            self.hooks.on_step("launch")
            self._record(None, "launch", {"action": "open_app"})
            self.device.launch(self.flow.app_package, self.flow.app_activity)
        index = 0
        steps = self.flow.steps
        while index < len(steps):
            self.hooks.check_stop()
            step = steps[index]
            self.hooks.on_step(step.name)
            try:
                if step.target is None:
                    self._act_blind(step)
                    index += 1
                else:
                    index = self._targeted(index)
            except _Restart:
                index = 0
                self._previous = None
        self._confirm()

    # -- steps -------------------------------------------------------------------------------------

    def _targeted(self, index: int) -> int:
        """Wait for the step's target and act on it; returns the index of the next step."""
        step = self.flow.steps[index]
        assert step.target is not None
        target = step.target.render(self.variables)
        started = self.clock.now()
        step_end = started + step.timeout_s
        end = min(step_end, self.deadline)
        while True:
            screen = self._look(step.name)
            if self._handle(screen, after_publish=False, waited=self.clock.now() - started):
                continue
            element = target.find(screen, self.package)
            if element is not None:
                self._act(step, element, screen)
                return index + 1
            ahead = self._ahead(index, screen)
            if ahead is not None:
                skipped = ", ".join(s.name for s in self.flow.steps[index:ahead])
                log.info(
                    "step %s: a later step's target is already on screen; skipping %s", step.name, skipped
                )
                return ahead
            if self._repeat_previous(screen):
                continue
            if self.clock.now() >= end:
                if step.optional and end == step_end:
                    log.info("optional step %s: %s did not appear; going on", step.name, target)
                    return index + 1
                break
            self._wait(screen, step.name)
        if end < step_end:
            raise JobTimeout(f"job deadline reached in step {step.name} waiting for {target}", **self.ids)
        raise ElementNotFound(
            f"step {step.name}: {target} did not appear within {step.timeout_s:.0f} s", **self.ids
        )

    def _ahead(self, index: int, screen: Screen) -> int | None:
        """The first later step whose target is on screen, if every step before it is optional."""
        steps = self.flow.steps
        if not steps[index].optional:
            return None
        for later in range(index + 1, len(steps)):
            candidate = steps[later]
            if candidate.target is not None and candidate.target.render(self.variables).find(
                screen, self.package
            ):
                return later if not candidate.publish else None
            if not candidate.optional:
                return None
        return None

    def _repeat_previous(self, screen: Screen) -> bool:
        """The previous step's target is still there after a while: the tap did not take. Again."""
        prev = self._previous
        if prev is None or prev.retries_left <= 0 or prev.step.target is None:
            return False
        if self.clock.now() - prev.acted_at < prev.step.retry_after_s:
            return False
        element = prev.step.target.render(self.variables).find(screen, self.package)
        if element is None:
            return False
        log.info("step %s: the screen did not move on; doing it again", prev.step.name)
        prev.retries_left -= 1
        self._act(prev.step, element, screen, again=True)
        return True

    def _act(self, step: Step, element: Element, screen: Screen, *, again: bool = False) -> None:
        index = screen.elements.index(element) if element in screen.elements else -1
        if step.action == "tap":
            if step.publish:
                self.hooks.before_publish()
                self.publish_tapped = True
            self._record(screen, step.name, {"action": "tap", "element_index": index})
            log.info("step %s: tap %s", step.name, element.label())
            self.device.tap(element)
        elif step.action == "type":
            text = step.text.format_map(self.variables)
            self._record(screen, step.name, {"action": "tap_and_type", "element_index": index, "text": text})
            log.info("step %s: type %d characters into %s", step.name, len(text), element.label())
            shown = self.device.type_into(element, text)
            if step.verify_text and not typed_text_landed(text, shown):
                raise JobError(
                    f"step {step.name}: the field shows {shown[:VERIFY_CHARS]!r}…, not the text typed",
                    error_type="type_failed",
                    **self.ids,
                )
        else:  # wait: the target is there, nothing to do
            log.info("step %s: %s is on screen", step.name, element.label())
        if not again:
            self._previous = _Previous(step, self.clock.now(), step.retries) if step.retries else None

    def _act_blind(self, step: Step) -> None:
        screen = self._look(step.name)
        self._previous = None
        if step.action == "back":
            self._record(screen, step.name, {"action": "back"})
            self.device.back()
        elif step.action == "press_key":
            self._record(screen, step.name, {"action": "press_key", "key": step.key})
            self.device.press_key(step.key)
        elif step.action == "scroll":
            self._record(screen, step.name, {"action": f"scroll_{step.direction}"})
            self.device.scroll(step.direction)
        elif step.action == "launch":
            self._record(screen, step.name, {"action": "open_app"})
            self.device.launch(self.flow.app_package, self.flow.app_activity)
        log.info("step %s: %s", step.name, step.action)

    # -- interruptions -----------------------------------------------------------------------------

    def _handle(self, screen: Screen, *, after_publish: bool, waited: float = 0.0) -> bool:
        """Fire the first handler whose `when` is on screen (and has firings left)."""
        for handler in self.flow.handlers:
            if after_publish and not handler.after_publish:
                continue
            if self.fired.get(handler.name, 0) >= handler.max_times or waited < handler.stuck_s:
                continue
            if handler.unless is not None and handler.unless.render(self.variables).find(
                screen, self.package
            ):
                continue
            if handler.when is None:
                seen = screen.elements[0] if screen.elements else Element("")
            else:
                found = handler.when.render(self.variables).find(screen, self.package)
                if found is None:
                    continue
                seen = found
            element: Element | None = seen
            if handler.tap is not None:
                element = handler.tap.render(self.variables).find(screen, self.package)
            if element is None:
                continue
            self._fire(handler, seen, element, screen)
            return True
        return False

    def _fire(self, handler: Handler, seen: Element, element: Element, screen: Screen) -> None:
        self.fired[handler.name] = self.fired.get(handler.name, 0) + 1
        if handler.action == "back":
            log.info("interruption %s (%s): back", handler.name, seen.label())
            self._record(screen, f"handler:{handler.name}", {"action": "back"})
            self.device.back(handler=handler.name)
            return
        if handler.action == "restart":
            log.info("interruption %s (%s): the app is relaunched; starting over", handler.name, seen.label())
            self._record(screen, f"handler:{handler.name}", {"action": "open_app"})
            self.device.launch(self.flow.app_package, self.flow.app_activity)
            raise _Restart
        if handler.action == "press_key":
            log.info("interruption %s (%s): key %d", handler.name, seen.label(), handler.key)
            self._record(screen, f"handler:{handler.name}", {"action": "press_key", "key": handler.key})
            self.device.press_key(handler.key, handler=handler.name)
            return
        log.info("interruption %s: tap %s", handler.name, element.label())
        index = screen.elements.index(element) if element in screen.elements else -1
        self._record(screen, f"handler:{handler.name}", {"action": "tap", "element_index": index})
        self.device.tap(element, handler=handler.name)

    # -- after the publish tap ---------------------------------------------------------------------

    def _confirm(self) -> None:
        self.hooks.on_step("confirm_publish")
        outcome = self.flow.outcome
        start = self.clock.now()
        seen_uploading = False
        while True:
            screen = self._look("confirm_publish")
            kind = self.flow.classify(screen)
            if kind == "posted":
                self._record(screen, "confirm_publish", {"action": "done"}, kind)
                log.info("the app shows the post as published")
                return
            if kind == "uploading":
                if not seen_uploading:
                    log.info("the app is still uploading; waiting up to %.0f s", outcome.upload_wait_s)
                seen_uploading = True
            elif kind == "post_failed":
                self._record(screen, "confirm_publish", {"action": "done"}, kind)
                raise PostFailed("post failed: the app says the video cannot be posted", **self.ids)
            elif self._handle(screen, after_publish=True, waited=self.clock.now() - start):
                continue
            waited = self.clock.now() - start
            limit = outcome.upload_wait_s if seen_uploading else outcome.confirm_timeout_s
            if waited >= limit or self.clock.now() >= self.deadline:
                self._record(screen, "confirm_publish", {"action": "done"}, kind)
                still = "still uploading" if kind == "uploading" else "no posted screen"
                raise PublishNotConfirmed(
                    f"published but not confirmed after {waited:.0f} s ({still})", **self.ids
                )
            self._wait(screen, "confirm_publish", published=True)

    # -- looking and waiting -----------------------------------------------------------------------

    def _look(self, step: str) -> Screen:
        screen = self.device.screen()
        problem = self.flow.account_problem(screen)
        if problem is not None:
            kind, text = problem
            self._record(screen, step, {"action": "done"}, "account_problem")
            raise AccountProblem(
                f"{kind}: screen shows {text[:80]!r} (step {step})", error_type=kind, **self.ids
            )
        return screen

    def _wait(self, screen: Screen, step: str, *, published: bool = False) -> None:
        signature = tuple(e.key() for e in screen.elements)
        if signature != self._last_recorded:
            self._record(screen, step, {"action": "wait", "seconds": self.clock.poll_s})
        if not published:
            self.hooks.check_stop()
        self.clock.sleep(self.clock.poll_s)

    def _record(self, screen: Screen | None, step: str, action: dict[str, Any], kind: str = "") -> None:
        if screen is not None:
            self._last_recorded = tuple(e.key() for e in screen.elements)
        self.hooks.record(
            {
                "flow_step": step,
                "screen": screen,
                "action": action,
                "class": kind or (self.flow.classify(screen) if screen is not None else "none"),
            }
        )


def typed_text_landed(typed: str, shown: str) -> bool:
    """Did the field take the text? Whitespace may be folded (newlines), the app may add nothing
    else; compare the start and the end, so a 2,200-character caption is checked at both ends."""
    want = " ".join(typed.split())
    got = " ".join((shown or "").split())
    if not want:
        return True
    return got.startswith(want[:VERIFY_CHARS]) and got.endswith(want[-VERIFY_CHARS:])
