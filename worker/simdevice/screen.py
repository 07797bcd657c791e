"""The simulated screen as UiAutomator2 shows it: page source XML and element lookup (pure).

Locator strategies: `id` (resource-id), `accessibility id` (content-desc), `class name`, `xpath`
(the subset ElementTree understands: `//tag[@attr='v'][@other='w']`, which is also valid XPath 1.0
for Appium's drivers) and `-android uiautomator` (`new UiSelector().resourceId("..").text("..")`).
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from xml.etree import ElementTree as ET

from worker.simdevice.app import PACKAGE, Node

WIDTH, HEIGHT = 1080, 2400
_UI_SELECTOR = re.compile(r'\.(\w+)\("((?:[^"\\]|\\.)*)"\)')
_UI_FIELDS = {
    "resourceId": lambda n, v: n.resource_id == v,
    "text": lambda n, v: n.text == v,
    "textContains": lambda n, v: v in n.text,
    "description": lambda n, v: n.desc == v,
    "className": lambda n, v: n.cls == v,
}


class InvalidSelector(ValueError):
    """The locator cannot be parsed or the strategy is not supported."""


def bounds_of(node: Node, index: int) -> tuple[int, int, int, int]:
    numbers = [int(n) for n in re.findall(r"-?\d+", _attrs(node, index)["bounds"])]
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def _attrs(node: Node, index: int) -> dict[str, str]:
    top = 200 + 160 * index
    return {
        "index": str(index),
        "package": node.resource_id.split(":id/")[0] if ":id/" in node.resource_id else PACKAGE,
        "class": node.cls,
        "text": node.text,
        "resource-id": node.resource_id,
        "content-desc": node.desc,
        "clickable": str(node.clickable).lower(),
        "enabled": "true",
        "displayed": "true",
        "bounds": node.bounds or f"[40,{top}][{WIDTH - 40},{top + 120}]",
    }


def build_tree(nodes: list[Node]) -> tuple[ET.Element, dict[int, int]]:
    """The hierarchy, and a map from each view element's id() to its index in `nodes`."""
    root = ET.Element(
        "hierarchy",
        {"index": "0", "class": "hierarchy", "rotation": "0", "width": str(WIDTH), "height": str(HEIGHT)},
    )
    frame = ET.SubElement(
        root,
        "android.widget.FrameLayout",
        {
            "index": "0",
            "package": PACKAGE,
            "class": "android.widget.FrameLayout",
            "resource-id": "android:id/content",
            "text": "",
            "content-desc": "",
        },
    )
    where: dict[int, int] = {}
    for i, node in enumerate(nodes):
        element = ET.SubElement(frame, node.cls, _attrs(node, i))
        where[id(element)] = i
    return root, where


def page_source(nodes: list[Node]) -> str:
    root, _ = build_tree(nodes)
    body = ET.tostring(root, encoding="unicode")
    return "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>" + body


def find(nodes: list[Node], using: str, value: str) -> list[int]:
    """Indexes of the views matching a W3C/Appium locator. Raises InvalidSelector."""
    if using == "id":
        return [i for i, n in enumerate(nodes) if n.resource_id == value]
    if using == "accessibility id":
        return [i for i, n in enumerate(nodes) if n.desc == value]
    if using == "class name":
        return [i for i, n in enumerate(nodes) if n.cls == value]
    if using == "xpath":
        return _find_xpath(nodes, value)
    if using == "-android uiautomator":
        return _find_uiselector(nodes, value)
    raise InvalidSelector(f"locator strategy {using!r} is not supported")


def _find_xpath(nodes: list[Node], value: str) -> list[int]:
    if not value.startswith("//"):
        raise InvalidSelector(f"only //... XPath is supported, not {value!r}")
    root, where = build_tree(nodes)
    try:
        found = root.findall("." + value)
    except (SyntaxError, KeyError) as exc:
        raise InvalidSelector(f"XPath {value!r} cannot be evaluated: {exc}") from exc
    return [where[id(e)] for e in found if id(e) in where]


def _find_uiselector(nodes: list[Node], value: str) -> list[int]:
    parts = _UI_SELECTOR.findall(value)
    if not value.strip().startswith("new UiSelector()") or not parts:
        raise InvalidSelector(f"UiSelector {value!r} cannot be parsed")
    unknown = [name for name, _ in parts if name not in _UI_FIELDS]
    if unknown:
        raise InvalidSelector(f"UiSelector method(s) {unknown} are not supported")
    return [i for i, n in enumerate(nodes) if all(_UI_FIELDS[name](n, v) for name, v in parts)]


def tiny_png_base64() -> str:
    """A valid 1x1 grey PNG, base64 (what a screenshot returns)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode("ascii")
