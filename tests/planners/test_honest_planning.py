"""The GUI planner does not turn words of the instruction into fake work: a value that refers to
the screen is read from it (or the plan fails), nothing is "selected" for "select nothing", and
an element that names only a fragment of a description never stands in for it. Screens written
for these tests."""

from __future__ import annotations

import pytest
from gui_screens import ScriptedScreen, el

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.sandbox import Sandbox
from embodied.types import Observation, UIElement
from perception.monitors import TraceMonitor
from perception.screen_monitor import ScreenMonitor
from planners.errors import PlanningError
from planners.gui import GuiRepairer, GuiRulePlanner, GuiTemplateWriter
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv


def screen(*elements: UIElement) -> Observation:
    return Observation(elements=list(elements))


def planner() -> GuiRulePlanner:
    return GuiRulePlanner(semantic=False)


def test_a_value_named_by_its_label_is_read_from_the_screen() -> None:
    shop = screen(el("k1", "text", "Colour", 20, width=60), el("v1", "text", "Teal", 20, left=200, width=60),
                  el("k2", "text", "Size", 50, width=60), el("v2", "text", "XL", 50, left=200, width=60),
                  el("f", "textbox", "", 90), el("b", "button", "Order", 130))
    plan = planner().decompose("Write the value of Size into the text field and press Order.", shop)
    assert plan.subgoals[0].args["text"] == "XL"
    with pytest.raises(PlanningError, match="points at text on screen"):
        planner().decompose("Type the text below into the text field and press Order.", shop)
    with pytest.raises(PlanningError, match="no text beside"):
        planner().decompose("Write the value of Weight into the text field.", shop)


def test_select_nothing_selects_nothing() -> None:
    boxes = screen(el("c1", "checkbox", "apple", 20, checked=False), el("c2", "checkbox", "pear", 50, checked=False),
                   el("b", "button", "Done", 90))
    plan = planner().decompose("Select nothing and press Done.", boxes)
    assert [s.action for s in plan.subgoals] == ["tap"] and plan.subgoals[0].args["label"] == "Done"


def test_a_fragment_of_the_target_is_never_tapped_in_its_place() -> None:
    # A menu path "Garden>Tools" where only "Garden" shows: tapping it would look like success.
    page = [el("m1", "menuitem", "Kitchen", 20), el("m2", "menuitem", "Garden", 50), el("b", "button", "Close", 90)]
    gui = ScriptedScreen(page)
    env = GuiAgentEnv(GuiConfig(backend="desktop", semantic=False), gui=gui)
    env.reset(0)
    agent = Agent(planner(), GuiTemplateWriter(), GuiRepairer(semantic=False),
                  HybridMonitor([TraceMonitor(), ScreenMonitor()]), Sandbox(), LoopBudgets(2, 1, 10))
    run = agent.run("Select Garden>Tools", env)
    assert not run.claimed_success
    assert ("tap", "Garden") not in gui.log
