"""The robot server and RemoteRobot in one process, around a point-mass arm: the message schema,
typed errors across the link, both watchdogs and the e-stop, in well under a second each."""

from __future__ import annotations

import math
import socket
import threading
import time

import pytest

from robots.base import GripperState, Motion
from robots.control import ControlConfig, EmergencyStop, SafeRobot
from robots.errors import Unreachable
from robots.remote import RemoteRobot, server_status
from robots.server import RobotServer, ServerConfig
from robots.wire import (
    RemoteDriverFault,
    RemoteEmergencyStop,
    ServerLost,
    WireError,
    error_from_wire,
    error_to_wire,
    pack,
    unpack,
)


class PointArm:
    """A driver that goes wherever it is told, instantly, inside a 0.8 m reach: the smallest arm
    that honours the protocol. ``block`` makes ``home`` hang until released."""

    max_speed = 0.5

    def __init__(self) -> None:
        self.position = (0.3, 0.0, 0.4)
        self.width = 0.08
        self.closed = False
        self.stops = 0
        self.block = threading.Event()

    def joint_positions(self) -> list[float]:
        return [0.0] * 7

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        return self.position, 0.0

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        if math.dist(position, (0.0, 0.0, 0.3)) > 0.8:
            raise Unreachable("too far", target=position, residual_m=0.1)
        return 0.0

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        self.reachable(position)
        if position[2] < 0:
            raise ZeroDivisionError("a driver bug")
        self.position = tuple(position)  # type: ignore[assignment]
        return Motion(reached=True, contact=False, error_m=0.0, steps=1)

    def open_gripper(self, width: float | None = None) -> float:
        self.closed, self.width = False, 0.08 if width is None else width
        return self.width

    def close_gripper(self, force: float | None = None) -> float:
        self.closed, self.width = True, 0.04
        return self.width

    def gripper_width(self) -> float:
        return self.width

    def gripper_state(self) -> GripperState:
        return GripperState(width_m=self.width, closed=self.closed, force_n=12.0)

    def holding(self) -> bool:
        return self.closed and self.width > 0.005

    def grasped_id(self) -> int | None:
        return None

    def home(self) -> None:
        self.block.wait(5.0)

    def at_home(self) -> bool:
        return True

    def stop(self) -> None:
        self.stops += 1
        self.block.set()

    def close(self) -> None:
        return None


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def link():
    arm = PointArm()
    server = RobotServer(arm, ServerConfig(bind=free_address(), heartbeat_s=0.02, watchdog_s=0.2),
                         log=lambda text: None)
    server.start()
    remote = RemoteRobot(server.config.bind, heartbeat_s=0.02, watchdog_s=0.2)
    remote.connect()
    yield arm, server, remote
    remote.close()
    server.shutdown()


def test_messages_are_versioned_msgpack_maps() -> None:
    message = unpack(pack({"kind": "request", "id": 3, "op": "status"}))
    assert message == {"v": 1, "kind": "request", "id": 3, "op": "status"}
    with pytest.raises(WireError):
        unpack(b"\x93\x01\x02\x03")  # msgpack, but not a map with a version
    error = error_from_wire(error_to_wire(Unreachable("far", target=(1.0, 2.0, 3.0), residual_m=0.2)))
    assert isinstance(error, Unreachable) and error.target == (1.0, 2.0, 3.0) and error.residual_m == 0.2
    assert isinstance(error_from_wire(error_to_wire(KeyError("x"))), RemoteDriverFault)


def test_calls_results_and_typed_errors_cross_the_link(link) -> None:
    arm, _, remote = link
    assert remote.move_ee((0.4, 0.1, 0.3)).reached
    assert remote.ee_pose() == ((0.4, 0.1, 0.3), 0.0)
    remote.close_gripper()
    assert remote.gripper_state() == GripperState(width_m=0.04, closed=True, force_n=12.0)
    with pytest.raises(Unreachable) as info:
        remote.move_ee((2.0, 0.0, 0.3))
    assert info.value.target == (2.0, 0.0, 0.3)
    with pytest.raises(RemoteDriverFault, match="ZeroDivisionError"):
        remote.move_ee((0.4, 0.1, -0.1))
    remote.stop()
    assert arm.stops >= 1


def test_a_silent_client_trips_the_server_watchdog_and_the_arm_stops(link) -> None:
    arm, server, remote = link
    remote._shutdown_io()  # the client vanishes without a word
    silenced = time.time()
    time.sleep(1.5)
    trips = server_status(server.config.bind)["trips"]
    # trips once, after the watchdog (0.2 s); how soon is measured in benchmarks/robot_loop.py
    assert len(trips) == 1 and trips[0]["at"] - silenced <= 1.5
    assert arm.stops >= 1


def test_a_silent_server_faults_a_waiting_call_within_the_client_watchdog(link) -> None:
    _, server, remote = link
    threading.Timer(0.1, server.shutdown).start()
    t0 = time.monotonic()
    with pytest.raises(ServerLost):
        remote.home()  # hangs at the driver until the server's shutdown stops the arm
    assert time.monotonic() - t0 < 0.1 + 0.2 + 0.15


def test_an_estop_at_the_server_reaches_the_client(link) -> None:
    arm, server, remote = link
    server.estop("operator")
    time.sleep(0.1)
    assert remote.estopped == "operator"
    with pytest.raises(RemoteEmergencyStop):
        remote.move_ee((0.4, 0.0, 0.3))
    assert arm.stops >= 1
    remote.reset_estop()
    assert remote.move_ee((0.4, 0.0, 0.3)).reached


def test_the_control_loops_estop_latches_at_the_server_too(link) -> None:
    _, server, remote = link
    safe = SafeRobot(remote, ControlConfig(workspace={"low": [0.0, -0.5, 0.0], "high": [0.8, 0.5, 0.7]}))
    safe.connect()
    safe.estop("operator at the client")
    with pytest.raises(EmergencyStop):
        safe.move_ee((0.4, 0.0, 0.3))
    time.sleep(0.05)
    assert server_status(server.config.bind)["estop"] == "operator at the client"
