"""Seeded faults injected at the skills' hook points, so that repair can be measured.

Each opportunity draws from the perturbation stream (seeded from the episode seed) whether or not
the fault fires, so the draws stay aligned run to run. Physics stays honest: a slip opens the real
fingers, a nudge or a moved target is an outside hand putting the object down elsewhere (then
physics settles it), a distractor is a new body dropped into the scene. At most
``max_events`` faults fire per episode; each is recorded as
``{"name", "time", "object", "details"}`` with ``time`` in simulated seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.tabletop.config import PALETTE, ObjectConfig, PerturbationConfig
from sim.tabletop.world import TabletopWorld

MATCH_RADIUS = 0.06  # metres: the body the agent means is the one nearest its belief, within this
DISTRACTOR_SIZE = 0.03
SETTLE_S = 0.3


class Perturbations:
    """Implements ``robots.skills.PerturbationHooks`` against a :class:`TabletopWorld`."""

    def __init__(self, config: PerturbationConfig, world: TabletopWorld, rng: np.random.Generator) -> None:
        self.config = config
        self.world = world
        self.rng = rng
        self.events: list[dict[str, Any]] = []
        self._target_moved = False
        self._distractors = 0

    # -- bookkeeping ------------------------------------------------------------------------

    def _fires(self, probability: float) -> bool:
        draw = float(self.rng.random())  # drawn every time: keeps the stream aligned
        return probability > 0 and draw < probability and len(self.events) < self.config.max_events

    def _record(self, name: str, obj: str | None, **details: Any) -> None:
        self.events.append({"name": name, "time": round(self.world.sim_time, 4), "object": obj,
                            "details": details})

    def _nearest(self, position: tuple[float, float, float], movable_only: bool) -> str | None:
        best, best_d = None, MATCH_RADIUS
        held = self.world.robot.grasped_id()
        for name, obj in self.world.objects.items():
            if obj.body == held or (movable_only and obj.fixed):
                continue
            pos, _ = self.world.pose(name)
            d = math.hypot(pos[0] - position[0], pos[1] - position[1])
            if d < best_d:
                best, best_d = name, d
        return best

    # -- hooks ------------------------------------------------------------------------------

    def before_pick(self, name: str, position: tuple[float, float, float]) -> None:
        """Nudge: shove the object about to be picked by ``nudge_distance`` before the fingers arrive."""
        if not self._fires(self.config.nudge):
            return
        body_name = self._nearest(position, movable_only=True)
        if body_name is None:
            return
        obj = self.world.objects[body_name]
        start, _ = self.world.pose(body_name)
        d = self.config.nudge_distance
        spot = self.world.free_spot((start[0], start[1]), math.hypot(obj.dims[0], obj.dims[1]) / 2, (d, d),
                                    self.rng, exclude=(body_name,))
        if spot is None:
            return
        self.world.move_object(body_name, *spot)
        self.world.settle(SETTLE_S)
        end, _ = self.world.pose(body_name)
        self._record("nudge", body_name, agent_name=name, start=[round(v, 4) for v in start],
                     end=[round(v, 4) for v in end])

    def during_transport(self, destination: tuple[float, float, float]) -> None:
        """Slip: the carried object is knocked out (the fingers open briefly). Move target: the
        object at the destination is put somewhere else, once per episode."""
        robot = self.world.robot
        if self._fires(self.config.slip) and robot.holding():
            held = self.world.name_of(robot.grasped_id() or -1)
            (x, y, z), _ = robot.ee_pose()
            robot.open_gripper()
            robot.close_gripper()
            self._record("slip", held, at=[round(x, 4), round(y, 4), round(z, 4)])
        if not self._target_moved and self._fires(self.config.move_target):
            target = self._nearest(destination, movable_only=False)
            if target is None:
                return
            obj = self.world.objects[target]
            start, _ = self.world.pose(target)
            spot = self.world.free_spot((start[0], start[1]), math.hypot(obj.dims[0], obj.dims[1]) / 2,
                                        (0.08, 0.16), self.rng, exclude=(target,))
            if spot is None:
                return
            self.world.move_object(target, *spot)
            self.world.settle(SETTLE_S)
            self._target_moved = True
            end, _ = self.world.pose(target)
            self._record("move_target", target, start=[round(v, 4) for v in start], end=[round(v, 4) for v in end])

    def before_place(self, target: str | None, destination: tuple[float, float, float]) -> None:
        """Distractor: a small cube appears on or right next to the place target."""
        if not self._fires(self.config.distractor):
            return
        on_top = bool(self.rng.random() < 0.5)
        used = {o.color for o in self.world.objects.values()}
        colours = [c for c in PALETTE if c not in used] or list(PALETTE)
        colour = colours[int(self.rng.integers(len(colours)))]
        if on_top:
            x, y = destination[0], destination[1]
        else:
            spot = self.world.free_spot((destination[0], destination[1]), DISTRACTOR_SIZE * 0.71, (0.06, 0.09),
                                        self.rng)
            if spot is None:
                return
            x, y = spot
        self._distractors += 1
        name = f"{colour} distractor" + (f" {self._distractors}" if self._distractors > 1 else "")
        cfg = ObjectConfig(name=name, shape="cube", color=colour, size=DISTRACTOR_SIZE)
        self.world.spawn(cfg, x, y, float(self.rng.uniform(-math.pi, math.pi)), distractor=True)
        self.world.settle(SETTLE_S)
        self._record("distractor", name, target=target, on_target=on_top, at=[round(x, 4), round(y, 4)])
