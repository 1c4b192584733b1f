"""Every backend name, in one place. Config validation and the factories both read these
registries, so a name is written exactly once."""

from __future__ import annotations

from embodied.registry import Registry

_REGISTRIES: dict[str, Registry] = {}


def _make(kind: str) -> Registry:
    reg = Registry(kind)
    _REGISTRIES[kind] = reg
    return reg


ENVS = _make("env")
ENVS.register("tabletop", "sim.tabletop.env:TabletopEnv", config="sim.tabletop.config:TabletopConfig",
              summary="PyBullet table with a Franka Panda and configurable objects")

ROBOTS = _make("robot")
ROBOTS.register("panda", "robots.panda:PandaArm", summary="Franka Panda in PyBullet")

DETECTORS = _make("detector")
DETECTORS.register("rgbd", "perception.detection:RGBDDetector",
                   summary="colour + depth segmentation of camera images, back-projected to 3-D")

PLANNERS = _make("planner")
PLANNERS.register("rule", "planners.rule:RulePlanner", summary="model-free grammar planner")
PLANNERS.register("fixed", "planners.fixed:FixedPlanner", summary="one subgoal running task.policy")

WRITERS = _make("writer")
WRITERS.register("rule", "planners.rule:TemplateWriter", summary="policy templates per action")
WRITERS.register("fixed", "planners.fixed:FixedWriter", summary="returns task.policy unchanged")

REPAIRERS = _make("repairer")
REPAIRERS.register("rule", "planners.rule:CategoryRepairer", summary="repairs keyed by failure category")
REPAIRERS.register("fixed", "planners.fixed:NoRepair", summary="never repairs")

MONITORS = _make("monitor")
MONITORS.register("trace", "perception.monitors:TraceMonitor", summary="exceptions, failed primitives, budgets")
MONITORS.register("geometric", "perception.monitors:GeometricMonitor",
                  summary="subgoal predicates on object poses estimated from images")

MODELS = _make("model")


def registry(kind: str) -> Registry:
    return _REGISTRIES[kind]


def kinds() -> list[str]:
    return sorted(_REGISTRIES)
