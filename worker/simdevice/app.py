"""The simulated posting app: screens as data, taps and typing as state changes (no I/O).

Screens: feed -> picker -> caption -> posting -> posted (or post_failed), plus one account-problem
screen per account scenario. Element ids and texts match `worker/flows/default.json`. Scenarios
(drawn by the GeeLark simulator per session) decide where the app misbehaves:
account scenarios show their screen at launch (actionblocked: when Create is tapped),
session_lost kills the session on reaching the caption screen, element_missing hides the Share
button, slow_post/post_fails change what happens after the publish tap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

PACKAGE = "com.example.poster"
ACCOUNT_SCREENS = {
    "suspended": "We suspended your account. You can appeal within 30 days.",
    "banned": "Your account has been banned for violating our terms.",
    "captcha": "Enter the code from the picture to confirm you're human.",
    "loggedout": "You've been logged out. Log in to continue.",
    "actionblocked": "Action Blocked. We restrict certain activity to protect our community.",
    "verification": "Confirm it's you: verify your identity to continue.",
}
POSTED_TEXT = "Your video has been posted"
FAILED_TEXT = "Couldn't post your video. Please retry."


def rid(name: str) -> str:
    """The Android resource-id of one of the app's views."""
    return f"{PACKAGE}:id/{name}"


@dataclass(frozen=True)
class Node:
    """One view on screen (what UiAutomator2 would dump)."""

    cls: str
    resource_id: str
    text: str = ""
    desc: str = ""
    clickable: bool = False
    bounds: str = ""  # "[x1,y1][x2,y2]"; empty = laid out in a column
    extra: str = ""  # the app's own note (a gallery thumbnail: the file it shows)


@dataclass(frozen=True)
class Publish:
    """The app's request to publish: the server forwards it to the cloud simulator."""

    video: str
    caption: str


@dataclass
class SimApp:
    """One app session. `clock` is monotonic seconds; `post_delay_s` is real seconds."""

    scenario: str
    files: list[str]
    post_delay_s: float
    clock: Callable[[], float] = time.monotonic
    screen: str = "feed"
    generation: int = 0
    selected: str = ""
    caption: str = ""
    posted_at: float | None = None
    session_lost: bool = False

    def __post_init__(self) -> None:
        if self.scenario in ACCOUNT_SCREENS and self.scenario != "actionblocked":
            self.screen = "problem"

    def nodes(self) -> list[Node]:
        """The views on the current screen (advancing time-driven screens first)."""
        self._advance()
        builder = getattr(self, f"_screen_{self.screen}")
        return list(builder())

    def tap(self, node: Node) -> Publish | None:
        """Tap a view; returns a Publish when the tap is the irreversible share."""
        name = node.resource_id.removeprefix(f"{PACKAGE}:id/")
        if self.screen == "feed" and name == "create_button":
            self._go("problem" if self.scenario == "actionblocked" else "picker")
        elif self.screen == "picker" and name == "video_item":
            self.selected = node.text
        elif self.screen == "picker" and name == "next_button" and self.selected:
            self._go("caption")
            self.session_lost = self.scenario == "session_lost"
        elif self.screen == "caption" and name == "share_button":
            self.posted_at = self.clock() + self.post_delay_s
            self._go("posting")
            if self.scenario != "post_fails":
                return Publish(video=self.selected, caption=self.caption)
        return None

    def type_text(self, node: Node, text: str) -> bool:
        """Type into the caption field; False if the view does not take text."""
        if node.resource_id != rid("caption_input") or self.screen != "caption":
            return False
        self.caption = text
        return True

    def clear_text(self, node: Node) -> bool:
        return self.type_text(node, "")

    def back(self) -> None:
        """The example app has no back stack."""

    def launch(self) -> None:
        """Force-stopped and started: the example app opens where a new session does."""

    def _go(self, screen: str) -> None:
        self.screen = screen
        self.generation += 1

    def _advance(self) -> None:
        if self.screen == "posting" and self.posted_at is not None and self.clock() >= self.posted_at:
            self._go("post_failed" if self.scenario == "post_fails" else "posted")

    def _screen_feed(self) -> list[Node]:
        return [
            Node("android.widget.TextView", rid("feed_title"), "Home"),
            Node("android.widget.Button", rid("create_button"), "Create", "Create", clickable=True),
        ]

    def _screen_picker(self) -> list[Node]:
        items = [
            Node("android.widget.TextView", rid("video_item"), path.rsplit("/", 1)[-1], clickable=True)
            for path in self.files
        ]
        return [
            Node("android.widget.TextView", rid("picker_title"), "Select a video"),
            *items,
            Node("android.widget.Button", rid("next_button"), "Next", clickable=True),
        ]

    def _screen_caption(self) -> list[Node]:
        nodes = [
            Node("android.widget.TextView", rid("caption_title"), "New post"),
            Node("android.widget.EditText", rid("caption_input"), self.caption, clickable=True),
        ]
        if self.scenario != "element_missing":
            nodes.append(Node("android.widget.Button", rid("share_button"), "Share", clickable=True))
        return nodes

    def _screen_posting(self) -> list[Node]:
        return [Node("android.widget.TextView", rid("posting_progress"), "Sharing your video…")]

    def _screen_posted(self) -> list[Node]:
        return [
            Node("android.widget.TextView", rid("posted_banner"), POSTED_TEXT),
            Node("android.widget.Button", rid("create_button"), "Create", "Create", clickable=True),
        ]

    def _screen_post_failed(self) -> list[Node]:
        return [Node("android.widget.TextView", rid("error_text"), FAILED_TEXT)]

    def _screen_problem(self) -> list[Node]:
        return [
            Node("android.widget.TextView", rid("problem_text"), ACCOUNT_SCREENS[self.scenario]),
            Node("android.widget.Button", rid("ok_button"), "OK", clickable=True),
        ]
