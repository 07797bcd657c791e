"""The flow engine against a scripted driver: success must be seen, problems are caught per step."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from worker.errors import (
    AccountProblem,
    ElementNotFound,
    JobTimeout,
    PostFailed,
    PublishNotConfirmed,
    StopRequested,
)
from worker.flow import load_flow
from worker.flow_engine import FlowClock, FlowHooks, FlowRun

VARS = {"caption": "hello #fun", "video_name": "v.mp4", "account": "acc", "job_id": "j1"}


@dataclass
class FakeElement:
    driver: ScriptedDriver
    name: str
    text: str = ""

    def click(self) -> None:
        self.driver.events.append(f"tap {self.name}")
        self.driver.on_tap(self.name)

    def clear(self) -> None:
        self.text = ""

    def send_keys(self, *value: str) -> None:
        self.text += "".join(value)
        self.driver.events.append(f"type {self.name}")

    def is_displayed(self) -> bool:
        return True


@dataclass
class ScriptedDriver:
    """Shows every element of the default flow unless hidden; `screen` is the page source text."""

    hidden: set[str] = field(default_factory=set)
    screen: str = "<hierarchy/>"
    after_publish: str = "posted"  # posted | nothing | failed | problem
    events: list[str] = field(default_factory=list)
    posted: bool = False

    @property
    def page_source(self) -> str:
        return self.screen

    def find_elements(self, by: str, value: str) -> list[FakeElement]:
        name = value.rsplit("/", 1)[-1].split("'")[0] if by == "id" else "video_item"
        if name == "posted_banner" and not self.posted:
            return []
        return [] if name in self.hidden else [FakeElement(self, name)]

    def on_tap(self, name: str) -> None:
        if name != "share_button":
            return
        if self.after_publish == "posted":
            self.posted = True
        elif self.after_publish == "failed":
            self.screen = '<x text="Couldn\'t post your video. Please retry."/>'
        elif self.after_publish == "problem":
            self.screen = "<x text='Action Blocked'/>"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def run(driver: ScriptedDriver, hooks: FlowHooks | None = None, deadline: float = 1e9) -> None:
    clock = FakeClock()
    FlowRun(
        driver,
        load_flow(),
        dict(VARS),
        deadline,
        hooks or FlowHooks(),
        FlowClock(now=clock.now, sleep=clock.sleep),
    ).run()


def test_a_good_run_taps_through_and_checkpoints_right_before_the_publish_tap() -> None:
    driver = ScriptedDriver()
    hooks = FlowHooks(before_publish=lambda: driver.events.append("checkpoint"))
    run(driver, hooks)
    assert driver.events[-2:] == ["checkpoint", "tap share_button"]
    assert "type caption_input" in driver.events


def test_an_account_screen_is_an_account_problem_with_its_type() -> None:
    with pytest.raises(AccountProblem) as info:
        run(ScriptedDriver(screen="<x text='We suspended your account'/>"))
    assert info.value.error_type == "suspended"


def test_a_missing_element_times_out_as_element_not_found_before_any_checkpoint() -> None:
    checkpoints: list[str] = []
    with pytest.raises(ElementNotFound, match="share_button"):
        run(
            ScriptedDriver(hidden={"share_button"}), FlowHooks(before_publish=lambda: checkpoints.append("x"))
        )
    assert checkpoints == []


def test_a_confirmation_timeout_is_not_a_success() -> None:
    with pytest.raises(PublishNotConfirmed):
        run(ScriptedDriver(after_publish="nothing"))


def test_a_failure_text_after_the_publish_tap_is_post_failed() -> None:
    with pytest.raises(PostFailed):
        run(ScriptedDriver(after_publish="failed"))


def test_an_account_screen_after_the_publish_tap_is_still_an_account_problem() -> None:
    with pytest.raises(AccountProblem):
        run(ScriptedDriver(after_publish="problem"))


def test_the_job_deadline_cuts_a_wait_as_job_timeout() -> None:
    with pytest.raises(JobTimeout):
        run(ScriptedDriver(hidden={"next_button"}), deadline=3.0)


def test_a_stop_is_honoured_between_steps_but_never_after_the_checkpoint() -> None:
    driver = ScriptedDriver(after_publish="nothing")
    state = {"stop": False}

    def check_stop() -> None:
        if state["stop"]:
            raise StopRequested("test")

    def before_publish() -> None:
        state["stop"] = True  # a stop arrives right at the checkpoint

    with pytest.raises(PublishNotConfirmed):  # waited the whole confirmation, did not abandon it
        run(driver, FlowHooks(before_publish=before_publish, check_stop=check_stop))

    state["stop"] = True
    with pytest.raises(StopRequested):
        run(ScriptedDriver(), FlowHooks(check_stop=check_stop))
