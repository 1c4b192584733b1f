"""Resolving descriptions ("the two red blocks", "it", "the plate of the same colour") against
the visible things, with what earlier clauses mentioned and planned. Errors say what was
understood so far and suggest visible names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from embodied import naming
from embodied.types import Condition, Subgoal
from planners.errors import PlanningError
from planners.rule import subgoals as sg
from planners.rule.grammar import FORMS, NounPhrase
from planners.rule.scene import Scene, Thing


@dataclass
class Context:
    """What the interpretation of earlier clauses left for later ones."""

    mentioned: set[str] = field(default_factory=set)
    last: list[Thing] = field(default_factory=list)  # antecedent of "it" / "them"
    reserved: list[tuple[float, float, float]] = field(default_factory=list)  # planned spots (x, y, r)
    taken: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # receptacle -> used points
    notes: list[str] = field(default_factory=list)
    moved: set[str] = field(default_factory=set)  # objects an earlier subgoal moves
    onto: dict[str, str] = field(default_factory=dict)  # object -> what an earlier subgoal put it on


def of_shape(shape: str, things: list[Thing]) -> list[Thing]:
    """The things a shape word fits: its own shape class or an unclassified thing; "container"
    any bowl or tray, and "bowl"/"tray" any container when none has that exact shape. No shape
    (or "object") fits everything."""
    if shape in ("", "object"):
        return things
    if shape == "container":
        return [t for t in things if t.container]
    exact = [t for t in things if t.shape == shape or t.shape == "object"]
    if not exact and shape in ("bowl", "tray"):
        return [t for t in things if t.container]
    return exact


class Resolver:
    """Description -> things, for one decomposition; keeps the subgoals planned so far."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.ctx = Context()
        self.out: list[Subgoal] = []
        self.current = ""

    # ------------------------------------------------------------------------------- errors

    def error(self, problem: str, suggestions: list[str] | None = None,
              not_understood: list[str] | None = None) -> PlanningError:
        understood = [s.description for s in self.out]
        if self.current:
            understood.append(f"(reading {self.current!r})")
        return PlanningError(problem, understood=understood, not_understood=not_understood or [],
                             suggestions=suggestions or [], forms=FORMS)

    def visible(self) -> str:
        return ", ".join(self.scene.names()) or "nothing"

    # ------------------------------------------------------------------------------- resolution

    def resolve(self, np: NounPhrase, role: str, where: Callable[[Thing], bool] | None = None,
                like: Thing | None = None) -> list[Thing]:
        """The visible things a description refers to, in a stable order (left to right)."""
        if np.table:
            raise self.error(f"{np.text!r} is the table, not an object")
        if np.pronoun:
            if not self.ctx.last:
                raise self.error(f"{np.text!r} does not refer to anything mentioned before it")
            found = self.ctx.last[-1:] if np.pronoun == "it" else list(self.ctx.last)
            return found
        pool = list(self.scene.things)
        if np.names or np.index is not None:
            pool = self._by_name(np, pool)
        cands = [t for t in pool if not np.colors or t.color in np.colors]
        cands = of_shape(np.shape, cands)
        if np.quant == "rest":
            cands = [t for t in cands if t.name not in self.ctx.mentioned and not t.receptacle]
        if where is not None:
            cands = [t for t in cands if where(t)]
        if not np.shape or np.shape == "object":
            if role == "object":
                movable = [t for t in cands if not t.receptacle]
                cands = movable or cands
            elif like is not None:
                same = [t for t in cands if t.shape == like.shape and t.name != like.name]
                cands = same or cands
        if not cands:
            extra = " that fit the rest of the description" if where is not None else ""
            raise self.error(f"no visible object matches {np.text!r}{extra} (visible: {self.visible()})",
                             suggestions=naming.closest(np.text, self.scene.names()))
        cands.sort(key=lambda t: (-t.position[1], t.position[0], t.name))
        if np.size:
            cands.sort(key=lambda t: t.volume, reverse=np.size == "max")
        if np.position:
            key = {"left": lambda t: -t.position[1], "right": lambda t: t.position[1],
                   "front": lambda t: t.position[0], "back": lambda t: -t.position[0],
                   "top": lambda t: -t.position[2]}[np.position]
            cands.sort(key=key)
        return self._quantity(np, cands)

    def _by_name(self, np: NounPhrase, pool: list[Thing]) -> list[Thing]:
        shape = np.shape if np.shape not in ("", "object") else ""
        query = " ".join([*np.colors, *np.names, shape, str(np.index) if np.index is not None else ""]).strip()
        scored = sorted(((naming.match_score(query, t.name), t.name) for t in pool), reverse=True)
        best = scored[0][0] if scored else 0.0
        if best >= 0.45 and (np.index is not None or best >= 0.9 or not (np.colors or shape)):
            keep = {n for s, n in scored if s >= best - 1e-9}
            return [t for t in pool if t.name in keep]
        if np.names and (np.colors or shape) and np.index is None:
            self.ctx.notes.append(f"ignored the word(s) {' '.join(np.names)!r} in {np.text!r}")
            return pool
        raise self.error(f"no visible object is called {query!r} (visible: {self.visible()})",
                         suggestions=naming.closest(query, [t.name for t in pool]),
                         not_understood=list(np.names))

    def _quantity(self, np: NounPhrase, cands: list[Thing]) -> list[Thing]:
        if np.count is not None and np.count > 1:
            if len(cands) < np.count:
                raise self.error(f"{np.text!r} asks for {np.count} but only {len(cands)} are visible: "
                                 f"{', '.join(t.name for t in cands)}")
            fresh = [t for t in cands if t.name not in self.ctx.mentioned]
            return (fresh + [t for t in cands if t not in fresh])[:np.count]
        if np.quant == "both":
            if len(cands) != 2:
                raise self.error(f"{np.text!r} needs exactly two, but {len(cands)} match: "
                                 f"{', '.join(t.name for t in cands)}")
            return cands
        if np.many:
            return cands
        if len(cands) == 1 or np.size or np.position:
            return cands[:1]
        if np.det == "a" or np.quant == "any" or np.count == 1:
            fresh = [t for t in cands if t.name not in self.ctx.mentioned]
            return (fresh or cands)[:1]
        exact = [t for t in cands if naming.match_score(np.text, t.name) >= 1.0]
        if len(exact) == 1:
            return exact
        raise self.error(f"{np.text!r} is ambiguous: {len(cands)} visible objects match",
                         suggestions=[t.name for t in cands])

    def one(self, np: NounPhrase, role: str, like: Thing | None = None,
            where: Callable[[Thing], bool] | None = None) -> Thing:
        found = self.resolve(np, role, where=where, like=like)
        if len(found) != 1:
            raise self.error(f"{np.text!r} must name one object here, not {len(found)}",
                             suggestions=[t.name for t in found])
        return found[0]

    def many(self, nps: list[NounPhrase], role: str = "object",
             where: Callable[[Thing], bool] | None = None) -> list[Thing]:
        out: list[Thing] = []
        for np in nps:
            for t in self.resolve(np, role, where=where):
                if t not in out:
                    out.append(t)
        return out

    def _add(self, subgoal: Subgoal) -> None:
        """Append a subgoal and remember its effect, so later clauses see the planned state
        ("put the red block in the bowl, then empty the bowl")."""
        self.out.append(subgoal)
        for name in sg.moved_objects(subgoal):
            self.ctx.moved.add(name)
            self.ctx.onto.pop(name, None)
            if subgoal.action == "place_on":
                self.ctx.onto[name] = str(subgoal.args["target"])

    def on_now_or_planned(self, t: Thing, below: Thing) -> bool:
        """``t`` rests on/in ``below`` once the subgoals planned so far have run."""
        if t.name in self.ctx.moved:
            return self.ctx.onto.get(t.name) == below.name
        return t.name != below.name and bool(self.scene.holds(Condition("on", (t.name, below.name))))

    def mention(self, things: list[Thing]) -> None:
        self.ctx.mentioned.update(t.name for t in things)

    def need_graspable(self, things: list[Thing]) -> None:
        for t in things:
            if not t.graspable:
                why = "is a container/plate" if t.receptacle else f"is {t.grip_width * 100:.0f} cm wide"
                raise self.error(f"cannot pick up the {t.name}: it {why}, too big for the gripper")
