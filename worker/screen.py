"""A phone's screen as plain data, and the selectors flows use to find things on it (pure).

A screen is a flat list of elements (resource-id, text, content-desc, class, bounds), read from
UiAutomator2's page source XML, or from a recorded session (`worker.replay`). Selectors match
elements; the flow engine, `flow check` and `flow replay` all use this one matcher, so a flow
behaves on a recorded screen exactly as on a live one.

Selector keys (all given keys must match; `any_of` matches if one of its selectors does):
`id` (a short id such as `share_button` takes the app's package; `""` means "has no id"),
`id_contains`, `desc`, `desc_contains`, `desc_starts`, `text`, `text_contains`, `text_starts`,
`class`, `clickable`, `xpath` (XPath 1.0 subset that ElementTree understands, on the page source).
`*_contains` and `*_starts` ignore case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")
KEYS = frozenset(
    {
        "id",
        "id_contains",
        "desc",
        "desc_contains",
        "desc_starts",
        "text",
        "text_contains",
        "text_starts",
        "class",
        "clickable",
        "xpath",
    }
)


@dataclass(frozen=True)
class Element:
    """One view on screen."""

    id: str  # full resource-id ("com.instagram.android:id/share_button"), "" if none
    text: str = ""
    desc: str = ""
    cls: str = ""
    bounds: tuple[int, int, int, int] = (0, 0, 0, 0)
    clickable: bool = False

    @property
    def short_id(self) -> str:
        return self.id.rsplit(":id/", 1)[-1] if self.id else ""

    @property
    def center(self) -> tuple[int, int]:
        x1, y1, x2, y2 = self.bounds
        return (x1 + x2) // 2, (y1 + y2) // 2

    def contains(self, x: int, y: int) -> bool:
        x1, y1, x2, y2 = self.bounds
        return x1 <= x <= x2 and y1 <= y <= y2

    @property
    def editable(self) -> bool:
        """A text field: what it shows was typed (a caption), never a message from the app."""
        return "EditText" in self.cls or "InputField" in self.cls

    def label(self) -> str:
        """How logs and reports name it: id, else desc, else text (shortened)."""
        name = self.short_id or self.desc or self.text or self.cls or "element"
        return name if len(name) <= 40 else name[:39] + "…"

    def key(self) -> tuple[str, str, str, tuple[int, int, int, int]]:
        return (self.id, self.text, self.desc, self.bounds)


@dataclass(frozen=True)
class Screen:
    elements: tuple[Element, ...]
    xml: str = ""  # the page source it came from; built from the elements when empty (xpath)

    def tree(self) -> tuple[ET.Element, dict[int, Element]]:
        """An XML tree of the screen (for xpath), and which element each node is."""
        if self.xml:
            try:
                root = ET.fromstring(self.xml)
            except ET.ParseError:
                root = ET.Element("hierarchy")
            keyed = {e.key(): e for e in self.elements}
            where = {id(n): keyed[k] for n in root.iter() if (k := _node_element(n).key()) in keyed}
            return root, where
        root = ET.Element("hierarchy")
        where = {}
        for e in self.elements:
            node = ET.SubElement(
                root,
                e.cls or "android.view.View",
                {
                    "resource-id": e.id,
                    "text": e.text,
                    "content-desc": e.desc,
                    "class": e.cls,
                    "clickable": str(e.clickable).lower(),
                    "bounds": "[{},{}][{},{}]".format(*e.bounds),
                },
            )
            where[id(node)] = e
        return root, where

    def texts(self) -> Iterable[str]:
        for e in self.elements:
            if e.text:
                yield e.text
            if e.desc:
                yield e.desc


def parse_bounds(text: str) -> tuple[int, int, int, int]:
    match = _BOUNDS.match(text or "")
    if match is None:
        return (0, 0, 0, 0)
    x1, y1, x2, y2 = (int(g) for g in match.groups())
    return (x1, y1, x2, y2)


def _node_element(node: ET.Element) -> Element:
    attrs = node.attrib
    return Element(
        # Appium's fake driver writes the id as `id`, UiAutomator2 as `resource-id`
        id=attrs.get("resource-id") or attrs.get("id", ""),
        text=attrs.get("text", ""),
        desc=attrs.get("content-desc", ""),
        cls=attrs.get("class", node.tag),
        bounds=parse_bounds(attrs.get("bounds", "")),
        clickable=attrs.get("clickable") == "true",
    )


def parse_page_source(xml: str) -> Screen:
    """UiAutomator2's (or a compatible) page source as a flat screen; displayed views only."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return Screen((), xml)
    elements = []
    for node in root.iter():
        attrs = node.attrib
        if node is root or attrs.get("displayed", "true") == "false":
            continue
        element = _node_element(node)
        if element.id or element.text or element.desc or "bounds" in attrs:
            elements.append(element)
    return Screen(tuple(elements), xml)


