"""`rule` means the model-free backend of the world at hand: the tabletop grammar on a table, the
GUI grammar on a screen. One name for users; the env's domain picks the implementation."""

from __future__ import annotations

from typing import Any

from embodied.errors import ConfigError
from embodied.registry import load_target

# domain -> (planner, writer, repairer)
RULE_BACKENDS: dict[str, tuple[str, str, str]] = {
    "tabletop": ("planners.rule:RulePlanner", "planners.rule:TemplateWriter", "planners.rule:CategoryRepairer"),
    "gui": ("planners.gui:GuiRulePlanner", "planners.gui:GuiTemplateWriter", "planners.gui:GuiRepairer"),
}


def _build(domain: str, part: int) -> Any:
    try:
        target = RULE_BACKENDS[domain][part]
    except KeyError:
        raise ConfigError(f"the rule backends know no {domain!r} world", field="agent.planner",
                          hint=f"known: {', '.join(RULE_BACKENDS)}") from None
    return load_target(target)()


def rule_planner(domain: str = "tabletop") -> Any:
    """The model-free planner for ``domain``."""
    return _build(domain, 0)


def rule_writer(domain: str = "tabletop") -> Any:
    """The template writer for ``domain``."""
    return _build(domain, 1)


def rule_repairer(domain: str = "tabletop") -> Any:
    """The category-keyed repairer for ``domain``."""
    return _build(domain, 2)
