"""The Franka Panda in PyBullet, implementing :class:`robots.base.Robot`.

Motion recipe (measured in /work/shared/NOTES.md to give reliable frictional grasps): Cartesian
lines interpolated into waypoints, inverse kinematics once per waypoint (every ``IK_EVERY`` physics
steps, not every step), joints driven by position motors with bounded torque and speed; the two
fingers are coupled by a gear constraint, close with a moderate force, and the arm waits until they
have stopped before it lifts. Nothing glues an object to the hand.

Waypoints are solved in a private kinematic copy of the arm (a second DIRECT client that never
steps), so every pose on a line is checked for reachability (position and orientation residual)
before the real arm moves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as p
import pybullet_data

from robots.base import GripperState, Motion
from robots.errors import InvalidArgument, Unreachable

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
HAND_LINKS = (7, 8, 9, 10, 11)
EE_LINK = 11  # panda_grasptarget: between the fingertips, 0.105 m below the hand
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)  # N·m, the Panda's torque limits
ARM_MAX_VEL = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)  # rad/s
LOWER = (-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671)
UPPER = (2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671)
HOME = (0.0, -0.9, 0.0, -2.59, 0.0, 1.68, math.pi / 4)  # grasp point near (0.28, 0, 0.42): behind the table view
REST = (0.0, -0.3, 0.0, -2.3, 0.0, 2.0, math.pi / 4)  # null-space preference for IK: elbow up

IK_EVERY = 4  # physics steps per waypoint
IK_ITERATIONS = 10  # per waypoint; 1-3 are used when the seed is the previous waypoint
REACH_ITERATIONS = 100  # for a target far from the seed
IK_DAMPING = 0.01  # damped least squares; pybullet's default 0.1 needs ~20 iterations per waypoint
IK_THRESHOLD = 1e-4  # metres: the solver stops below this residual
REACH_TOLERANCE = 0.005  # metres of IK residual accepted
ANGLE_TOLERANCE = 0.05  # radians of orientation residual accepted
ARRIVE_TOLERANCE = 0.003  # metres: settled at the target
REACHED_TOLERANCE = 0.01  # metres: a move ending farther than this did not reach
SETTLE_S = 0.5  # longest wait for the arm to settle after the last waypoint
REACH_RADIUS = 0.855  # metres from the shoulder (0, 0, 0.333)
SHOULDER = (0.0, 0.0, 0.333)
MAX_YAW = 2.0  # |yaw| kept below this so joint 7 stays inside its limits

FINGER_OPEN = 0.04  # metres per finger
FINGER_SPEED = 0.08  # m/s per finger while closing
FINGER_FRICTION = 1.5
MIN_HELD_WIDTH = 0.003  # metres: a gap this small means the fingers closed on nothing
GRIPPER_WAIT_S = 1.0
JOINT_SPEED = 1.0  # rad/s for joint-space moves (home)


@dataclass(frozen=True)
class Waypoint:
    """One control target: arm joint angles (radians) and, for Cartesian moves, the grasp-point
    position (metres) and yaw (radians) they were solved for."""

    joints: tuple[float, ...]
    position: tuple[float, float, float] | None = None
    yaw: float | None = None


def _check_yaw(yaw: float | None) -> None:
    if yaw is not None and not math.isfinite(yaw):
        raise InvalidArgument(f"yaw must be a finite number of radians or None, got {yaw}")


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _down(yaw: float) -> tuple[float, float, float, float]:
    """Quaternion of the gripper pointing straight down with the given yaw."""
    return p.getQuaternionFromEuler([math.pi, 0.0, yaw])  # type: ignore[return-value]


def _yaw_of(orn: Sequence[float]) -> float:
    m = p.getMatrixFromQuaternion(orn)
    return math.atan2(m[3], m[0])


def _angle_between(q1: Sequence[float], q2: Sequence[float]) -> float:
    dot = abs(float(np.dot(q1, q2)))
    return 2.0 * math.acos(min(1.0, dot))


class PandaArm:
    """A Panda with a parallel gripper on the table at the origin of the given client.

    ``step(n)`` advances the world's physics by n steps of ``dt`` seconds; the arm never calls
    ``stepSimulation`` itself, so the world keeps exact counters. ``gripper_force`` is newtons per
    finger; ``max_speed`` the end-effector speed limit in m/s.
    """

    def __init__(self, client: int, step: Callable[[int], None], dt: float, gripper_force: float = 25.0,
                 max_speed: float = 0.5, base_position: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self.client = client
        self._step = step
        self.dt = dt
        self.gripper_force = gripper_force
        self.max_speed = max_speed
        path = os.path.join(pybullet_data.getDataPath(), "franka_panda/panda.urdf")
        self.body = p.loadURDF(path, list(base_position), useFixedBase=True, physicsClientId=client)
        self._kin_client = p.connect(p.DIRECT)
        if self._kin_client < 0:
            raise RuntimeError("pybullet could not start the kinematics client")
        self._kin_body = p.loadURDF(path, list(base_position), useFixedBase=True, physicsClientId=self._kin_client)
        self._base = base_position
        for j, q in enumerate(HOME):
            p.resetJointState(self.body, j, q, physicsClientId=client)
        for j in FINGER_JOINTS:
            p.resetJointState(self.body, j, FINGER_OPEN, physicsClientId=client)
            p.changeDynamics(self.body, j, lateralFriction=FINGER_FRICTION, spinningFriction=0.01,
                             physicsClientId=client)
        gear = p.createConstraint(self.body, FINGER_JOINTS[0], self.body, FINGER_JOINTS[1], jointType=p.JOINT_GEAR,
                                  jointAxis=[1, 0, 0], parentFramePosition=[0, 0, 0], childFramePosition=[0, 0, 0],
                                  physicsClientId=client)
        p.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=client)
        self._command(HOME)
        self._command_fingers(FINGER_OPEN, self.gripper_force)
        # IK parameters over all 9 movable joints (7 arm + 2 fingers).
        self._ll = [*LOWER, 0.0, 0.0]
        self._ul = [*UPPER, FINGER_OPEN, FINGER_OPEN]
        self._jr = [u - lo for u, lo in zip(self._ul, self._ll)]
        self._rest = [*REST, FINGER_OPEN, FINGER_OPEN]
        self._damping = [IK_DAMPING] * 9
        self._kin_q: list[float] = []  # joints the kinematic copy is set to
        self._gripper_closed = False  # last gripper command was a close

    # -- state ------------------------------------------------------------------------------

    def joint_positions(self) -> list[float]:
        states = p.getJointStates(self.body, ARM_JOINTS, physicsClientId=self.client)
        return [s[0] for s in states]

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        state = p.getLinkState(self.body, EE_LINK, computeForwardKinematics=True, physicsClientId=self.client)
        return tuple(state[4]), _yaw_of(state[5])  # type: ignore[return-value]

    def gripper_width(self) -> float:
        states = p.getJointStates(self.body, FINGER_JOINTS, physicsClientId=self.client)
        return float(states[0][0] + states[1][0])

    def gripper_state(self) -> GripperState:
        """Width, the last command, and the squeeze: the smaller of the two finger motors' applied
        forces (newtons), as a real gripper's motor current would report it."""
        states = p.getJointStates(self.body, FINGER_JOINTS, physicsClientId=self.client)
        force = min(abs(s[3]) for s in states)
        return GripperState(width_m=float(states[0][0] + states[1][0]), closed=self._gripper_closed,
                            force_n=float(force))

    def grasped_id(self) -> int | None:
        if self.gripper_width() < MIN_HELD_WIDTH:
            return None
        touched = []
        for link in FINGER_JOINTS:
            forces: dict[int, float] = {}
            for c in p.getContactPoints(bodyA=self.body, linkIndexA=link, physicsClientId=self.client):
                if c[2] != self.body:
                    forces[c[2]] = forces.get(c[2], 0.0) + c[9]
            touched.append(forces)
        both = set(touched[0]) & set(touched[1])
        if not both:
            return None
        return max(sorted(both), key=lambda b: touched[0][b] + touched[1][b])

    def holding(self) -> bool:
        return self.grasped_id() is not None

    # -- kinematics -------------------------------------------------------------------------

    def _check_workspace(self, position: Sequence[float]) -> None:
        if len(position) != 3 or not all(math.isfinite(v) for v in position):
            raise InvalidArgument(f"a target must be three finite numbers in metres, got {tuple(position)}")
        rel = np.subtract(position, np.add(self._base, SHOULDER))
        dist = float(np.linalg.norm(rel))
        target = tuple(float(v) for v in position)
        if dist > REACH_RADIUS:
            raise Unreachable(f"({target[0]:.3f}, {target[1]:.3f}, {target[2]:.3f}) is {dist:.2f} m from the "
                              f"shoulder; the arm reaches {REACH_RADIUS:.2f} m", target=target)  # type: ignore[arg-type]
        if position[2] < self._base[2] - 0.005:
            raise Unreachable(f"z = {position[2]:.3f} m is below the table top", target=target)  # type: ignore[arg-type]

    def _ik(self, position: Sequence[float], yaw: float, seed: Sequence[float],
            iterations: int = IK_ITERATIONS) -> tuple[list[float], float, float]:
        """Joint angles for a gripper-down pose by damped least squares from ``seed``, solved in
        the kinematic copy and checked there by forward kinematics. Returns (joints, position
        residual m, orientation residual rad).

        With low damping, waypoints a few millimetres apart converge in 1-3 iterations; seeded with
        the previous waypoint the arm follows the line without jumping between configurations."""
        kc, kb = self._kin_client, self._kin_body
        if list(seed) != self._kin_q:
            p.resetJointStatesMultiDof(kb, ARM_JOINTS, [[v] for v in seed], physicsClientId=kc)
        orn = _down(yaw)
        sol = p.calculateInverseKinematics(kb, EE_LINK, list(position), orn, jointDamping=self._damping,
                                           maxNumIterations=iterations, residualThreshold=IK_THRESHOLD,
                                           physicsClientId=kc)
        q = [min(max(v, lo), hi) for v, lo, hi in zip(sol[:7], LOWER, UPPER)]
        p.resetJointStatesMultiDof(kb, ARM_JOINTS, [[v] for v in q], physicsClientId=kc)
        self._kin_q = q
        state = p.getLinkState(kb, EE_LINK, computeForwardKinematics=True, physicsClientId=kc)
        residual = float(np.linalg.norm(np.subtract(state[4], position)))
        return q, residual, _angle_between(state[5], orn)

    def _rest_seed(self, position: Sequence[float], yaw: float) -> list[float]:
        """A configuration near ``REST`` for a far target: null-space IK (which pulls towards
        ``REST`` and so leaves a few millimetres of residual), a seed for :meth:`_ik`."""
        kc, kb = self._kin_client, self._kin_body
        p.resetJointStatesMultiDof(kb, ARM_JOINTS, [[v] for v in REST], physicsClientId=kc)
        sol = p.calculateInverseKinematics(kb, EE_LINK, list(position), _down(yaw), lowerLimits=self._ll,
                                           upperLimits=self._ul, jointRanges=self._jr, restPoses=self._rest,
                                           maxNumIterations=REACH_ITERATIONS, residualThreshold=IK_THRESHOLD,
                                           physicsClientId=kc)
        self._kin_q = list(REST)
        return [min(max(v, lo), hi) for v, lo, hi in zip(sol[:7], LOWER, UPPER)]

    def _ok(self, residual: float, angle: float) -> bool:
        return residual <= REACH_TOLERANCE and angle <= ANGLE_TOLERANCE

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        self._check_workspace(position)
        _check_yaw(yaw)
        current = self.ee_pose()[1]
        yaw = self._choose_yaw(current if yaw is None else yaw, current)
        _, residual, angle = self._ik(position, yaw, self.joint_positions(), REACH_ITERATIONS)
        if not self._ok(residual, angle):  # far from the current pose: start from a tidy configuration
            _, residual, angle = self._ik(position, yaw, self._rest_seed(position, yaw), REACH_ITERATIONS)
        return residual if angle <= ANGLE_TOLERANCE else max(residual, angle)

    @staticmethod
    def _choose_yaw(yaw: float, current: float) -> float:
        """The gripper is symmetric under a half turn: pick the equivalent yaw nearest the current
        one that keeps joint 7 inside its limits."""
        options = [_wrap(yaw) + k * math.pi for k in (-2, -1, 0, 1, 2)]
        options = [y for y in options if abs(y) <= MAX_YAW]
        return min(options, key=lambda y: abs(y - current))

    def plan_line(self, position: Sequence[float], yaw: float | None, speed: float,
                  start_at: Waypoint | None = None, smooth: bool = True) -> list[Waypoint]:
        """Joint waypoints (one per ``IK_EVERY`` steps) along the straight line from the current
        grasp point (or from ``start_at``, a waypoint already commanded: streaming setpoints) to
        ``position``, with a smooth start and stop whose peak speed is ``speed`` m/s (``smooth``
        False: constant speed, for a stream of short segments). Raises ``Unreachable`` if any
        waypoint is."""
        self._check_workspace(position)
        _check_yaw(yaw)
        if start_at is not None and start_at.position is not None and start_at.yaw is not None:
            start, yaw0, seed = start_at.position, start_at.yaw, list(start_at.joints)
        else:
            start, yaw0 = self.ee_pose()
            seed = self.joint_positions()
        yaw1 = yaw0 if yaw is None else self._choose_yaw(yaw, yaw0)
        dist = float(np.linalg.norm(np.subtract(position, start)))
        # Smoothstep timing: peak speed 1.5x the mean, so the mean is speed / 1.5.
        stretch = 1.5 if smooth else 1.0
        duration = max(stretch * dist / speed, stretch * abs(yaw1 - yaw0) / 2.0, IK_EVERY * self.dt)
        n = max(1, math.ceil(duration / (IK_EVERY * self.dt)))
        path: list[Waypoint] = []
        for i in range(1, n + 1):
            t = i / n
            s = t * t * (3 - 2 * t) if smooth else t
            point = [a + s * (b - a) for a, b in zip(start, position)]
            q, residual, angle = self._ik(point, yaw0 + s * (yaw1 - yaw0), seed)
            if not self._ok(residual, angle):
                q, residual, angle = self._ik(point, yaw0 + s * (yaw1 - yaw0), q, REACH_ITERATIONS)
            if not self._ok(residual, angle):
                target = tuple(float(v) for v in position)
                raise Unreachable(
                    f"cannot reach ({point[0]:.3f}, {point[1]:.3f}, {point[2]:.3f}) on the way to "
                    f"({target[0]:.3f}, {target[1]:.3f}, {target[2]:.3f}) with the gripper down: IK residual "
                    f"{residual * 1000:.1f} mm, {math.degrees(angle):.1f} deg",
                    target=target, residual_m=residual)  # type: ignore[arg-type]
            path.append(Waypoint(tuple(q), (point[0], point[1], point[2]), yaw0 + s * (yaw1 - yaw0)))
            seed = q
        return path

    # -- motion -----------------------------------------------------------------------------

    def _command(self, q: Sequence[float]) -> None:
        for j, target, force, vmax in zip(ARM_JOINTS, q, ARM_FORCES, ARM_MAX_VEL):
            p.setJointMotorControl2(self.body, j, p.POSITION_CONTROL, targetPosition=target, force=force,
                                    maxVelocity=vmax, physicsClientId=self.client)

    def _command_fingers(self, per_finger: float, force: float) -> None:
        for j in FINGER_JOINTS:
            p.setJointMotorControl2(self.body, j, p.POSITION_CONTROL, targetPosition=per_finger, force=force,
                                    maxVelocity=FINGER_SPEED, physicsClientId=self.client)

    def touching(self) -> bool:
        """Whether the held object or the hand touches anything besides the robot and the held body."""
        held = self.grasped_id()
        skip = {self.body, held}
        if held is not None:
            for c in p.getContactPoints(bodyA=held, physicsClientId=self.client):
                if c[2] not in skip:
                    return True
        for link in HAND_LINKS:
            for c in p.getContactPoints(bodyA=self.body, linkIndexA=link, physicsClientId=self.client):
                if c[2] not in skip:
                    return True
        return False

    def execute(self, path: Sequence[Waypoint], stop_on_contact: bool = False) -> tuple[bool, int]:
        """Drive through joint waypoints, ``IK_EVERY`` physics steps each. Returns (stopped on
        contact, steps)."""
        steps = 0
        for waypoint in path:
            self._command(waypoint.joints)
            self._step(IK_EVERY)
            steps += IK_EVERY
            if stop_on_contact and self.touching():
                self.stop()
                return True, steps
        return False, steps

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        speed = self.max_speed if speed is None else speed
        if not speed > 0.0 or not math.isfinite(speed):
            raise InvalidArgument(f"speed must be > 0 m/s, got {speed}")
        speed = min(speed, self.max_speed)
        path = self.plan_line(position, yaw, speed)
        contact, steps = self.execute(path, stop_on_contact)
        if not contact:
            extra, contact = self._settle(position, stop_on_contact)
            steps += extra
        error = float(np.linalg.norm(np.subtract(self.ee_pose()[0], position)))
        return Motion(reached=error <= REACHED_TOLERANCE, contact=contact, error_m=error, steps=steps)

    def _settle(self, position: Sequence[float], stop_on_contact: bool) -> tuple[int, bool]:
        steps = 0
        limit = max(1, round(SETTLE_S / self.dt))
        while steps < limit:
            error = float(np.linalg.norm(np.subtract(self.ee_pose()[0], position)))
            if error <= ARRIVE_TOLERANCE:
                break
            self._step(IK_EVERY)
            steps += IK_EVERY
            if stop_on_contact and self.touching():
                self.stop()
                return steps, True
        return steps, False

    def move_joints(self, q: Sequence[float], speed: float = JOINT_SPEED) -> int:
        """Joint-space move at up to ``speed`` rad/s; returns physics steps spent."""
        start = self.joint_positions()
        span = max(abs(b - a) for a, b in zip(start, q))
        n = max(1, math.ceil(1.5 * span / speed / (IK_EVERY * self.dt)))
        path = []
        for i in range(1, n + 1):
            t = i / n
            s = t * t * (3 - 2 * t)
            path.append(Waypoint(tuple(a + s * (b - a) for a, b in zip(start, q))))
        _, steps = self.execute(path)
        limit = max(1, round(SETTLE_S / self.dt))
        extra = 0
        while extra < limit and max(abs(a - b) for a, b in zip(self.joint_positions(), q)) > 0.01:
            self._step(IK_EVERY)
            extra += IK_EVERY
        return steps + extra

    def home(self) -> None:
        self.move_joints(HOME)

    def at_home(self) -> bool:
        return max(abs(a - b) for a, b in zip(self.joint_positions(), HOME)) < 0.02

    def stop(self) -> None:
        self._command(self.joint_positions())

    # -- gripper ----------------------------------------------------------------------------

    def _wait_fingers(self, done: Callable[[float, float], bool]) -> float:
        limit = max(1, round(GRIPPER_WAIT_S / self.dt))
        previous = self.gripper_width()
        steps = 0
        while steps < limit:
            self._step(IK_EVERY)
            steps += IK_EVERY
            width = self.gripper_width()
            if done(previous, width):
                return width
            previous = width
        return self.gripper_width()

    def open_gripper(self, width: float | None = None) -> float:
        gap = 2 * FINGER_OPEN if width is None else width
        if not 0.0 <= gap <= 2 * FINGER_OPEN:
            raise InvalidArgument(f"gripper width must be in [0, {2 * FINGER_OPEN}] m, got {width}")
        self._gripper_closed = False
        self._command_fingers(gap / 2, self.gripper_force)
        return self._wait_fingers(lambda prev, now: abs(now - gap) <= 0.002 or (now < gap and abs(now - prev) < 1e-4))

    def close_gripper(self, force: float | None = None) -> float:
        force = self.gripper_force if force is None else force
        if not force > 0.0:
            raise InvalidArgument(f"gripper force must be > 0 N, got {force}")
        self._gripper_closed = True
        self._command_fingers(0.0, force)
        still = FINGER_SPEED * IK_EVERY * self.dt * 0.05  # metres per chunk: the fingers have stopped
        return self._wait_fingers(lambda prev, width: width < MIN_HELD_WIDTH or abs(prev - width) < still)

    def close(self) -> None:
        if self._kin_client >= 0:
            p.disconnect(physicsClientId=self._kin_client)
            self._kin_client = -1
