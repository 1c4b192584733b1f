"""The robot server with the real-time PyBullet Panda behind it, in a subprocess, over ZeroMQ:
normal episodes, a killed server, a killed client, a slow link, a restart, e-stops."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import textwrap
import threading
import time

import pytest
from robot_server_process import PYTHON, ROOT, Server

from embodied.config import load_config
from embodied.experiment import run_episode
from perception.detection import RGBDDetector
from robots.base import Robot
from robots.control import ControlConfig, SafeRobot
from robots.real_env import RobotEnv
from robots.remote import RemoteRobot, server_status
from robots.wire import RemoteEmergencyStop, ServerLost, SessionLost

pytestmark = pytest.mark.slow  # each test starts the stand-in arm server in a subprocess

WATCHDOG_S = 2.0  # configs/robot/sim_panda.yaml
HEARTBEAT_S = 0.05
CONTROL = ControlConfig(workspace={"low": [0.15, -0.45, 0.0], "high": [0.85, 0.45, 0.6]}, max_speed=0.4,
                        watchdog_s=3.0)


@pytest.fixture
def server():
    s = Server().start()
    yield s
    s.stop()


def robot_env(address: str) -> RobotEnv:
    cfg = load_config(ROOT / "configs/robot/stack.yaml", [f"env.connect={address}"])
    return RobotEnv(cfg.env, RGBDDetector())


def test_remote_robot_implements_the_protocol_and_answers_fast(server) -> None:
    remote = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    assert isinstance(remote, Robot)
    remote.connect()
    try:
        t0 = time.perf_counter()
        for _ in range(20):
            position, _ = remote.ee_pose()
        assert (time.perf_counter() - t0) / 20 < 0.05
        assert position[2] > 0.3  # home, above the table
        assert remote.grasped_id() is None  # the stand-in cannot tell what it holds, like hardware
        assert "scene_truth" in remote.capabilities
    finally:
        remote.disconnect()
        remote.close()


@pytest.mark.slow
def test_pick_and_place_over_the_network_from_camera_detections(server) -> None:
    env = robot_env(server.address)
    try:
        env.reset(0)
        api = env.primitives()
        assert api["pick"].fn("red block") is True
        assert api["holding"].fn() == "red block"
        assert api["place_on"].fn("blue block") is True
        ok, details = env.success(["on(red block, blue block)"])
        assert ok, details
        assert details["source"].startswith("simulated cell")
        assert env.robot.last_stats is not None and env.robot.last_stats.ticks > 0
    finally:
        env.close()


def test_the_server_killed_mid_motion_faults_the_client_within_its_watchdog(server) -> None:
    remote = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    safe = SafeRobot(remote, CONTROL.model_copy(update={"max_speed": 0.1}))
    safe.connect()
    killed: list[float] = []
    timer = threading.Timer(0.4, lambda: killed.append(server.kill()))
    timer.start()
    try:
        with pytest.raises(ServerLost):
            safe.move_ee((0.55, 0.2, 0.25))  # about 3 s at 0.1 m/s
        faulted = time.time()
        assert killed, "the move ended before the server was killed"
        assert faulted - killed[0] <= WATCHDOG_S + 2 / CONTROL.rate_hz + 0.3
        with pytest.raises(ServerLost):  # and stays faulted until connected again
            remote.ee_pose()
    finally:
        timer.cancel()
        remote.close()


@pytest.mark.slow
def test_an_episode_whose_server_dies_ends_with_a_clear_result(server, tmp_path) -> None:
    cfg = load_config(ROOT / "configs/robot/stack.yaml", [f"env.connect={server.address}"])
    timer = threading.Timer(3.0, server.kill)
    timer.start()
    try:
        result = run_episode(cfg, tmp_path / "run", console=False)
    finally:
        timer.cancel()
    assert not result.success
    assert result.failure is not None and "ServerLost" in result.failure
    assert (tmp_path / "run" / "summary.json").exists()


CLIENT = textwrap.dedent("""
    import sys, time
    from robots.remote import RemoteRobot
    r = RemoteRobot(sys.argv[1], watchdog_s=2.0)
    r.connect()
    r.move_ee((0.45, 0.3, 0.15), speed=0.1)  # a far setpoint the arm streams towards
    print("moving", flush=True)
    time.sleep(60)