def screen_from_recording(items: Sequence[Mapping[str, Any]], package: str) -> Screen:
    """A recorded session's `ui_elements` (short ids, no package) as a screen."""
    elements = []
    for item in items:
        short = str(item.get("id") or "")
        elements.append(
            Element(
                id=f"{package}:id/{short}" if short and ":id/" not in short else short,
                text=str(item.get("text") or ""),
                desc=str(item.get("desc") or ""),
                bounds=parse_bounds(str(item.get("bounds") or "")),
                clickable=bool(item.get("clickable")),
            )
        )
    return Screen(tuple(elements))


@dataclass(frozen=True)
class Selector:
    """What to look for; `nth` picks among the matches (0: the first)."""

    keys: tuple[tuple[str, str], ...] = ()
    any_of: tuple[Selector, ...] = ()
    nth: int = 0

    def matches(self, element: Element, package: str) -> bool:
        if self.any_of:
            return any(s.matches(element, package) for s in self.any_of)
        return all(_key_matches(key, value, element, package) for key, value in self.keys)

    def find_all(self, screen: Screen, package: str) -> list[Element]:
        if self.uses_xpath():
            return self._find_with_xpath(screen, package)
        return [e for e in screen.elements if self.matches(e, package)]

    def uses_xpath(self) -> bool:
        return any(k == "xpath" for k, _ in self.keys) or any(s.uses_xpath() for s in self.any_of)

    def _find_with_xpath(self, screen: Screen, package: str) -> list[Element]:
        if self.any_of:
            found = {e.key(): e for s in self.any_of for e in s.find_all(screen, package)}
            return [e for e in screen.elements if e.key() in found]
        root, where = screen.tree()
        hits: set[tuple[str, str, str, tuple[int, int, int, int]]] = set()
        for _, xpath in (kv for kv in self.keys if kv[0] == "xpath"):
            try:
                nodes = root.findall("." + xpath if xpath.startswith("/") else xpath)
            except (SyntaxError, KeyError):
                return []
            hits |= {where[id(n)].key() for n in nodes if id(n) in where}
        rest = Selector(tuple(kv for kv in self.keys if kv[0] != "xpath"))
        return [e for e in screen.elements if e.key() in hits and rest.matches(e, package)]

    def find(self, screen: Screen, package: str) -> Element | None:
        found = self.find_all(screen, package)
        return found[self.nth] if len(found) > self.nth else None

    def render(self, variables: Mapping[str, str]) -> Selector:
        """The selector with {placeholders} filled in."""
        return Selector(
            tuple((k, v.format_map(variables)) for k, v in self.keys),
            tuple(s.render(variables) for s in self.any_of),
            self.nth,
        )

    def __str__(self) -> str:
        if self.any_of:
            return " or ".join(f"({s})" for s in self.any_of)
        return ", ".join(f"{k}={v!r}" for k, v in self.keys) + (f" #{self.nth}" if self.nth else "")


def _key_matches(key: str, value: str, e: Element, package: str) -> bool:
    if key == "id":
        if not value:
            return not e.id
        return e.id == value if ":id/" in value or not package else e.id in (f"{package}:id/{value}", value)
    if key == "id_contains":
        return value.lower() in e.short_id.lower()
    if key == "desc":
        return e.desc == value
    if key == "desc_contains":
        return value.lower() in e.desc.lower()
    if key == "desc_starts":
        return e.desc.lower().startswith(value.lower())
    if key == "text_starts":
        return e.text.lower().startswith(value.lower())
    if key == "xpath":
        return True  # evaluated on the tree by find_all
    if key == "text":
        return e.text == value
    if key == "text_contains":
        return value.lower() in e.text.lower()
    if key == "class":
        return e.cls == value
    if key == "clickable":
        return e.clickable == (value == "true")
    return False


def parse_selector(raw: Any, where: str) -> Selector:
    """A selector from flow JSON; ValueError naming `where` and what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a selector must be an object")
    nth = raw.get("nth", 0)
    if not isinstance(nth, int) or nth < 0:
        raise ValueError(f"{where}.nth: must be a whole number >= 0")
    if "any_of" in raw:
        options = raw["any_of"]
        if not isinstance(options, list) or not options:
            raise ValueError(f"{where}.any_of: must list at least one selector")
        return Selector(
            (), tuple(parse_selector(o, f"{where}.any_of[{i}]") for i, o in enumerate(options)), nth
        )
    keys = [(k, v) for k, v in raw.items() if k != "nth"]
    unknown = [k for k, _ in keys if k not in KEYS]
    if unknown or not keys:
        known = ", ".join(sorted(KEYS | {"any_of", "nth"}))
        raise ValueError(f"{where}: unknown or no keys {unknown}; known: {known}")
    if not all(isinstance(v, str | bool) for _, v in keys):
        raise ValueError(f"{where}: selector values must be text")
    return Selector(tuple((k, str(v).lower() if isinstance(v, bool) else v) for k, v in keys), (), nth)
