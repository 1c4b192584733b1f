"""TemplateWriter: one readable code policy per subgoal, over the tabletop primitive API.

Positions that depend on other objects ("next to", "in a row", "between", "towards") are read
with ``get_pose`` when the policy runs, so a target that moved since planning still works; only
spots the plan fixed (a free spot, the start of a row) are literals. Every policy ends with
``home()`` (the arm leaves the camera's view, so the checkpoint image is not occluded) and a
``checkpoint``. The same templates render repaired variants: :class:`PolicyOptions` adds a
preamble (re-detect, clear an obstruction), grasp offsets, a slower speed, or skips the pick
when the object is still held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from embodied.errors import DomainError
from embodied.primitives import PrimitiveSet
from embodied.types import Observation, Policy, Subgoal
from planners.errors import WritingError
from planners.kits.tabletop.actions import ACTIONS


@dataclass
class PolicyOptions:
    """How to render a subgoal. Defaults give the plain policy; repairs change some fields."""

    speed: float | None = None  # fraction of the default speed; None: the subgoal's own
    pick_dx: float = 0.0  # grasp offset from the detected centre, metres
    pick_dy: float = 0.0
    place_dx: float = 0.0  # correction added to the place position, metres
    place_dy: float = 0.0
    redetect: bool = False  # start with home() + get_objects(): a fresh, unoccluded detection
    resume: bool = False  # skip the pick when the object is still in the gripper
    clear_first: list[tuple[str, float, float]] = field(default_factory=list)  # (name, x, y) to move away first
    nudge_into_reach: tuple[float, float] | None = None  # push the object by (dx, dy) before picking
    rename: dict[str, str] = field(default_factory=dict)  # planned name -> name seen now
    header: list[str] = field(default_factory=list)  # comment lines at the top
    home_at_end: bool = True


def num(value: float) -> str:
    """A short literal for metres: 0.1, -0.035, 0."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def q(name: str) -> str:
    return json.dumps(name)


