"""What the framework costs on top of raw PyBullet for one pick-and-place, measured in one run.

(a) ``pick("red block"); place_on("blue block")`` as a code policy in the sandbox, through the
    skills, the Panda driver (IK in a kinematic copy, reachability and contact checks) and the
    oracle object source; the sandbox's end checkpoint renders the camera.
(b) A minimal raw-PyBullet script doing the same motions: the same scene, the same Cartesian
    waypoints (one ``calculateInverseKinematics`` on the simulated arm per waypoint, with the same
    damping and iteration cap as the driver), the same
    finger commands and the same number of ``stepSimulation`` calls, replayed from a recording of
    (a). No rendering, no checks.

Printed: wall time of each, the ratio (a)/(b) without the camera rendering (goal <= 1.15) and with
it, physics steps per second, and render time per checkpoint. (b)'s outcome is printed too,
as a sanity check that it did the same thing.

Usage: python benchmarks/sim_overhead.py [--episodes N] [--oracle | --detector]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import pybullet as p
import pybullet_data

from embodied.sandbox import Sandbox
from robots import panda
from sim.tabletop.config import TabletopConfig
from sim.tabletop.env import TabletopEnv
from sim.tabletop.world import TABLE_CENTER, TABLE_HEIGHT

POLICY = 'pick("red block")\nplace_on("blue block")\n'


def scene(oracle: bool) -> TabletopConfig:
    return TabletopConfig(oracle=oracle, objects=[
        {"name": "red block", "color": "red", "region": "left"},
        {"name": "blue block", "color": "blue", "region": "right"},
        {"name": "green block", "color": "green", "region": "table"},
    ])


@dataclass
class Recording:
    """What (a) did, in order: ("arm", joints, position, yaw), ("fingers", per-finger target, force),
    ("step", n). ``position`` is None for joint-space targets (home, stop)."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    start_joints: list[float] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)


def record(env: TabletopEnv) -> Recording:
    """Wrap the world's step and the arm's command methods to log every command (cheap appends)."""
    rec = Recording()
    world, robot = env.world, env.world.robot
    rec.start_joints = robot.joint_positions() + [p.getJointState(robot.body, j, physicsClientId=world.client)[0]
                                                   for j in panda.FINGER_JOINTS]
    for name, obj in world.objects.items():
        pos, orn = p.getBasePositionAndOrientation(obj.body, physicsClientId=world.client)
        rec.objects.append({"name": name, "dims": obj.dims, "position": pos, "orientation": orn,
                            "mass": p.getDynamicsInfo(obj.body, -1, physicsClientId=world.client)[0],
                            "friction": p.getDynamicsInfo(obj.body, -1, physicsClientId=world.client)[1]})
    step, execute, command, fingers = world.step, robot.execute, robot._command, robot._command_fingers
    pending: list[panda.Waypoint] = []

    def rec_step(n: int = 1) -> None:
        rec.events.append(("step", n))
        step(n)

    def rec_execute(path, stop_on_contact=False):  # type: ignore[no-untyped-def]
        pending[:] = list(path)
        try:
            return execute(path, stop_on_contact)
        finally:
            pending.clear()

    def rec_command(q) -> None:  # type: ignore[no-untyped-def]
        if pending and tuple(q) == pending[0].joints and pending[0].position is not None:
            w = pending.pop(0)
            rec.events.append(("arm", tuple(q), w.position, w.yaw))
        else:
            if pending and tuple(q) == pending[0].joints:
                pending.pop(0)
            rec.events.append(("arm", tuple(q), None, None))
        command(q)

    def rec_fingers(target: float, force: float) -> None:
        rec.events.append(("fingers", target, force))
        fingers(target, force)

    world.step = robot._step = rec_step
    robot.execute, robot._command, robot._command_fingers = rec_execute, rec_command, rec_fingers
    return rec