""")


def test_a_client_killed_mid_motion_makes_the_server_stop_the_arm(server) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    client = subprocess.Popen([PYTHON, "-c", CLIENT, server.address], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert client.stdout.readline().strip() == "moving"  # type: ignore[union-attr]
        time.sleep(0.3)
        client.kill()
        killed = time.time()
        client.wait(5)
    finally:
        if client.poll() is None:
            client.kill()
        client.stdout.close()  # type: ignore[union-attr]
    time.sleep(WATCHDOG_S + 0.4)
    status = server_status(server.address)
    assert len(status["trips"]) == 1
    trip = status["trips"][0]
    assert trip["at"] - killed <= WATCHDOG_S + 2 * HEARTBEAT_S + 0.2
    observer = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    observer.connect()
    try:
        first, _ = observer.ee_pose()
        time.sleep(0.3)
        second, _ = observer.ee_pose()
        assert math.dist(first, second) < 0.002  # held still
        assert math.dist(second, (0.45, 0.3, 0.15)) > 0.05  # stopped short of the far setpoint
    finally:
        observer.disconnect()
        observer.close()


def test_a_slow_link_still_works_and_its_delay_shows_in_the_round_trip() -> None:
    server = Server().start("tests/fixtures/robot/sim_panda_slow_link.yaml")
    remote = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    safe = SafeRobot(remote, CONTROL.model_copy(update={"rate_hz": 20.0}))
    try:
        safe.connect()
        t0 = time.perf_counter()
        remote.ee_pose()
        assert time.perf_counter() - t0 >= 0.03
        motion = safe.move_ee((0.35, 0.05, 0.35))
        assert motion.reached, motion
    finally:
        safe.close()
        remote.close()
        server.stop()


def test_reconnect_after_a_server_restart() -> None:
    server = Server().start()
    remote = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    safe = SafeRobot(remote, CONTROL)
    restarted = Server(server.port)
    try:
        safe.connect()
        safe.ee_pose()
        server.kill()
        with pytest.raises(ServerLost):
            safe.ee_pose()
        with pytest.raises(ServerLost):
            safe.disconnect()  # the stop cannot reach a dead server; the wrapper is disconnected anyway
        restarted.start()
        safe.connect()
        motion = safe.move_ee((0.32, 0.0, 0.38))
        assert motion.reached
    finally:
        safe.close()
        remote.close()
        server.stop()
        restarted.stop()


def test_estop_on_either_side_latches_on_both(server) -> None:
    remote = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    remote.connect()
    try:
        remote.estop("test button")
        time.sleep(0.1)
        assert server_status(server.address)["estop"] == "test button"
        with pytest.raises(RemoteEmergencyStop):
            remote.move_ee((0.3, 0.0, 0.4))
        remote.reset_estop()
        remote.move_ee((0.3, 0.0, 0.4))
        assert server.proc is not None
        server.proc.send_signal(signal.SIGUSR1)  # the server's own e-stop
        time.sleep(0.3)
        assert remote.estopped is not None
        with pytest.raises(RemoteEmergencyStop):
            remote.home()
    finally:
        remote.disconnect()
        remote.close()


def test_a_client_that_lost_its_session_must_connect_again(server) -> None:
    first = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    second = RemoteRobot(server.address, watchdog_s=WATCHDOG_S)
    first.connect()
    second.connect()  # takes control
    try:
        with pytest.raises(SessionLost):
            first.ee_pose()
        second.ee_pose()
    finally:
        for r in (first, second):
            r.disconnect()
            r.close()
