"""The robot server's message schema: plain msgpack maps over ZeroMQ (client DEALER, server ROUTER).

Every message is one msgpack map with ``v`` (schema version, :data:`VERSION`) and ``kind``:

- ``request`` (client -> server): ``id`` (int, unique per client), ``session`` (str, from
  ``hello``; "" for ``hello``/``status``/``estop``), ``op`` (str), ``args`` (map).
- ``reply`` (server -> client): ``id`` of the request, ``ok`` (bool), ``result`` (any msgpack
  value) or ``error`` (map: ``type``, ``message``, ``fields``), ``estop`` (latched reason or nil).
- ``busy`` (server -> client, before a slow call that moves nothing, e.g. ``scene_reset``): ``id``
  of the request, ``allow_s`` (seconds of silence the client's watchdog allows until its reply).
- ``heartbeat`` (both ways, every ``heartbeat_s``): ``session``, ``time`` (sender's monotonic
  seconds), ``estop`` (latched reason or nil; the server's view travels to the client).

Ops: ``hello`` (take control; returns ``session``, ``max_speed``, ``capabilities``, ``watchdog_s``,
``heartbeat_s``), ``bye``, ``status`` (no session needed), ``estop`` (latch, no session needed:
any e-stop button may send it), ``reset_estop``, ``call`` (``method``, ``params``: one
:class:`robots.base.Robot` method or an optional capability such as ``gripper_state``), and
``camera`` (``name``: one frame of a server-side camera).

Units are the protocol's: metres, radians, seconds, newtons. Tuples travel as arrays. Images are
``{"shape": [...], "dtype": "...", "data": bytes}``.

Errors cross the boundary by type name: the server sends the class name of a typed error, the
client rebuilds that class from :data:`ERRORS` (fields restored); any other exception arrives as
:class:`RemoteDriverFault` naming the original type. Nothing branches on message text.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from embodied.errors import EmbodiedError, EpisodeAborted
from robots.errors import GraspMissed, InvalidArgument, MotionBlocked, ObjectDropped, RobotError, Unreachable

VERSION = 1


class WireError(EpisodeAborted):
    """A message that does not follow the schema (wrong version, missing field)."""


class RemoteDriverFault(EpisodeAborted):
    """The driver behind the server raised an exception the framework does not know."""


class ServerLost(EpisodeAborted):
    """No message from the robot server within the watchdog: the link or the server is gone."""


class SessionLost(EpisodeAborted):
    """The server no longer knows this client's session (its watchdog fired, it restarted, or
    another client took control): connect again."""


class RemoteEmergencyStop(EpisodeAborted):
    """An e-stop is latched at the server (pressed on either side); ``reason`` says by whom."""

    def __init__(self, message: str, *, reason: str = "e-stop") -> None:
        super().__init__(message)
        self.reason = reason


class MotionHalted(EpisodeAborted):
    """A motion in progress was cut short by a stop (watchdog or e-stop)."""


class NotSupported(EmbodiedError):
    """The driver behind the server has no such capability (e.g. ground truth on a real arm)."""


ERRORS: dict[str, type[EmbodiedError]] = {cls.__name__: cls for cls in (
    Unreachable, GraspMissed, InvalidArgument, MotionBlocked, ObjectDropped, RobotError, RemoteDriverFault,
    ServerLost, SessionLost, RemoteEmergencyStop, MotionHalted, NotSupported, WireError, EpisodeAborted)}
FIELDS = ("target", "residual_m", "reason")


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb({"v": VERSION, **message}, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise WireError(f"undecodable message: {exc}") from exc
    if not isinstance(message, dict) or message.get("v") != VERSION or "kind" not in message:
        raise WireError(f"not a version-{VERSION} message: {str(message)[:80]}")
    return message


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """A typed error as ``{type, message, fields}``; unknown types keep their name in the message."""
    name = type(exc).__name__
    if isinstance(exc, EmbodiedError):
        known = next((cls.__name__ for cls in type(exc).__mro__ if cls.__name__ in ERRORS), "EpisodeAborted")
        if name != known and not isinstance(exc, RobotError):
            known = name if name in ERRORS else known
        fields = {f: _plain(getattr(exc, f)) for f in FIELDS if getattr(exc, f, None) is not None}
        if name == "EmergencyStop":  # the server-side SafeRobot's e-stop reads as the remote one
            known = "RemoteEmergencyStop"
        return {"type": known, "message": str(exc), "fields": fields, "original": name}
    return {"type": "RemoteDriverFault", "message": f"{name}: {exc}", "fields": {}, "original": name}


def error_from_wire(error: dict[str, Any]) -> EmbodiedError:
    cls = ERRORS.get(str(error.get("type")), RemoteDriverFault)
    message = str(error.get("message", ""))
    fields = dict(error.get("fields") or {})
    if cls is Unreachable:
        target = fields.get("target")
        return Unreachable(message, target=tuple(target) if target is not None else None,
                           residual_m=fields.get("residual_m"))
    if cls is RemoteEmergencyStop:
        return RemoteEmergencyStop(message, reason=str(fields.get("reason", "e-stop")))
    return cls(message)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain(value: Any) -> Any:
    """A result made msgpack-safe: tuples and numpy scalars to lists and floats, dataclasses to maps."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return image_to_wire(value)
    return _plain(value)


def image_to_wire(image: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(image)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "data": array.tobytes()}


def image_from_wire(data: dict[str, Any]) -> np.ndarray:
    try:
        return np.frombuffer(data["data"], dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad image payload: {exc}") from exc
