"""The twin's accessibility tree as ``uiautomator dump`` writes it (XML, bounds in screen pixels)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

_FLAGS = (("checkable", "k"), ("checked", "K"), ("clickable", "c"), ("enabled", "e"), ("focusable", "f"),
          ("focused", "F"), ("scrollable", "s"), ("long-clickable", "l"), ("password", "p"), ("selected", "S"))


def dump_xml(tree: list[Any], dpr: float, package: str) -> str:
    """XML of a tree from ``a11y.js`` (CSS pixels scaled by ``dpr`` to screen pixels)."""
    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"0\">"]

    def node(item: list[Any], index: int) -> None:
        cls, ident, text, desc, hint, flags, left, top, right, bottom, children = item
        bounds = f"[{round(left * dpr)},{round(top * dpr)}][{round(right * dpr)},{round(bottom * dpr)}]"
        resource_id = (ident if ":" in ident else f"{package}:id/{ident}") if ident else ""
        attrs = [("index", str(index)), ("text", text), ("resource-id", resource_id),
                 ("class", cls), ("package", package), ("content-desc", desc)]
        attrs += [(name, "true" if letter in flags else "false") for name, letter in _FLAGS]
        attrs += [("bounds", bounds)]
        if hint:
            attrs.append(("hint", hint))
        head = "<node " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs)
        if not children:
            lines.append(head + " />")
            return
        lines.append(head + ">")
        for i, child in enumerate(children):
            node(child, i)
        lines.append("</node>")

    node(tree, 0)
    lines.append("</hierarchy>")
    return "".join(lines)
