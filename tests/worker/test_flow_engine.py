"""The flow engine on a scripted device (pure: screens as data, an injected clock).

Success must be seen; interruptions are handled and bounded; steps may be skipped only when
optional; a tap that did not take is repeated, the publish tap never; account problems count only
where the flow says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from worker.errors import (
    AccountProblem,
    ElementNotFound,
    JobError,
    JobTimeout,
    PostFailed,
    PublishNotConfirmed,
    StopRequested,
)
from worker.flow import Flow, load_flow, parse_flow
from worker.flow_engine import FlowClock, FlowHooks, FlowRun, typed_text_landed
from worker.screen import Element, Screen

VARS = {"caption": "hello #fun", "video_name": "v.mp4", "account": "acc", "job_id": "j1"}
PKG = "com.example.poster"


def el(name: str, text: str = "", desc: str = "", cls: str = "android.widget.Button") -> Element:
    return Element(f"{PKG}:id/{name}" if name else "", text, desc, cls)


SCREENS: dict[str, list[Element]] = {
    "feed": [el("feed_title", "Home"), el("create_button", "Create")],
    "picker": [el("video_item", "v.mp4"), el("video_item", "other.mp4"), el("next_button", "Next")],
    "caption": [el("caption_input", cls="android.widget.EditText"), el("share_button", "Share")],
    "posting": [el("posting_progress", "Sharing your video…")],
    "posted": [el("posted_banner", "Your video has been posted")],
    "failed": [el("error_text", "Couldn't post your video.")],
    "problem": [el("problem_text", "We suspended your account")],
    "popup": [el("popup_text", "Rate us!"), el("not_now", "Not now")],
}
MOVES = {
    ("feed", "create_button"): "picker",
    ("picker", "next_button"): "caption",
    ("caption", "share_button"): "posting",
    ("popup", "not_now"): "@back",
}


@dataclass
class ScriptedDevice:
    """Screens from SCREENS; taps move per MOVES; `after_publish` is shown after the posting
    screen has been looked at `posting_looks` times. `stuck` taps do nothing the first time."""

    screen_name: str = "feed"
    after_publish: str = "posted"
    posting_looks: int = 2
    stuck: set[str] = field(default_factory=set)
    popup_on: str = ""  # a popup covers this screen once
    events: list[str] = field(default_factory=list)
    typed: str = ""
    field_shows: str | None = None  # what the caption field reports after typing
    extra: list[Element] = field(default_factory=list)
    looks_at_posting: int = 0
    under_popup: str = ""

    def screen(self) -> Screen:
        if self.popup_on and self.screen_name == self.popup_on:
            self.under_popup, self.screen_name, self.popup_on = self.screen_name, "popup", ""
        if self.screen_name == "posting":
            self.looks_at_posting += 1
            if self.looks_at_posting > self.posting_looks:
                self.screen_name = self.after_publish
        caption = [] if self.screen_name != "caption" else [el("caption_shown", self.typed)]
        return Screen(tuple(SCREENS[self.screen_name] + caption + self.extra))

    def tap(self, element: Element, *, handler: str = "") -> None:
        name = element.short_id
        self.events.append(f"tap {name}" + (f" ({handler})" if handler else ""))
        if name in self.stuck:
            self.stuck.discard(name)
            return
        target = MOVES.get((self.screen_name, name))
        if target == "@back":
            self.screen_name = self.under_popup
        elif target:
            self.screen_name = target

    def type_into(self, element: Element, text: str) -> str:
        self.events.append(f"type {element.short_id}")
        self.typed = text
        return text if self.field_shows is None else self.field_shows

    def back(self, *, handler: str = "") -> None:
        self.events.append("back")
        if self.screen_name == "popup":
            self.screen_name = self.under_popup

    def press_key(self, code: int, *, handler: str = "") -> None:
        self.events.append(f"key {code}")

    def scroll(self, direction: str) -> None:
        self.events.append(f"scroll {direction}")

    def launch(self, package: str, activity: str) -> None:
        self.events.append(f"launch {package}")
        self.screen_name = "feed"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def run(
    device: ScriptedDevice, hooks: FlowHooks | None = None, deadline: float = 1e9, flow: Flow | None = None
) -> FlowRun:
    clock = FakeClock()
    engine = FlowRun(
        device,
        flow or load_flow(),
        dict(VARS),
        deadline,
        hooks or FlowHooks(),
        FlowClock(now=clock.now, sleep=clock.sleep),
    )
    engine.run()
    return engine


def flow_with(**changes: Any) -> Flow:
    import json

    from worker.flow import default_flow_path

    doc = json.loads(default_flow_path().read_text(encoding="utf-8"))
    doc.update(changes)
    return parse_flow(doc, "test.json")


def test_a_good_run_taps_through_and_checkpoints_right_before_the_publish_tap() -> None:
    device = ScriptedDevice()
    run(device, FlowHooks(before_publish=lambda: device.events.append("checkpoint")))
    assert device.events == [
        "tap create_button",
        "tap video_item",
        "tap next_button",
        "type caption_input",
        "checkpoint",
        "tap share_button",
    ]


def test_the_video_is_picked_by_its_name_not_by_position() -> None:
    device = ScriptedDevice()
    picked: list[str] = []
    original = device.tap

    def tap(element: Element, *, handler: str = "") -> None:
        if element.short_id == "video_item":
            picked.append(element.text)
        original(element, handler=handler)

    device.tap = tap  # type: ignore[method-assign]
    engine_vars = dict(VARS, video_name="other.mp4")
    clock = FakeClock()
    FlowRun(device, load_flow(), engine_vars, 1e9, clock=FlowClock(clock.now, clock.sleep)).run()
    assert picked == ["other.mp4"]


def test_an_account_screen_is_an_account_problem_with_its_kind() -> None:
    with pytest.raises(AccountProblem) as info:
        run(ScriptedDevice(screen_name="problem"))
    assert info.value.error_type == "suspended"


def test_account_problem_texts_count_only_where_the_flow_says() -> None:
    # the same words in a feed post or in the typed caption are not an account problem
    words = "We suspended your account - action blocked - verify your identity"
    run(ScriptedDevice(extra=[el("feed_post", words), el("", words)]))
    screen = Screen((el("problem_text", words, cls="android.widget.EditText"),))
    assert load_flow().account_problem(screen) is None


def test_a_missing_element_times_out_as_element_not_found_before_any_checkpoint() -> None:
    checkpoints: list[str] = []
    device = ScriptedDevice()
    SCREENS_WITHOUT_SHARE = [e for e in SCREENS["caption"] if e.short_id != "share_button"]
    original = device.screen

    def screen() -> Screen:
        shown = original()
        if device.screen_name == "caption":
            return Screen(tuple(SCREENS_WITHOUT_SHARE))
        return shown

    device.screen = screen  # type: ignore[method-assign]
    with pytest.raises(ElementNotFound, match="share_button"):
        run(device, FlowHooks(before_publish=lambda: checkpoints.append("x")))
    assert checkpoints == []


def test_a_confirmation_timeout_is_not_a_success() -> None:
    with pytest.raises(PublishNotConfirmed, match="no posted screen"):
        run(ScriptedDevice(after_publish="feed"))


def test_still_uploading_is_waited_for_up_to_the_upload_cap_then_not_confirmed() -> None:
    flow = flow_with(
        outcome={
            "posted": {"id": "posted_banner"},
            "uploading": {"id": "posting_progress"},
            "confirm_timeout_s": 5,
            "upload_wait_s": 40,
        }
    )
    device = ScriptedDevice(posting_looks=10**6)
    clock = FakeClock()
    with pytest.raises(PublishNotConfirmed, match="still uploading"):
        FlowRun(device, flow, dict(VARS), 1e9, clock=FlowClock(clock.now, clock.sleep)).run()
    assert 40 <= clock.t < 45  # waited the upload cap, not the 5 s confirmation timeout
    ok = ScriptedDevice(posting_looks=30)  # 15 s of uploading, then posted
    FlowRun(ok, flow, dict(VARS), 1e9, clock=FlowClock(FakeClock().now, FakeClock().sleep)).run()


def test_a_failure_screen_after_the_publish_tap_is_post_failed() -> None:
    with pytest.raises(PostFailed):
        run(ScriptedDevice(after_publish="failed"))


def test_an_account_screen_after_the_publish_tap_is_still_an_account_problem() -> None:
    with pytest.raises(AccountProblem):
        run(ScriptedDevice(after_publish="problem"))


def test_the_job_deadline_cuts_a_wait_as_job_timeout() -> None:
    device = ScriptedDevice(screen_name="posted")  # no create button ever
    with pytest.raises(JobTimeout):
        run(device, deadline=3.0)


def test_a_tap_that_did_not_take_is_repeated_but_the_publish_tap_never() -> None:
    flow = flow_with(
        steps=[
            {"name": "open_create", "tap": {"id": "create_button"}, "retries": 2, "retry_after_s": 1},
            {"name": "pick_video", "tap": {"id": "video_item", "text": "{video_name}"}},
            {"name": "next", "tap": {"id": "next_button"}},
            {"name": "type_caption", "type": {"id": "caption_input"}, "text": "{caption}"},
            {"name": "publish", "tap": {"id": "share_button"}, "publish": True},
        ]
    )
    device = ScriptedDevice(stuck={"create_button"})
    run(device, flow=flow)
    assert device.events[:2] == ["tap create_button", "tap create_button"]
    stuck_share = ScriptedDevice(stuck={"share_button"})
    with pytest.raises(PublishNotConfirmed):
        run(stuck_share, flow=flow)
    assert stuck_share.events.count("tap share_button") == 1


def test_an_interruption_is_handled_and_logged_as_such_at_most_max_times() -> None:
    handler = {"name": "rate_us", "when": {"id": "popup_text"}, "tap": {"id": "not_now"}, "max_times": 1}
    flow = flow_with(handlers=[handler])
    device = ScriptedDevice(popup_on="picker")
    engine = run(device, flow=flow)
    assert "tap not_now (rate_us)" in device.events
    assert engine.fired == {"rate_us": 1}
    # a popup that comes back more often than allowed is not handled for ever
    back = flow_with(
        handlers=[{"name": "rate_us", "when": {"id": "popup_text"}, "back": True, "max_times": 2}]
    )
    stubborn = ScriptedDevice(screen_name="popup", under_popup="popup")
    with pytest.raises(ElementNotFound):
        run(stubborn, flow=back)
    assert stubborn.events.count("back") == 2


def test_optional_steps_are_skipped_when_their_target_does_not_come_or_a_later_one_is_there() -> None:
    flow = flow_with(
        steps=[
            {"name": "profile", "tap": {"id": "profile_tab"}, "optional": True, "timeout_s": 2},
            {"name": "open_create", "tap": {"id": "create_button"}},
            {"name": "maybe_ok", "tap": {"id": "ok_button"}, "optional": True, "timeout_s": 2},
            {"name": "pick_video", "tap": {"id": "video_item", "text": "{video_name}"}},
            {"name": "next", "tap": {"id": "next_button"}},
            {"name": "type_caption", "type": {"id": "caption_input"}, "text": "{caption}"},
            {"name": "publish", "tap": {"id": "share_button"}, "publish": True},
        ]
    )
    clock = FakeClock()
    device = ScriptedDevice()
    FlowRun(device, flow, dict(VARS), 1e9, clock=FlowClock(clock.now, clock.sleep)).run()
    assert "tap profile_tab" not in device.events
    assert clock.t < 2  # skipped at once: create_button (a later step's target) was on screen


def test_a_required_step_is_never_skipped_even_when_a_later_target_shows() -> None:
    device = ScriptedDevice(screen_name="caption")  # share visible, but create/pick/next never came
    with pytest.raises(ElementNotFound, match="create_button"):
        run(device)
    assert "tap share_button" not in device.events


def test_a_restart_handler_relaunches_the_app_and_starts_over() -> None:
    flow = flow_with(
        launch=True,
        handlers=[{"name": "left_the_app", "when": {"id": "popup_text"}, "restart": True, "max_times": 1}],
    )
    device = ScriptedDevice(popup_on="picker")
    run(device, flow=flow)
    assert device.events.count(f"launch {PKG}") == 2
    assert device.events.count("tap create_button") == 2


def test_a_stuck_handler_fires_only_after_the_step_waited_that_long() -> None:
    flow = flow_with(handlers=[{"name": "lost", "stuck_s": 3, "back": True, "max_times": 1}])
    device = ScriptedDevice(screen_name="popup", under_popup="feed")
    clock = FakeClock()
    FlowRun(device, flow, dict(VARS), 1e9, clock=FlowClock(clock.now, clock.sleep)).run()
    assert device.events[0] == "back"
    assert clock.t >= 3


def test_typed_text_is_checked_at_both_ends() -> None:
    long = "start " + "x" * 2200 + " 🎉 end\nline"
    assert typed_text_landed(long, long)
    assert typed_text_landed("a\nb  c", "a b c")
    assert not typed_text_landed(long, long[:100])
    assert not typed_text_landed("hello", "")
    with pytest.raises(JobError, match="not the text typed"):
        run(ScriptedDevice(field_shows="hel"))


def test_a_stop_is_honoured_between_steps_but_never_after_the_checkpoint() -> None:
    state = {"stop": False}

    def check_stop() -> None:
        if state["stop"]:
            raise StopRequested("test")

    def before_publish() -> None:
        state["stop"] = True  # a stop arrives right at the checkpoint

    with pytest.raises(PublishNotConfirmed):  # waited the whole confirmation, did not abandon it
        run(
            ScriptedDevice(after_publish="feed"),
            FlowHooks(before_publish=before_publish, check_stop=check_stop),
        )
    state["stop"] = True
    with pytest.raises(StopRequested):
        run(ScriptedDevice(), FlowHooks(check_stop=check_stop))


def test_every_action_is_recorded_with_its_screen_and_class() -> None:
    events: list[dict[str, Any]] = []
    run(ScriptedDevice(), FlowHooks(record=events.append))
    actions = [e["action"]["action"] for e in events]
    assert actions[:4] == ["tap", "tap", "tap", "tap_and_type"]
    assert events[-1]["class"] == "posted"
    assert all(isinstance(e["screen"], Screen) for e in events)
