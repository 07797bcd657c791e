"""The simulated phone's Instagram (pure): screens from `instagram.json`, moves between them.

The screens carry the real app's ids, descriptions and texts (reduced from recorded real
sessions), so `worker/flows/instagram_reels.json` drives it exactly as it drives the real app.
The session's scenario (drawn by the GeeLark simulator) decides where it misbehaves, like the
example app (worker.simdevice.app); on an `ok` session it may also interrupt as the real app does
(a card to dismiss on the feed, a "Not now" prompt, a rating prompt, the camera opening in another
mode, a first gallery tap that does not take), drawn from the session's own random numbers.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from worker.simdevice.app import Node, Publish

PACKAGE = "com.instagram.android"
DATA = Path(__file__).resolve().parent / "instagram.json"
TAB_SCREENS = frozenset(
    {"feed", "feed_dismiss", "profile", "profile_not_now", "create_menu", "sharing", "posted", "post_failed"}
)
ACCOUNT_SCREENS = {
    "suspended": "suspended",
    "banned": "banned",
    "captcha": "captcha",
    "verification": "verification",
    "loggedout": "logged_out",
}
HINT = "Write a caption and add hashtags…"
INTERRUPTIONS = ("feed_dismiss", "profile_not_now", "rate_prompt", "camera", "stuck_gallery")


@cache
def screens_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def rid(short: str) -> str:
    return f"{PACKAGE}:id/{short}" if short else ""


@dataclass
class InstagramApp:
    """One app session. Same interface as SimApp (nodes, tap, type_text, clear_text) plus back
    and launch. `clock` is monotonic seconds; `post_delay_s` real seconds."""

    scenario: str
    files: list[str]
    post_delay_s: float
    account: str = "account"
    interruption_rate: float = 0.0
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    screen: str = "feed"
    generation: int = 0
    caption: str = ""
    typed: bool = False
    posted_at: float | None = None
    session_lost: bool = False
    selected: str = ""
    pending: set[str] = field(default_factory=set)  # interruptions still to show

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        if self.scenario == "ok" and self.interruption_rate > 0:
            self.pending = {name for name in INTERRUPTIONS if rng.random() < self.interruption_rate}
        self.screen = ACCOUNT_SCREENS.get(self.scenario, "feed")

    # -- what the phone shows ---------------------------------------------------------------------
    def nodes(self) -> list[Node]:
        self._advance()
        data = screens_data()
        out: list[Node] = []
        for item in data["screens"][self.screen]:
            if item.get("@thumbnails"):
                out.extend(self._thumbnails())
                continue
            if item.get("@share") and self.scenario == "element_missing":
                continue
            if item.get("@typed") and not self.typed:
                continue
            out.append(self._node(item))
        if self.screen in TAB_SCREENS:
            out.extend(self._node(item) for item in data["tab_bar"])
        return out

    def _node(self, item: dict[str, Any]) -> Node:
        values = {"account": self.account, "caption_or_hint": self.caption or HINT}
        return Node(
            str(item.get("class", "android.widget.TextView" if item.get("text") else "android.view.View")),
            rid(str(item.get("id", ""))),
            str(item.get("text", "")).format_map(values),
            str(item.get("desc", "")).format_map(values),
            clickable=bool(item.get("clickable", False)),
            bounds=str(item.get("bounds", "")),
        )

    def _thumbnails(self) -> list[Node]:
        nodes = []
        for i, path in enumerate(list(reversed(self.files))[:8]):  # newest first, as Recents
            col, row = (i + 1) % 3, (i + 1) // 3
            x1, y1 = 3 + 239 * col, 274 + 420 * row
            nodes.append(
                Node(
                    "android.widget.ImageView",
                    rid("gallery_grid_item_thumbnail"),
                    "",
                    f"Unselected Video thumbnail created on December 1, 2026 {i + 1}:00 PM",
                    clickable=True,
                    bounds=f"[{x1},{y1}][{x1 + 236},{y1 + 419}]",
                    extra=path,
                )
            )
        return nodes

    # -- what the engine does ---------------------------------------------------------------------
    def tap(self, node: Node) -> Publish | None:
        short = node.resource_id.removeprefix(f"{PACKAGE}:id/")
        if self.screen == "caption" and short == "share_button":
            self.posted_at = self.clock() + self.post_delay_s
            self._go("sharing")
            if self.scenario != "post_fails":
                return Publish(video=self.selected, caption=self.caption)
            return None
        if self.screen == "gallery" and short == "gallery_grid_item_thumbnail":
            if "stuck_gallery" in self.pending:
                self.pending.discard("stuck_gallery")  # the first tap does not take
                return None
            self.selected = node.extra.rsplit("/", 1)[-1]
        if self.screen == "profile" and node.desc == "Create New" and self.scenario == "actionblocked":
            self._go("action_blocked")
            return None
        if self.screen == "caption" and short == "action_bar_button_text":
            self.typed = False  # the keyboard closes; the caption stays
            return None
        taps: dict[str, str] = screens_data()["taps"].get(self.screen, {})
        for key in (short, f"desc:{node.desc}", f"text:{node.text}"):
            if key in taps and (key != "" and key not in ("desc:", "text:")):
                self._go(self._interrupted(taps[key]))
                return None
        return None

    def type_text(self, node: Node, text: str) -> bool:
        if node.resource_id != rid("caption_input_text_view") or self.screen != "caption":
            return False
        self.caption = text
        self.typed = bool(text)  # the keyboard's OK shows (after the field: indexes stay)
        return True

    def clear_text(self, node: Node) -> bool:
        if node.resource_id != rid("caption_input_text_view") or self.screen != "caption":
            return False
        self.caption = ""
        return True

    def back(self) -> None:
        target = screens_data()["back"].get(self.screen)
        if target:
            self._go(target)

    def launch(self) -> None:
        """Force-stopped and started: the feed (or the account's notice)."""
        self.typed = False
        self.caption = ""
        if self.scenario in ACCOUNT_SCREENS:
            self._go(ACCOUNT_SCREENS[self.scenario])
        else:
            self._go(self._interrupted("feed"))

    # -- time and interruptions ----------------------------------------------------------------------
    def _interrupted(self, target: str) -> str:
        """Where a move really lands: an interruption may come first (once each)."""
        detour = {"feed": "feed_dismiss", "profile": "profile_not_now", "gallery": "camera"}.get(target)
        if detour is not None and self._take(detour if detour != "camera" else "camera"):
            return detour
        if target == "feed" and self._take("rate_prompt"):
            return "rate_prompt"
        if target == "caption":
            self.session_lost = self.scenario == "session_lost"
        return target

    def _take(self, name: str) -> bool:
        if name in self.pending:
            self.pending.discard(name)
            return True
        return False

    def _go(self, screen: str) -> None:
        self.screen = screen
        self.generation += 1

    def _advance(self) -> None:
        if self.screen == "sharing" and self.posted_at is not None and self.clock() >= self.posted_at:
            self._go("post_failed" if self.scenario == "post_fails" else "posted")
