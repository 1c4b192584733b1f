"""From intents to subgoals: lay out the object movements (stacks bottom-up, rows from their
anchor, containers slot by slot, free spots on the table) for descriptions resolved by
:class:`planners.rule.resolve.Resolver`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace

from embodied.types import Condition, Subgoal
from planners.rule import subgoals as sg
from planners.rule.grammar import Intent, Line, Move, NounPhrase, Push, Stack, describe
from planners.rule.lexicon import RAINBOW
from planners.rule.resolve import Resolver
from planners.rule.scene import Thing

UNIT_VECTORS = {"left": (0.0, 1.0), "right": (0.0, -1.0), "forward": (1.0, 0.0), "backward": (-1.0, 0.0)}
DIRECTION_WORDS = {"left": "to the left", "right": "to the right", "forward": "away from the robot",
                   "backward": "towards the robot"}
ROW_VECTORS = {"ltr": (0.0, -1.0), "rtl": (0.0, 1.0), "f2b": (1.0, 0.0), "b2f": (-1.0, 0.0)}
ROW_RELATION = {"ltr": "right_of", "rtl": "left_of", "f2b": "behind", "b2f": "in_front_of"}
SIDE_VECTORS = {"right_of": (0.0, -1.0), "left_of": (0.0, 1.0), "in_front_of": (-1.0, 0.0), "behind": (1.0, 0.0)}
TABLE_REGIONS = {"left_of": "left", "right_of": "right", "in_front_of": "front", "behind": "back",
                 "center_of": "center", "middle": "center", "center": "center", "left": "left", "right": "right",
                 "front": "front", "back": "back"}
DEFAULT_SHIFT = 0.10  # metres, for "push the block left" without a distance
GAP = 0.02  # metres between objects placed next to each other
AWAY = 0.15  # metres, centre to centre, for "move X away from Y"


class Interpreter(Resolver):
    """Turns parsed intents into subgoals for one scene. One instance per decomposition."""

    # ------------------------------------------------------------------------------- intents

    def interpret(self, intents: list[Intent]) -> list[Subgoal]:
        for i, intent in enumerate(intents):
            self.current = describe(intent)
            nxt = intents[i + 1] if i + 1 < len(intents) else None
            if isinstance(intent, Move) and intent.verb == "pick" and self._is_bare_pick(intent) and \
                    nxt is not None and _refers_back(nxt):
                picked = self.many(intent.objects) if intent.objects else list(self.ctx.last)
                self.mention(picked)
                self.ctx.last = picked  # "pick up X and put it on Y": one movement
                continue
            if isinstance(intent, Move):
                self._move(intent)
            elif isinstance(intent, Stack):
                self._stack(intent)
            elif isinstance(intent, Line):
                self._line(intent)
            else:
                self._push(intent)
        self.current = ""
        return self.out

    @staticmethod
    def _is_bare_pick(move: Move) -> bool:
        return not (move.relation or move.direction or move.region or move.match)

    def _filters(self, move: Move) -> Callable[[Thing], bool] | None:
        tests: list[Callable[[Thing], bool]] = []
        for rel, np in move.filters:
            if np.table:
                tests.append(self.scene.on_table)
                continue
            ref = self.one(np, "target")
            if rel in ("on", "in", "from", "to"):
                tests.append(lambda t, ref=ref: self.on_now_or_planned(t, ref))
            else:
                tests.append(lambda t, ref=ref, pred=rel: t.name != ref.name and bool(
                    self.scene.holds(Condition(pred, (t.name, ref.name)))))
        if not tests:
            return None
        return lambda t: all(test(t) for test in tests)

    def _objects(self, move: Move) -> list[Thing]:
        """What a move moves: the named objects (filtered by "on the plate" and the like), all
        movables for "clear the table" / sorting, what lies on a plate for "clear the plate", or
        the last objects talked about ("pick up X, then put it ...")."""
        where = self._filters(move)
        objects_np = move.objects
        if move.verb == "clear" and len(objects_np) == 1 and objects_np[0].table:
            objects_np = []
        if not objects_np:
            if move.verb == "clear" or move.match or move.filters:
                return [t for t in self.scene.movables() if where is None or where(t)]
            if self.ctx.last:
                return list(self.ctx.last)
            raise self.error("which object should I move? none is named")
        if move.verb == "clear" and all(not np.many and not np.pronoun for np in objects_np) and all(
                t.receptacle for t in self.many(objects_np, "target")):
            holders = self.many(objects_np, "target")  # "clear the blue plate": what lies on it
            objects = [t for h in holders for t in self.scene.things if not t.receptacle and
                       self.on_now_or_planned(t, h)]
            if not objects:
                raise self.error(f"nothing lies on {' and '.join('the ' + h.name for h in holders)}")
            return objects
        return self.many(objects_np, "object", where=where)

    def _move(self, move: Move) -> None:
        objects = self._objects(move)
        objects_np = move.objects
        if move.match:
            self._sort(move, objects)
            return
        target_np = move.targets[0] if move.targets else None
        emptying = move.verb == "clear" and bool(objects_np) and all(
            not np.many and not np.pronoun and not np.table for np in objects_np)
        if emptying and target_np is None and not move.region:
            move.region = "free"  # "empty the bowl": what was in it goes onto the table
        if move.verb == "clear" and target_np is None and not move.region:
            containers = [t for t in self.scene.things if t.container]
            if len(containers) != 1:
                why = ("there is no bowl or tray" if not containers else
                       "there are several containers: " + ", ".join(t.name for t in containers))
                raise self.error(f"where should everything go? {why}; say e.g. 'into the {containers[0].name}'"
                                 if containers else f"where should everything go? {why}")
            target_np = NounPhrase(words=["the", containers[0].name], det="the", names=[containers[0].name])
            move.relation = "in"
        relation = move.relation
        if relation == "away_from" and target_np is not None and not target_np.table:
            away = self.one(target_np, "target", like=objects[0] if objects else None)
            self.mention([*objects, away])
            self._away_from(move, [t for t in objects if t.name != away.name], away)
            self.ctx.last = objects
            return
        if target_np is not None and not target_np.table and relation not in ("between",):
            target = self.one(target_np, "target", like=objects[0] if objects else None)
            objects = [t for t in objects if t.name != target.name] if len(objects) > 1 else objects
            if any(t.name == target.name for t in objects):
                raise self.error(f"cannot put the {target.name} {relation.replace('_', ' ')} itself")
            self.mention([*objects, target])
            self._to_target(move, objects, target)
        elif target_np is not None and target_np.table:
            self.mention(objects)
            region = TABLE_REGIONS.get(relation, "")
            self._to_table(move, objects, region)
        elif relation == "between":
            like = objects[0] if objects else None
            a = self.one(move.targets[0], "target", like=like)
            b = self.one(move.targets[1], "target", like=like)
            if any(t.name in (a.name, b.name) for t in objects):
                raise self.error("an object cannot go between itself and another")
            self.need_graspable(objects)
            self.mention([*objects, a, b])
            for t in objects:
                self._add(sg.place_between(t, a, b, speed=move.speed))
        elif move.direction:
            self.mention(objects)
            self._displace(move, objects)
        elif move.region == "top" and self.ctx.last and objects:
            top = self.ctx.last[-1]  # "..., then put the red block on top": of what was just built
            if any(t.name == top.name for t in objects):
                raise self.error(f"cannot put the {top.name} on top of itself")
            self.mention(objects)
            move.relation = "on"
            self._to_target(move, objects, top)
        elif move.region and move.region != "top":
            self.mention(objects)
            self._to_table(move, objects, "" if move.region == "free" else TABLE_REGIONS.get(move.region, "center"))
        elif objects_np and objects_np[-1].trailing_position and objects_np[-1].position in TABLE_REGIONS \
                and move.verb != "pick":
            self.mention(objects)  # "put the red block on the left": the words were a place
            self._to_table(move, objects, TABLE_REGIONS[objects_np[-1].position])
        elif move.verb == "remove" or any(rel == "from" for rel, _ in move.filters):
            self.mention(objects)  # "take the blocks out of the bowl": onto the table
            self._to_table(move, objects, "")
        elif move.verb == "pick":
            self.need_graspable(objects)
            if len(objects) != 1:
                raise self.error("the gripper holds one object at a time; say where to put the others")
            self.mention(objects)
            self._add(sg.pick(objects[0], speed=move.speed))
        else:
            names = ", ".join(t.name for t in objects)
            raise self.error(f"where should the {names} go? add a place, e.g. 'in the bowl' or 'on the blue block'")
        self.ctx.last = objects

    def _to_target(self, move: Move, objects: list[Thing], target: Thing) -> None:
        relation = move.relation
        if relation in ("to", "center_of"):
            relation = "in" if target.container else "on" if target.receptacle or relation == "center_of" else "near"
        self.need_graspable(objects)
        if relation in ("on", "in"):
            if relation == "in" and not target.receptacle:
                self.ctx.notes.append(f"read 'in the {target.name}' as 'on the {target.name}'")
            below = target
            for t in objects:
                dx, dy = self.scene.slot(below, t, self.ctx.taken.get(below.name, []))
                self.ctx.taken.setdefault(below.name, []).append((below.position[0] + dx, below.position[1] + dy))
                self._add(sg.place_on(t, below, dx, dy, speed=move.speed))
                if not below.receptacle:
                    below = t  # several objects "on the blue block": a tower
            return
        if relation in ("near", *sg.RELATION_WORDS):
            for k, t in enumerate(objects):
                dx, dy = self._side(t, target, relation, k)
                self._add(sg.place_relative(t, target, relation, dx, dy, speed=move.speed))
            return
        raise self.error(f"cannot put something {relation.replace('_', ' ')} the {target.name}")

    def _side(self, obj: Thing, target: Thing, relation: str, k: int) -> tuple[float, float]:
        """Offset from ``target`` for the k-th object put next to / left of / ... it."""
        d = obj.radius + target.radius + GAP
        if relation != "near":
            ux, uy = SIDE_VECTORS[relation]
            x, y = target.position[0] + ux * d * (k + 1), target.position[1] + uy * d * (k + 1)
            self.ctx.reserved.append((x, y, obj.radius))
            return (round(ux * d * (k + 1), 3), round(uy * d * (k + 1), 3))
        best: tuple[float, tuple[float, float]] | None = None
        for ux, uy in (SIDE_VECTORS["right_of"], SIDE_VECTORS["left_of"], SIDE_VECTORS["in_front_of"],
                       SIDE_VECTORS["behind"]):
            x, y = target.position[0] + ux * d, target.position[1] + uy * d
            clear = self.scene.clearance(x, y, exclude=(obj.name, target.name), reserved=self.ctx.reserved)
            inside = self.scene.workspace.contains(x, y, margin=obj.radius * 0.5)
            score = clear - (0.0 if inside else 1.0)
            if clear >= obj.radius + 0.01 and inside:
                best = (score, (ux * d, uy * d))
                break
            if best is None or score > best[0]:
                best = (score, (ux * d, uy * d))
        dx, dy = best[1] if best is not None else (0.0, -d)
        self.ctx.reserved.append((target.position[0] + dx, target.position[1] + dy, obj.radius))
        return (round(dx, 3), round(dy, 3))

    def _to_table(self, move: Move, objects: list[Thing], region: str) -> None:
        """Put each object on a free spot of the table (in a named region if given)."""
        self.need_graspable(objects)
        area = self.scene.workspace.region(region) if region else None
        for t in objects:
            near = area.center if area is not None else t.xy
            spot = self.scene.free_spot(t.radius, near=near, exclude=(t.name,), reserved=self.ctx.reserved,
                                        region=area)
            if spot is None and area is not None:
                spot = self.scene.free_spot(t.radius, near=area.center, exclude=(t.name,),
                                            reserved=self.ctx.reserved)
            if spot is None:
                raise self.error("the table has no free spot left for the " + t.name)
            self.ctx.reserved.append((spot[0], spot[1], t.radius))
            where = {"": "on the table", "center": "in the middle of the table"}.get(
                region, f"on the {region} side of the table")
            sub = sg.place_at(t, *spot, why=f"put the {t.name} {where}", speed=move.speed)
            sub.conditions.append(Condition("on", (t.name, "table")))
            self._add(sub)

    def _away_from(self, move: Move, objects: list[Thing], away: Thing) -> None:
        """Each object to the nearest free spot at least AWAY metres (centre to centre) from ``away``."""
        self.need_graspable(objects)
        keep_out = (away.position[0], away.position[1], AWAY)
        for t in objects:
            spot = self.scene.free_spot(t.radius, near=t.xy, exclude=(t.name,), reserved=[*self.ctx.reserved, keep_out],
                                        gap=0.0)
            if spot is None:
                raise self.error(f"found no free spot away from the {away.name} for the {t.name}")
            self.ctx.reserved.append((spot[0], spot[1], t.radius))
            sub = sg.place_at(t, *spot, why=f"move the {t.name} away from the {away.name}", speed=move.speed)
            sub.conditions = [Condition("near", (t.name, away.name), {"distance": AWAY - 0.02}, negated=True)]
            self._add(sub)

    def _displace(self, move: Move, objects: list[Thing]) -> None:
        if move.direction not in UNIT_VECTORS:
            raise self.error(f"cannot move objects {move.direction!r}: use left, right, forward or back")
        self.need_graspable(objects)
        dist = move.distance if move.distance is not None else DEFAULT_SHIFT
        ux, uy = UNIT_VECTORS[move.direction]
        words = f"{dist * 100:.0f} cm {DIRECTION_WORDS[move.direction]}"
        for t in objects:
            self._add(sg.displace(t, ux * dist, uy * dist, words, speed=move.speed))

    def _sort(self, move: Move, objects: list[Thing]) -> None:
        """Each object onto/into a receptacle of the same (or a different) colour."""
        if move.targets:
            np = move.targets[0]
            pool_np = replace(np, colors=[], quant="all", det="", count=None, plural=True)
            if pool_np.shape in ("", "object"):
                pool_np.shape = ""
            holders = [t for t in self.resolve(pool_np, "target") if t.receptacle]
        else:
            holders = [t for t in self.scene.things if t.receptacle]
        if not holders:
            raise self.error(f"found no plates, bowls or trays to sort into (visible: {self.visible()})")
        objects = [t for t in objects if t not in holders and not t.receptacle]
        if not objects:
            raise self.error("found nothing to sort")
        self.need_graspable(objects)
        relation = move.relation or "in"
        assigned: dict[str, int] = {h.name: 0 for h in holders}
        skipped: list[str] = []
        for t in objects:
            if move.match == "same":
                options = [h for h in holders if h.color == t.color]
            else:
                options = [h for h in holders if h.color != t.color]
            if not options:
                skipped.append(t.name)
                continue
            options.sort(key=lambda h: (assigned[h.name], math.dist(h.xy, t.xy)))
            holder = options[0]
            assigned[holder.name] += 1
            dx, dy = self.scene.slot(holder, t, self.ctx.taken.get(holder.name, []))
            self.ctx.taken.setdefault(holder.name, []).append((holder.position[0] + dx, holder.position[1] + dy))
            self._add(sg.place_on(t, holder, dx, dy, speed=move.speed))
        if skipped and len(skipped) == len(objects):
            kind = "the same" if move.match == "same" else "a different"
            raise self.error(f"no {relation} target of {kind} colour for: {', '.join(skipped)}")
        if skipped:
            self.ctx.notes.append(f"left {', '.join(skipped)} where they are: no plate/container of a matching colour")
        self.mention(objects)
        self.ctx.last = objects

    # ------------------------------------------------------------------------------- stacks

    def _stack(self, stack: Stack) -> None:
        base = None
        if stack.base is not None and not stack.base.table:
            base = self.one(stack.base, "target")
        if stack.chain:
            order = [self.one(np, "object") for np in reversed(stack.chain)]
        else:
            order = self._stack_order(stack)
        if base is not None:
            order = [t for t in order if t.name != base.name]
        names = [t.name for t in order]
        if len(set(names)) != len(names):
            raise self.error("the same object appears twice in the stack: " + ", ".join(names))
        if len(order) < 2 and base is None:
            raise self.error(f"a stack needs at least two objects; found {', '.join(names) or 'none'}")
        self.need_graspable(order[1:] if base is None else order)
        self.mention([*order, *([base] if base else [])])
        if base is not None:
            dx, dy = self.scene.slot(base, order[0], self.ctx.taken.get(base.name, []))
            self._add(sg.place_on(order[0], base, dx, dy, speed=stack.speed))
        for below, above in itertools.pairwise(order):
            self._add(sg.place_on(above, below, speed=stack.speed))
        self.ctx.last = order

    def _stack_order(self, stack: Stack) -> list[Thing]:
        """Bottom first. Explicit sequence > positions > size order > mention order."""
        listed = self.many(stack.objects) if stack.objects else []
        seq = [self.one(np, "object") for np in stack.sequence] if stack.sequence else []
        if stack.sequence_from_top:
            seq.reverse()
        pos_things = [(self._position_subject(np, listed), pos) for np, pos in stack.positions]
        members = list(listed)
        if not stack.objects and not seq:  # "build a tower with green at the bottom": all blocks
            members = [t for t in self.scene.movables() if t.graspable]
        for t in [*seq, *(t for t, _ in pos_things)]:
            if t not in members:
                members.append(t)
        explicit_list = len(stack.objects) > 1
        if seq:
            base_order = seq + [t for t in members if t not in seq]
            extra = [t.name for t in members if t not in seq]
            if extra:
                self.ctx.notes.append(f"not in the given order, so they go on top: {', '.join(extra)}")
        elif stack.size_bottom:
            base_order = sorted(members, key=lambda t: -t.volume if stack.size_bottom == "max" else t.volume)
        elif explicit_list:
            base_order = members
        else:
            base_order = sorted(members, key=lambda t: (-round(t.volume, 7), t.position[2], -t.position[1]))
        slots: dict[str, Thing] = {}
        for t, pos in pos_things:
            for other_pos, other in slots.items():
                if other.name == t.name and other_pos != pos:
                    raise self.error(f"contradictory order: the {t.name} cannot be both at the {other_pos} and at "
                                     f"the {pos} of the stack")
            if pos in slots and slots[pos].name != t.name and pos != "middle":
                raise self.error(f"contradictory order: both the {slots[pos].name} and the {t.name} are asked to be "
                                 f"at the {pos}")
            if pos != "middle":
                slots[pos] = t
        if seq and (("bottom" in slots and seq[0] != slots["bottom"]) or ("top" in slots and len(seq) == len(
                members) and seq[-1] != slots["top"])):
            raise self.error("contradictory order: the listed order and the top/bottom positions disagree")
        if stack.size_bottom and "bottom" in slots and base_order[0] != slots["bottom"] and \
                base_order[0].volume != slots["bottom"].volume:
            raise self.error(f"contradictory order: the {slots['bottom'].name} is asked to be at the bottom, but so "
                             f"is the {'largest' if stack.size_bottom == 'max' else 'smallest'} object "
                             f"({base_order[0].name})")
        order = [t for t in base_order if t not in slots.values()]
        if "bottom" in slots:
            order.insert(0, slots["bottom"])
        if "top" in slots:
            order.append(slots["top"])
        return order

    def _position_subject(self, np: NounPhrase, members: list[Thing]) -> Thing:
        """The object a stack position talks about; "the largest" means the largest member."""
        if np.size and not (np.colors or np.names or np.shape not in ("", "object")) and members:
            return sorted(members, key=lambda t: t.volume, reverse=np.size == "max")[0]
        names = {t.name for t in members}
        found = self.resolve(np, "object", where=(lambda t: t.name in names) if members else None)
        if len(found) != 1:
            raise self.error(f"{np.text!r} must name one object of the stack", suggestions=[t.name for t in found])
        return found[0]

    # ------------------------------------------------------------------------------- rows

    def _line(self, line: Line) -> None:
        members = self.many(line.objects) if line.objects else [t for t in self.scene.movables() if t.graspable]
        seq = [t for np in line.sequence for t in self.resolve(np, "object")]
        for t in seq:
            if t not in members:
                members.append(t)
        if len(members) < 2:
            raise self.error("a row needs at least two objects; found " + (", ".join(t.name for t in members) or
                                                                            "none"))
        self.need_graspable(members)
        axis = 1 if line.direction in ("ltr", "rtl") else 0
        sign = -1.0 if line.direction in ("ltr", "b2f") else 1.0
        current = sorted(members, key=lambda t: sign * t.position[axis])
        if seq:
            order = seq + [t for t in current if t not in seq]
        elif line.key == "color":
            colors = list(line.colors) + [c for c in RAINBOW if c not in line.colors]
            order = sorted(current, key=lambda t: colors.index(t.color) if t.color in colors else len(colors))
        elif line.key == "size":
            order = sorted(current, key=lambda t: t.volume, reverse=line.size_first == "max")
        else:
            order = current
        self.mention(order)
        spacing = round(max(max(t.size[0], t.size[1]) for t in order) + 0.035, 3)
        ux, uy = ROW_VECTORS[line.direction]
        start, moves_anchor = self._row_start(order, spacing, (ux, uy), line.region)
        anchor = order[0]
        if moves_anchor:
            self._add(sg.place_at(anchor, *start, why=f"put the {anchor.name} where the row starts",
                                        speed=line.speed))
        rel = ROW_RELATION[line.direction]
        for k in range(1, len(order)):
            t, prev = order[k], order[k - 1]
            x, y = round(start[0] + ux * spacing * k, 3), round(start[1] + uy * spacing * k, 3)
            conds = [Condition(rel, (t.name, prev.name)),
                     Condition("near", (t.name, prev.name), {"distance": round(1.6 * spacing, 3)}),
                     Condition("at", (t.name,), {"x": x, "y": y, "tolerance": 0.03})]
            if k >= 2:
                conds.append(Condition("aligned", tuple(o.name for o in order[:k + 1])))
            self._add(sg.place_relative(
                t, anchor, rel, ux * spacing * k, uy * spacing * k, speed=line.speed, conditions=conds,
                description=f"put the {t.name} in the row, {sg.RELATION_WORDS[rel]} the {prev.name}"))
        self.ctx.last = order

    def _row_start(self, order: list[Thing], spacing: float, u: tuple[float, float],
                   region: str) -> tuple[tuple[float, float], bool]:
        """Where the first object of the row goes: where it is, if the whole row fits from there;
        else the nearest start point from which every spot is free."""
        ws = self.scene.workspace
        area = ws.region(region) if region else ws

        def spots(x0: float, y0: float) -> list[tuple[float, float]]:
            return [(x0 + u[0] * spacing * k, y0 + u[1] * spacing * k) for k in range(len(order))]

        def clearance(x0: float, y0: float, keep_anchor: bool) -> float | None:
            """Smallest free margin around the row's spots; None if a spot is off the table."""
            worst = 1.0
            for k, (x, y) in enumerate(spots(x0, y0)):
                if not ws.contains(x, y, margin=order[k].radius * 0.5):
                    return None
                if k == 0 and keep_anchor:
                    continue
                skip = {t.name for t in order[:k + 1]}  # those have left their places by then
                clear = self.scene.clearance(x, y, exclude=skip, reserved=self.ctx.reserved) - order[k].radius
                worst = min(worst, clear)
            return worst

        first = order[0]
        in_area = area.contains(*first.xy) if region else True
        here = clearance(*first.xy, keep_anchor=True)
        if in_area and here is not None and here >= 0.01:
            self._reserve(spots(*first.xy), order)
            return first.xy, False
        best: tuple[float, tuple[float, float]] | None = None
        fallback: tuple[float, tuple[float, float]] | None = None
        n = len(order) - 1
        span_x, span_y = u[0] * spacing * n, u[1] * spacing * n
        for i in range(31):
            for j in range(31):
                x0 = ws.x[0] + i * (ws.x[1] - ws.x[0]) / 30
                y0 = ws.y[0] + j * (ws.y[1] - ws.y[0]) / 30
                if region and not area.contains(x0 + span_x / 2, y0 + span_y / 2):
                    continue
                clear = clearance(x0, y0, keep_anchor=False)
                if clear is None:
                    continue
                travel = math.dist((x0, y0), first.xy)
                if clear >= 0.01 and (best is None or travel < best[0]):
                    best = (travel, (round(x0, 3), round(y0, 3)))
                if fallback is None or clear > fallback[0]:
                    fallback = (clear, (round(x0, 3), round(y0, 3)))
        chosen = best or fallback
        if chosen is None:
            raise self.error(f"a row of {len(order)} objects {spacing * 100:.0f} cm apart does not fit on the table"
                             + (f" in the {region} part" if region else ""))
        if best is None:
            self.ctx.notes.append("the row is crowded: no start point leaves every spot free")
        self._reserve(spots(*chosen[1]), order)
        return chosen[1], True

    def _reserve(self, points: list[tuple[float, float]], order: list[Thing]) -> None:
        self.ctx.reserved.extend((x, y, t.radius) for (x, y), t in zip(points, order))

    # ------------------------------------------------------------------------------- pushes

    def _push(self, push: Push) -> None:
        objects = self.many(push.objects) if push.objects else list(self.ctx.last)
        if not objects:
            raise self.error("which object should I push? none is named")
        self.mention(objects)
        if push.towards is not None:
            target = self.one(push.towards, "target", like=objects[0])
            for t in objects:
                if t.name == target.name:
                    raise self.error(f"cannot push the {t.name} towards itself")
                self._add(sg.push_towards(t, target, speed=push.speed))
        elif push.direction in UNIT_VECTORS:
            dist = push.distance if push.distance is not None else DEFAULT_SHIFT
            ux, uy = UNIT_VECTORS[push.direction]
            words = f"{dist * 100:.0f} cm {DIRECTION_WORDS[push.direction]}"
            for t in objects:
                self._add(sg.push(t, ux * dist, uy * dist, words, speed=push.speed))
        elif push.direction:
            raise self.error(f"can only push along the table (left, right, forward, back), not {push.direction!r}")
        else:
            raise self.error("which way should I push? say left, right, forward, back or towards an object")
        self.ctx.last = objects


def _refers_back(intent: Intent) -> bool:
    """A clause about "it"/"them" (or with no object) continues the previous pick."""
    objs = intent.objects if not isinstance(intent, Stack) or not intent.chain else intent.chain[:1]
    return not objs or all(np.pronoun for np in objs)
