"""The tabletop as a ``gymnasium.Env`` for learning-based baselines.

Action: ``Box(-1, 1, (4,), float32)``. ``a[:3]`` is the end-effector displacement (dx, dy, dz) in
units of ``MAX_DELTA`` (2 cm): it is clipped to [-1, 1] and the target to the ``WORKSPACE`` box;
``a[3] > 0`` closes the gripper, ``a[3] <= 0`` opens it (the gripper only acts when the command
changes, and waits for the fingers to stop).

Observation: ``Dict`` of ``"ee"`` (grasp point x, y, z in metres), ``"gripper_width"`` (metres)
and ``"objects"`` (one row of x, y, z per configured object, in config order, metres). These are
simulator state, as is usual for state-based RL; the agent loop uses cameras instead.

Reward: the fraction of goal conditions that hold after the step; ``terminated`` when all hold.
Episodes never truncate here: wrap with ``gymnasium.wrappers.TimeLimit`` for a step budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from embodied.conditions import parse_condition
from embodied.types import Condition
from robots.errors import Unreachable
from sim.tabletop import camera
from sim.tabletop.config import TabletopConfig
from sim.tabletop.ground_truth import evaluate_goal, object_boxes
from sim.tabletop.world import TabletopWorld

MAX_DELTA = 0.02  # metres per step and axis
WORKSPACE = ((0.25, 0.80), (-0.40, 0.40), (0.01, 0.45))  # (min, max) of x, y, z in metres
BOUND = 2.0  # metres: observation bound (objects may fall to the floor, 0.625 m below the table)


class TabletopGymEnv(gym.Env):
    """A tabletop task (config + goal conditions) behind the Gymnasium API."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, config: TabletopConfig, goal: Sequence[Condition | str],
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if not goal:
            raise ValueError("a goal (at least one condition) is needed for the reward")
        self.config = config
        self.goal = [parse_condition(g) if isinstance(g, str) else g for g in goal]
        self.render_mode = render_mode
        self._names = [o.name for o in config.objects]
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({
            "ee": gym.spaces.Box(-BOUND, BOUND, shape=(3,), dtype=np.float32),
            "gripper_width": gym.spaces.Box(0.0, 0.1, shape=(1,), dtype=np.float32),
            "objects": gym.spaces.Box(-BOUND, BOUND, shape=(len(self._names), 3), dtype=np.float32),
        })
        self._world: TabletopWorld | None = None
        self._start: dict[str, Any] = {}
        self._closed = False

    @property
    def world(self) -> TabletopWorld:
        if self._world is None:
            raise gym.error.ResetNeeded("call reset() before step() or render()")
        return self._world

    def _obs(self) -> dict[str, np.ndarray]:
        world = self.world
        ee, _ = world.robot.ee_pose()
        objects = np.array([world.pose(n)[0] for n in self._names], dtype=np.float32)
        return {"ee": np.clip(np.asarray(ee, dtype=np.float32), -BOUND, BOUND),
                "gripper_width": np.array([world.robot.gripper_width()], dtype=np.float32).clip(0.0, 0.1),
                "objects": np.clip(objects, -BOUND, BOUND)}

    def _score(self) -> tuple[float, bool, dict[str, Any]]:
        holds, details = evaluate_goal(self.world, self.goal, self._start)
        done = bool(holds)
        held = sum(1 for r in details["conditions"] if r["ok"])
        return held / len(self.goal), done, details

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        world_seed = int(self.np_random.integers(0, 2**31 - 1))
        if self._world is not None:
            self._world.close()
        self._world = TabletopWorld(self.config, world_seed)
        self._start = object_boxes(self._world)
        self._closed = False
        _, _, details = self._score()
        return self._obs(), {"world_seed": world_seed, "goal": details}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        world = self.world
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(4), -1.0, 1.0)
        ee, _ = world.robot.ee_pose()
        target = tuple(float(np.clip(ee[i] + a[i] * MAX_DELTA, *WORKSPACE[i])) for i in range(3))
        info: dict[str, Any] = {"unreachable": False}
        try:
            world.robot.move_ee(target)  # type: ignore[arg-type]
        except Unreachable as exc:  # reported, not fatal: the arm stays where it is
            info["unreachable"] = True
            info["why"] = str(exc)
        close = bool(a[3] > 0)
        if close != self._closed:
            if close:
                world.robot.close_gripper()
            else:
                world.robot.open_gripper()
            self._closed = close
        reward, done, details = self._score()
        info["goal"] = details
        return self._obs(), float(reward), bool(done), False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        images, _ = camera.render(self.world.client, self.config.cameras[0], seg=False)
        return images["rgb"]

    def close(self) -> None:
        if self._world is not None:
            self._world.close()
            self._world = None
