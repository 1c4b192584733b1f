"""Typed config of the tabletop world.

Frame convention (metres, radians): the robot base sits at the world origin on the table; +x points
away from the robot across the table ("behind" an object = larger x, "in front of" = smaller x,
towards the robot), +y points to the robot's left ("left of" = larger y), +z is up. Object
positions are given as (x, y) on the table top; z is computed from the object's size.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from embodied.config import StrictModel, backend_name
from embodied.palette import COLOR_ALIASES, PALETTE

Shape = Literal["cube", "cylinder", "plate", "bowl", "tray"]
SHAPE_ALIASES = {"block": "cube", "box": "cube", "brick": "cube", "zone": "plate", "pad": "plate",
                 "mat": "plate", "container": "bowl", "bin": "tray", "can": "cylinder"}
DEFAULT_SIZE = {"cube": (0.04, 0.04, 0.04), "cylinder": (0.04, 0.04, 0.05), "plate": (0.12, 0.12, 0.005),
                "bowl": (0.14, 0.14, 0.05), "tray": (0.18, 0.18, 0.04)}
DEFAULT_MASS = {"cube": 0.08, "cylinder": 0.08, "plate": 0.5, "bowl": 0.5, "tray": 0.8}


class RegionConfig(StrictModel):
    """An axis-aligned rectangle on the table top, in metres."""

    x: tuple[float, float]
    y: tuple[float, float]

    @model_validator(mode="after")
    def _ordered(self) -> RegionConfig:
        if self.x[0] >= self.x[1] or self.y[0] >= self.y[1]:
            raise ValueError("a region needs x: [min, max] and y: [min, max] with min < max")
        return self


DEFAULT_REGIONS: dict[str, RegionConfig] = {
    "table": RegionConfig(x=(0.35, 0.70), y=(-0.25, 0.25)),
    "left": RegionConfig(x=(0.35, 0.70), y=(0.05, 0.25)),
    "right": RegionConfig(x=(0.35, 0.70), y=(-0.25, -0.05)),
    "center": RegionConfig(x=(0.45, 0.60), y=(-0.10, 0.10)),
    "front": RegionConfig(x=(0.35, 0.48), y=(-0.25, 0.25)),
    "back": RegionConfig(x=(0.57, 0.70), y=(-0.25, 0.25)),
}


class ObjectConfig(StrictModel):
    name: str = Field(min_length=1, description="how instructions and goals refer to it, e.g. 'red block'")
    shape: Shape = "cube"
    color: str = Field(default="", description="a palette colour; default red, and gray for a bowl or tray "
                                               "(a neutral container that no coloured block is confused with)")
    size: tuple[float, float, float] | float | None = Field(
        default=None, description="metres: one number for a cube edge, or [dx, dy, dz]")
    mass: float | None = Field(default=None, gt=0, description="kg")
    friction: float = Field(default=1.0, gt=0, le=5)
    position: tuple[float, float] | None = Field(default=None, description="fixed (x, y) on the table")
    yaw: float | None = Field(default=None, description="radians; random when sampled and not given")
    region: str | None = Field(default=None, description="sample (x, y) in this named region")
    on: str | None = Field(default=None, description="start resting on this other object (its name), e.g. 'blue cube'")
    fixed: bool | None = Field(default=None, description="static body; default true for plates")

    @field_validator("shape", mode="before")
    @classmethod
    def _shape_alias(cls, v: object) -> object:
        return SHAPE_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("color")
    @classmethod
    def _color(cls, v: str) -> str:
        if not v:
            return v  # filled in by shape below
        v = COLOR_ALIASES.get(v.lower(), v.lower())
        if v not in PALETTE:
            from embodied.registry import did_you_mean

            guess = did_you_mean(v, list(PALETTE))
            hint = f"did you mean {guess!r}?" if guess else f"known colours: {', '.join(PALETTE)}"
            raise ValueError(f"unknown colour {v!r} ({hint})")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: tuple[float, float, float] | float | None) -> tuple[float, float, float] | float | None:
        values = [v] if isinstance(v, float | int) else list(v or [])
        if any(s <= 0 or s > 0.5 for s in values):
            raise ValueError("sizes are metres in (0, 0.5]")
        return v

    @model_validator(mode="after")
    def _placement(self) -> ObjectConfig:
        if self.position is not None and self.region is not None:
            raise ValueError("give either position or region, not both")
        if self.on is not None and (self.position is not None or self.region is not None):
            raise ValueError("an object placed 'on' another takes its place: give no position or region")
        if not self.color:
            self.color = "gray" if self.shape in ("bowl", "tray") else "red"
        return self

    def dims(self) -> tuple[float, float, float]:
        if self.size is None:
            return DEFAULT_SIZE[self.shape]
        if isinstance(self.size, float | int):
            s = float(self.size)
            if self.shape in ("plate",):
                return (s, s, DEFAULT_SIZE["plate"][2])
            return (s, s, s) if self.shape == "cube" else (s, s, s * DEFAULT_SIZE[self.shape][2] / 0.04)
        return tuple(float(s) for s in self.size)  # type: ignore[return-value]

    def body_mass(self) -> float:
        return self.mass if self.mass is not None else DEFAULT_MASS[self.shape]

    def is_fixed(self) -> bool:
        return self.fixed if self.fixed is not None else self.shape == "plate"


class CameraConfig(StrictModel):
    name: str = "front"
    width: int = Field(default=320, ge=16, le=4096)
    height: int = Field(default=240, ge=16, le=4096)
    fov_deg: float = Field(default=60.0, gt=1, lt=179, description="vertical field of view")
    eye: tuple[float, float, float] = (1.15, 0.0, 0.75)
    target: tuple[float, float, float] = (0.52, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    near: float = Field(default=0.05, gt=0)
    far: float = Field(default=3.0, gt=0)


class PerturbationConfig(StrictModel):
    """Seeded faults so that repair can be measured. Probabilities are per opportunity."""

    slip: float = Field(default=0.0, ge=0, le=1, description="carried object slips out during transport")
    nudge: float = Field(default=0.0, ge=0, le=1, description="object nudged while the arm moves to it")
    nudge_distance: float = Field(default=0.06, ge=0, le=0.3, description="metres")
    pose_noise: float = Field(default=0.0, ge=0, le=0.05, description="std of detector noise, metres")
    distractor: float = Field(default=0.0, ge=0, le=1, description="a distractor dropped near the target")
    move_target: float = Field(default=0.0, ge=0, le=1, description="target moved once mid-episode")
    max_events: int = Field(default=2, ge=0, le=100, description="cap on faults per episode")


class RobotConfig(StrictModel):
    kind: str = "panda"
    gripper_force: float = Field(default=25.0, gt=0, le=200, description="N per finger")
    max_speed: float = Field(default=0.5, gt=0, le=2.0, description="end-effector m/s")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return backend_name("robot", v)


class TabletopConfig(StrictModel):
    domain: ClassVar[str] = "tabletop"  # the domain kit of the worlds this config builds
    kind: Literal["tabletop"] = "tabletop"
    seed: int = 0
    gui: bool = False
    physics_hz: int = Field(default=240, ge=60, le=2000)
    robot: RobotConfig = Field(default_factory=RobotConfig)
    objects: list[ObjectConfig] = Field(min_length=1)
    regions: dict[str, RegionConfig] = Field(default_factory=dict, description="added to the defaults")
    cameras: list[CameraConfig] = Field(default_factory=lambda: [CameraConfig()])
    perturbations: PerturbationConfig = Field(default_factory=PerturbationConfig)
    oracle: bool = Field(default=False, description="agent sees simulator state instead of detections")
    detector: str = "rgbd"

    @field_validator("detector")
    @classmethod
    def _detector(cls, v: str) -> str:
        return backend_name("detector", v)

    @model_validator(mode="after")
    def _consistent(self) -> TabletopConfig:
        names = [o.name.strip().lower() for o in self.objects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"object names must be unique; repeated: {', '.join(dupes)}")
        regions = self.all_regions()
        by_name = {o.name.strip().lower(): o for o in self.objects}
        for i, obj in enumerate(self.objects):
            if obj.on is not None:
                below, seen = obj.on.strip().lower(), {obj.name.strip().lower()}
                if below not in by_name:
                    from embodied.registry import did_you_mean

                    guess = did_you_mean(obj.on, [o.name for o in self.objects])
                    raise ValueError(f"objects.{i}.on: no object named {obj.on!r}"
                                     + (f" (did you mean {guess!r}?)" if guess else ""))
                while below is not None:  # a chain of supports must end on the table
                    if below in seen:
                        raise ValueError(f"objects.{i}.on: {obj.name!r} would rest on itself through a cycle")
                    seen.add(below)
                    support = by_name[below].on
                    below = support.strip().lower() if support is not None else None
        for i, obj in enumerate(self.objects):
            if obj.region is not None and obj.region not in regions:
                from embodied.registry import did_you_mean

                guess = did_you_mean(obj.region, list(regions))
                hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(regions)}"
                raise ValueError(f"objects.{i}.region: unknown region {obj.region!r} ({hint})")
        cams = [c.name for c in self.cameras]
        if len(set(cams)) != len(cams):
            raise ValueError("camera names must be unique")
        return self

    def all_regions(self) -> dict[str, RegionConfig]:
        return {**DEFAULT_REGIONS, **self.regions}