class RawScript:
    """The same scene in a fresh client, commanded with bare pybullet calls."""

    def __init__(self, rec: Recording, hz: int) -> None:
        c = self.c = p.connect(p.DIRECT)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(1.0 / hz, physicsClientId=c)
        data = pybullet_data.getDataPath()
        p.loadURDF(os.path.join(data, "plane.urdf"), [0, 0, -TABLE_HEIGHT], physicsClientId=c)
        p.loadURDF(os.path.join(data, "table/table.urdf"), [TABLE_CENTER[0], TABLE_CENTER[1], -TABLE_HEIGHT],
                   useFixedBase=True, physicsClientId=c)
        self.arm = p.loadURDF(os.path.join(data, "franka_panda/panda.urdf"), [0, 0, 0], useFixedBase=True,
                              physicsClientId=c)
        for j, q in zip([*panda.ARM_JOINTS, *panda.FINGER_JOINTS], rec.start_joints):
            p.resetJointState(self.arm, j, q, physicsClientId=c)
        for j in panda.FINGER_JOINTS:
            p.changeDynamics(self.arm, j, lateralFriction=panda.FINGER_FRICTION, spinningFriction=0.01,
                             physicsClientId=c)
        gear = p.createConstraint(self.arm, 9, self.arm, 10, p.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0],
                                  physicsClientId=c)
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=c)
        self.bodies: dict[str, int] = {}
        for obj in rec.objects:
            half = [d / 2 for d in obj["dims"]]
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
            body = p.createMultiBody(obj["mass"], col, -1, obj["position"], obj["orientation"], physicsClientId=c)
            p.changeDynamics(body, -1, lateralFriction=obj["friction"], spinningFriction=0.001,
                             rollingFriction=0.0001, physicsClientId=c)
            self.bodies[obj["name"]] = body

    def run(self, rec: Recording) -> int:
        c, arm = self.c, self.arm
        damping = [panda.IK_DAMPING] * 9
        steps = 0
        for event in rec.events:
            kind = event[0]
            if kind == "step":
                for _ in range(event[1]):
                    p.stepSimulation(physicsClientId=c)
                steps += event[1]
            elif kind == "arm":
                q = event[1]
                if event[2] is not None:
                    orn = p.getQuaternionFromEuler([math.pi, 0.0, event[3]])
                    q = p.calculateInverseKinematics(arm, panda.EE_LINK, event[2], orn, jointDamping=damping,
                                                     maxNumIterations=panda.IK_ITERATIONS,
                                                     residualThreshold=panda.IK_THRESHOLD, physicsClientId=c)[:7]
                for j, target, force, vmax in zip(panda.ARM_JOINTS, q, panda.ARM_FORCES, panda.ARM_MAX_VEL):
                    p.setJointMotorControl2(arm, j, p.POSITION_CONTROL, targetPosition=target, force=force,
                                            maxVelocity=vmax, physicsClientId=c)
            else:
                for j in panda.FINGER_JOINTS:
                    p.setJointMotorControl2(arm, j, p.POSITION_CONTROL, targetPosition=event[1], force=event[2],
                                            maxVelocity=panda.FINGER_SPEED, physicsClientId=c)
        return steps

    def stacked(self) -> bool:
        red, _ = p.getBasePositionAndOrientation(self.bodies["red block"], physicsClientId=self.c)
        blue, _ = p.getBasePositionAndOrientation(self.bodies["blue block"], physicsClientId=self.c)
        return math.hypot(red[0] - blue[0], red[1] - blue[1]) < 0.02 and 0.03 < red[2] - blue[2] < 0.05

    def close(self) -> None:
        p.disconnect(physicsClientId=self.c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--detector", action="store_true", help="detect objects in camera images (default: oracle)")
    args = parser.parse_args()
    cfg = scene(oracle=not args.detector)
    env = TabletopEnv.from_config(cfg)
    sandbox = Sandbox(max_steps=10_000, timeout_s=120.0)
    framework, framework_no_render, raw, renders, checkpoints = [], [], [], [], 0
    steps_total, ok_a, ok_b, render_count = 0, 0, 0, 0
    for seed in range(args.episodes):
        env.reset(seed)
        rec = record(env)
        api = env.primitives()
        render0, renders0, steps0 = env.stats()["render_time_s"], env.stats()["renders"], env.world.sim_steps
        t0 = time.perf_counter()
        execution = sandbox.run(POLICY, api, checkpoint=env.observe)
        wall = time.perf_counter() - t0
        render = env.stats()["render_time_s"] - render0
        render_count += env.stats()["renders"] - renders0
        steps = env.world.sim_steps - steps0
        ok_a += execution.ok and env.success(["on(red block, blue block)"])[0]
        checkpoints += len(execution.checkpoints)
        renders.append(render)
        framework.append(wall)
        framework_no_render.append(wall - render)
        script = RawScript(rec, cfg.physics_hz)
        try:
            t0 = time.perf_counter()
            raw_steps = script.run(rec)
            raw.append(time.perf_counter() - t0)
            ok_b += script.stacked()
        finally:
            script.close()
        if raw_steps != steps:
            raise RuntimeError(f"replay stepped {raw_steps} times, the framework {steps}")
        steps_total += steps
    env.close()
    n = args.episodes
    a, a_nr, b = sum(framework), sum(framework_no_render), sum(raw)
    source = "camera + RGBDDetector" if args.detector else "oracle"
    print(f"pick-and-place, {n} episodes, {steps_total / n:.0f} physics steps each, object source: {source}")
    print(f"  (a) skills + sandbox : {a / n * 1000:7.1f} ms/episode  ({steps_total / a:,.0f} steps/s)")
    print(f"      without rendering: {a_nr / n * 1000:7.1f} ms/episode  ({steps_total / a_nr:,.0f} steps/s)")
    print(f"  (b) raw pybullet     : {b / n * 1000:7.1f} ms/episode  ({steps_total / b:,.0f} steps/s)")
    print(f"  ratio (a)/(b) without rendering: {a_nr / b:.3f}  (goal <= 1.15; with --detector it includes detection)")
    print(f"  ratio (a)/(b) with rendering   : {a / b:.3f}")
    per_render = sum(renders) / max(render_count, 1)
    per_checkpoint = per_render * len(cfg.cameras)  # a checkpoint renders every camera once
    print(f"  render time per checkpoint: {per_checkpoint * 1000:.1f} ms ({len(cfg.cameras)} camera(s) at "
          f"{cfg.cameras[0].width}x{cfg.cameras[0].height}; {checkpoints / n:.1f} checkpoints and "
          f"{render_count / n:.1f} renders per episode, median render time per episode "
          f"{statistics.median(renders) * 1000:.1f} ms)")
    print(f"  success: (a) {ok_a}/{n}, (b) replay {ok_b}/{n}")


if __name__ == "__main__":
    main()
