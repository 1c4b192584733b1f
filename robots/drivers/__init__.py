"""Drivers for real arms: adapters from a vendor SDK to the :class:`robots.base.Robot` protocol.

A driver is the thin layer that talks to one arm; the safety layer lives in
:class:`robots.control.SafeRobot`, which wraps any driver (and the simulated
:class:`robots.panda.PandaArm`) so the same skills and code policies run on both. A driver therefore
does no workspace clipping, speed limiting, watchdog or e-stop of its own, beyond what its hardware
already enforces. One module (or folder, lerobot style) per arm, holding its config and its class.

What a driver implements, in the cell's world frame (metres, radians, seconds):

- State: ``joint_positions``, ``ee_pose`` (grasp point and gripper yaw, gripper pointing down),
  ``gripper_width``, ``holding``, ``grasped_id`` (None: hardware cannot tell), ``at_home``.
  These must return promptly: :class:`~robots.control.SafeRobot` waits ``watchdog_s`` for
  ``ee_pose`` every control tick and faults when the arm stops answering.
- ``move_ee(position, yaw, speed, stop_on_contact) -> Motion``: the control loop calls it once per
  tick with a short segment (at most ``speed / rate_hz`` metres). On an arm with a streaming
  interface (a Cartesian impedance target, ``servoL``, a position setpoint topic) send the setpoint
  and return at once, e.g. ``Motion(reached=False, contact=..., error_m=..., steps=1)``; the loop
  then waits for arrival itself (``settle_s``). A blocking implementation also works, at the cost
  of overruns when a segment takes longer than one period. Raise
  :class:`~robots.errors.Unreachable` for a point the arm's kinematics cannot reach.
- ``reachable``, ``open_gripper``, ``close_gripper``, ``home`` (a joint-space move; may block),
  ``stop`` (hold position; must be safe to call at any time, including from a second thread after
  the driver stopped answering), ``close``; and the attribute ``max_speed`` (m/s, the arm's own
  limit: the loop uses the tighter of it and its config).
- Optionally ``gripper_state() -> GripperState`` (:class:`robots.base.GripperSensing`): width, the
  last command, and the squeeze (force or motor current) when the gripper measures it. The skills
  judge a grasp from it (closed fingers stopped about the object's width apart, a squeeze if
  measured); ``grasped_id`` may always be None. Without it they use ``gripper_width`` alone.
- Optionally ``connect()`` / ``disconnect()`` (:class:`robots.control.Connectable`): opening and
  closing the link to the controller. ``SafeRobot.connect`` calls them and guards every other call.

Errors: raise the typed errors of :mod:`robots.errors` for failures the agent can react to; any
other exception is translated by the control loop into :class:`robots.control.DriverFault`.
Drivers here: :mod:`robots.drivers.xarm` (UFACTORY xArm); :mod:`robots.sim_arm` is the PyBullet
Panda behaving like one. Any driver registered as kind ``driver`` can be served over the network
(``embodied robot serve``, :mod:`robots.server`) and used remotely through
:class:`robots.remote.RemoteRobot`, which is itself a ``Robot``.

Check a new driver with ``isinstance(driver, robots.base.Robot)`` and run it under ``SafeRobot``
in a free workspace with a low ``max_speed`` first.
"""
