"""Runs a Flow against an Appium session (real, fake driver or simulated phone: same calls).

Every wait polls with a deadline (the step's timeout, capped by the job's deadline) and looks at
the screen for account problems on each poll. Stop requests are honoured between polls only
before the publish tap; from the checkpoint to the end of the confirmation nothing interrupts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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
from worker.flow import Flow, Selector, Step

POLL_INTERVAL_S = 0.2
TYPED_PREFIX_CHARS = 20


class Element(Protocol):
    def click(self) -> None: ...
    def clear(self) -> None: ...
    def send_keys(self, *value: str) -> None: ...
    def is_displayed(self) -> bool: ...
    @property
    def text(self) -> str: ...


class Driver(Protocol):
    @property
    def page_source(self) -> str: ...
    def find_elements(self, by: str, value: str) -> Any: ...


def _no_op() -> None:
    return None


def _no_step(name: str) -> None:
    return None


@dataclass(frozen=True)
class FlowHooks:
    """What the engine tells its caller: the step it is on, the checkpoint, and where it may stop."""

    on_step: Callable[[str], None] = _no_step
    before_publish: Callable[[], None] = _no_op  # records the queue checkpoint; may raise LostClaim
    check_stop: Callable[[], None] = _no_op  # raises StopRequested when a stop is pending


@dataclass(frozen=True)
class FlowClock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_s: float = POLL_INTERVAL_S


@dataclass
class FlowRun:
    """Runs one flow for one job. `deadline` is on the clock's `now` scale (job timeout)."""

    driver: Driver
    flow: Flow
    variables: dict[str, str]
    deadline: float
    hooks: FlowHooks = field(default_factory=FlowHooks)
    clock: FlowClock = field(default_factory=FlowClock)
    ids: dict[str, str] = field(default_factory=dict)  # job_id / account for the errors

    def run(self) -> None:
        """Post the video; returns only when success was seen on screen, raises otherwise."""
        for step in self.flow.steps:
            self.hooks.check_stop()
            self.hooks.on_step(step.name)
            element = self._wait_for(step.name, [step.target.render(self.variables)], step.timeout_s, False)
            if step.publish:
                self.hooks.before_publish()
                element.click()
                self._confirm()
                return
            self._act(step, element)

    def _act(self, step: Step, element: Element) -> None:
        if step.action == "tap":
            element.click()
        elif step.action == "type":
            text = step.text.format_map(self.variables)
            element.clear()
            element.send_keys(text)
            if step.verify_text and text[:TYPED_PREFIX_CHARS] not in (element.text or ""):
                raise JobError(
                    f"step {step.name}: typed text did not appear", error_type="type_failed", **self.ids
                )

    def _confirm(self) -> None:
        self.hooks.on_step("confirm_publish")
        try:
            self._wait_for("confirm_publish", self.flow.success, self.flow.success_timeout_s, True)
        except (ElementNotFound, JobTimeout) as exc:
            raise PublishNotConfirmed(
                f"published but success not seen within {self.flow.success_timeout_s:.0f} s", **self.ids
            ) from exc

    def _wait_for(
        self, step: str, selectors: Sequence[Selector], timeout_s: float, published: bool
    ) -> Element:
        step_end = self.clock.now() + timeout_s
        end = min(step_end, self.deadline)
        while True:
            self._check_screen(step, published)
            for selector in selectors:
                found = [
                    e for e in self.driver.find_elements(selector.by, selector.value) if e.is_displayed()
                ]
                if found:
                    return found[0]
            if self.clock.now() >= end:
                break
            if not published:
                self.hooks.check_stop()
            self.clock.sleep(self.clock.poll_s)
        wanted = " or ".join(str(s) for s in selectors)
        if end < step_end:
            raise JobTimeout(f"job deadline reached in step {step} waiting for {wanted}", **self.ids)
        raise ElementNotFound(f"step {step}: {wanted} did not appear within {timeout_s:.0f} s", **self.ids)

    def _check_screen(self, step: str, published: bool) -> None:
        source = self.driver.page_source
        problem = self.flow.account_problem_in(source)
        if problem is not None:
            error_type, text = problem
            raise AccountProblem(
                f"{error_type}: screen shows {text!r} (step {step})", error_type=error_type, **self.ids
            )
        if published:
            failure = self.flow.failure_in(source)
            if failure is not None:
                raise PostFailed(f"post failed: screen shows {failure!r}", **self.ids)
