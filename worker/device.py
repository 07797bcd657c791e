"""The flow engine's Device on a live Appium session (real UiAutomator2, the fake driver, or the
simulated phone): one page-source read per look, taps and typing on the element the engine chose.

An element from the page source is found again through Appium by its resource-id (the n-th of
that id, in page order, as on the screen the engine looked at), else its content-desc, else its
text; an element with none of these is tapped at the centre of its bounds.
"""

from __future__ import annotations

import logging
from typing import Any

from worker.screen import Element, Screen, parse_page_source

log = logging.getLogger(__name__)


def xpath_literal(text: str) -> str:
    """`text` as an XPath 1.0 string literal (either quote may appear in it)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


class AppiumDevice:
    """A Device (worker.flow_engine) over an Appium WebDriver session."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.last = Screen(())

    def screen(self) -> Screen:
        self.last = parse_page_source(self.driver.page_source)
        return self.last

    def _locate(self, element: Element) -> Any | None:
        same = [e for e in self.last.elements if _identity(e) == _identity(element)]
        ordinal = same.index(element) if element in same else 0
        if element.id:
            found = self.driver.find_elements("id", element.id)
        elif element.desc:
            found = self.driver.find_elements("accessibility id", element.desc)
        elif element.text:
            found = self.driver.find_elements("xpath", f"//*[@text={xpath_literal(element.text)}]")
        else:
            return None
        if len(found) == len(same):
            return found[ordinal]  # the screen has not changed since the engine looked
        narrowed = [f for f in found if _shows(f, element)]
        return narrowed[0] if narrowed else None

    def tap(self, element: Element, *, handler: str = "") -> None:
        located = self._locate(element)
        if located is not None:
            located.click()
            return
        x, y = element.center
        log.info("no locator for %s: tapping at (%d, %d)", element.label(), x, y)
        self.driver.tap([(x, y)])

    def type_into(self, element: Element, text: str) -> str:
        located = self._locate(element)
        if located is None:
            self.tap(element)
            located = self.driver.switch_to.active_element
        located.clear()
        located.send_keys(text)
        return str(located.text or "")

    def back(self, *, handler: str = "") -> None:
        self.driver.back()

    def press_key(self, code: int, *, handler: str = "") -> None:
        self.driver.press_keycode(code)

    def scroll(self, direction: str) -> None:
        x1, y1, x2, y2 = _screen_box(self.last)
        width, height = x2 - x1, y2 - y1
        self.driver.execute_script(
            "mobile: scrollGesture",
            {
                "left": x1 + width // 10,
                "top": y1 + height // 5,
                "width": width * 8 // 10,
                "height": height * 3 // 5,
                "direction": direction,
                "percent": 0.75,
            },
        )

    def launch(self, package: str, activity: str) -> None:
        """Force-stop the app, then start it: a job never begins on the screen the last one left."""
        self.driver.execute_script("mobile: terminateApp", {"appId": package})
        self.driver.execute_script("mobile: activateApp", {"appId": package})


def _identity(e: Element) -> tuple[str, str]:
    if e.id:
        return ("id", e.id)
    if e.desc:
        return ("desc", e.desc)
    return ("text", e.text)


def _shows(found: Any, element: Element) -> bool:
    """Does the Appium element show the same text/description as the page-source element?"""
    from selenium.common.exceptions import WebDriverException

    try:
        if element.text and (found.text or "") != element.text:
            return False
        return not element.desc or (found.get_attribute("content-desc") or "") == element.desc
    except WebDriverException:  # a stale element simply does not match
        return False


def _screen_box(screen: Screen) -> tuple[int, int, int, int]:
    boxes = [e.bounds for e in screen.elements if e.bounds != (0, 0, 0, 0)]
    if not boxes:
        return (0, 0, 1080, 2400)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
