"""The model-free planner, policy writer and repairer ("rule" backends).

- :class:`RulePlanner`: a grammar for tabletop instructions -> a plan of object movements,
  revised after every subgoal and replanned when repairs run out.
- :class:`TemplateWriter`: one readable code policy per subgoal.
- :class:`CategoryRepairer`: repairs chosen by failure category.
"""

from planners.rule.planner import RulePlanner
from planners.rule.repairer import CategoryRepairer
from planners.rule.writer import PolicyOptions, TemplateWriter

__all__ = ["CategoryRepairer", "PolicyOptions", "RulePlanner", "TemplateWriter"]
