"""The model-free GUI planner, policy writer and repairer (the GUI kit's `rule` backends).

- :class:`GuiRulePlanner`: a grammar for GUI instructions grounded on the screen, revised after
  every subgoal from the new screen and a compact action history (D-PoT), with loop detection.
- :class:`GuiTemplateWriter`: one readable code policy per subgoal over the GUI primitives.
- :class:`GuiRepairer`: repairs chosen by failure category (not found, wrong state, timeout).
"""

from planners.gui.planner import GuiRulePlanner
from planners.gui.repairer import GuiRepairer
from planners.gui.writer import GuiPolicyOptions, GuiTemplateWriter

__all__ = ["GuiPolicyOptions", "GuiRepairer", "GuiRulePlanner", "GuiTemplateWriter"]