class _Code:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.used: set[str] = set()

    def comment(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def call(self, name: str, *args: str, comment: str = "", assign: str = "", indent: int = 0,
             **kwargs: str) -> None:
        self.used.add(name)
        parts = [*args, *(f"{k}={v}" for k, v in kwargs.items())]
        text = f"{name}({', '.join(parts)})"
        if assign:
            text = f"{assign} = {text}"
        if comment:
            text += f"  # {comment}"
        self.lines.append("    " * indent + text)

    def raw(self, text: str) -> None:
        self.lines.append(text)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


class TemplateWriter:
    """Writer backend "rule": subgoal action -> policy template (see planners.rule.subgoals)."""

    def __init__(self, home_at_end: bool = True) -> None:
        self.home_at_end = home_at_end
        self._templates: dict[str, Callable[[_Code, Subgoal, PolicyOptions], None]] = {
            "pick": self._pick,
            "place_on": self._place_on,
            "place_at": self._place_at,
            "push": self._push,
        }

    def actions(self) -> list[str]:
        return sorted(self._templates)

    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        source = self.render(subgoal, PolicyOptions(home_at_end=self.home_at_end), api)
        return Policy(source=source, origin="template")

    def render(self, subgoal: Subgoal, options: PolicyOptions, api: PrimitiveSet | None = None) -> str:
        """The policy text for ``subgoal`` rendered with ``options``."""
        try:
            ACTIONS.parse(subgoal)
        except DomainError as exc:
            raise WritingError(f"no policy for this subgoal: {exc}") from exc
        template = self._templates.get(subgoal.action)
        if template is None:
            raise WritingError(f"no policy template for action {subgoal.action!r} of subgoal "
                               f"{subgoal.description!r}; known actions: {', '.join(self.actions())}")
        code = _Code()
        for line in options.header:
            code.comment(line)
        code.comment(subgoal.description)
        if options.redetect:
            code.call("home", comment="out of the camera's view")
            code.call("get_objects", assign="seen", comment="detect again")
        for name, x, y in options.clear_first:
            code.comment(f"first move the {name} out of the way")
            code.call("pick", q(name), **self._speed(subgoal, options))
            code.call("place_at", num(x), num(y), **self._speed(subgoal, options))
        template(code, subgoal, options)
        if options.home_at_end and subgoal.action != "pick":
            code.call("home", comment="clear the camera's view")
        label = subgoal.checkpoints[-1] if subgoal.checkpoints and subgoal.checkpoints[-1] != "end" else \
            subgoal.description
        code.call("checkpoint", q(label))
        if api is not None and api.names():
            missing = sorted(code.used - set(api.names()) - {"checkpoint"})
            if missing:
                raise WritingError(f"the policy for {subgoal.description!r} needs primitives this environment lacks: "
                                   f"{', '.join(missing)} (it has {', '.join(api.names())})")
        return code.source()

    # ------------------------------------------------------------------------------- templates

    @staticmethod
    def _name(subgoal: Subgoal, key: str, options: PolicyOptions) -> str:
        value = str(subgoal.args[key])
        return options.rename.get(value, value)

    @staticmethod
    def _speed(subgoal: Subgoal, options: PolicyOptions) -> dict[str, str]:
        speed = options.speed if options.speed is not None else float(subgoal.args.get("speed", 1.0))
        return {} if abs(speed - 1.0) < 1e-9 else {"speed": num(speed)}

    def _grasp(self, code: _Code, subgoal: Subgoal, options: PolicyOptions) -> None:
        obj = self._name(subgoal, "object", options)
        kwargs: dict[str, str] = {}
        if options.pick_dx:
            kwargs["dx"] = num(options.pick_dx)
        if options.pick_dy:
            kwargs["dy"] = num(options.pick_dy)
        kwargs.update(self._speed(subgoal, options))
        if options.nudge_into_reach is not None:
            dx, dy = options.nudge_into_reach
            code.call("push", q(obj), num(dx), num(dy), comment="bring it within reach first")
        if options.resume:
            code.raw("if holding() is None:  # still holding it? then go straight to placing")
            code.used.add("holding")
            code.call("pick", q(obj), indent=1, **kwargs)
        else:
            code.call("pick", q(obj), **kwargs)

    def _pick(self, code: _Code, subgoal: Subgoal, options: PolicyOptions) -> None:
        self._grasp(code, subgoal, options)

    def _place_on(self, code: _Code, subgoal: Subgoal, options: PolicyOptions) -> None:
        self._grasp(code, subgoal, options)
        target = self._name(subgoal, "target", options)
        kwargs: dict[str, str] = {}
        dx = float(subgoal.args.get("dx", 0.0)) + options.place_dx
        dy = float(subgoal.args.get("dy", 0.0)) + options.place_dy
        if abs(dx) > 1e-9:
            kwargs["dx"] = num(dx)
        if abs(dy) > 1e-9:
            kwargs["dy"] = num(dy)
        kwargs.update(self._speed(subgoal, options))
        code.call("place_on", q(target), **kwargs)

    def _place_at(self, code: _Code, subgoal: Subgoal, options: PolicyOptions) -> None:
        args = subgoal.args
        speed = self._speed(subgoal, options)
        obj = self._name(subgoal, "object", options)
        cx, cy = options.place_dx, options.place_dy
        if "between" in args:
            a, b = (options.rename.get(n, n) for n in args["between"])
            self._grasp(code, subgoal, options)
            code.call("get_pose", q(a), assign="ax, ay, az", comment="read both after the pick")
            code.call("get_pose", q(b), assign="bx, by, bz")
            code.call("place_at", f"(ax + bx) / 2{self._plus(cx)}", f"(ay + by) / 2{self._plus(cy)}", **speed)
            return
        if "relative_to" in args:
            ref = self._name(subgoal, "relative_to", options)
            dx, dy = float(args.get("dx", 0.0)) + cx, float(args.get("dy", 0.0)) + cy
            if ref == obj:
                code.call("get_pose", q(obj), assign="x, y, z", comment="where it is before it moves")
                self._grasp(code, subgoal, options)
            else:
                self._grasp(code, subgoal, options)
                code.call("get_pose", q(ref), assign="x, y, z", comment="read after the pick: it may have moved")
            code.call("place_at", f"x{self._plus(dx)}", f"y{self._plus(dy)}", **speed)
            return
        if "x" in args and "y" in args:
            self._grasp(code, subgoal, options)
            code.call("place_at", num(float(args["x"]) + cx), num(float(args["y"]) + cy), **speed)
            return
        raise WritingError(f"place_at subgoal {subgoal.description!r} has no x/y, relative_to or between")

    def _push(self, code: _Code, subgoal: Subgoal, options: PolicyOptions) -> None:
        args = subgoal.args
        speed = self._speed(subgoal, options)
        obj = self._name(subgoal, "object", options)
        if "towards" in args:
            target = options.rename.get(str(args["towards"]), str(args["towards"]))
            gap = float(args.get("gap", 0.06))
            code.call("get_pose", q(obj), assign="x, y, z")
            code.call("get_pose", q(target), assign="tx, ty, tz")
            code.raw("d = math.hypot(tx - x, ty - y)")
            code.raw(f"if d > {num(gap)}:  # stop when they are {num(gap * 100)} cm apart, centre to centre")
            code.call("push", q(obj), f"(tx - x) * (d - {num(gap)}) / d", f"(ty - y) * (d - {num(gap)}) / d", indent=1,
                      **speed)
            return
        if "dx" in args and "dy" in args:
            code.call("push", q(obj), num(float(args["dx"]) + options.place_dx),
                      num(float(args["dy"]) + options.place_dy), **speed)
            return
        raise WritingError(f"push subgoal {subgoal.description!r} has neither dx/dy nor towards")

    @staticmethod
    def _plus(value: float) -> str:
        if abs(value) < 1e-9:
            return ""
        return f" + {num(value)}" if value > 0 else f" - {num(-value)}"
