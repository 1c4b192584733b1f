"""Rebinding a verified program to another subgoal of the same typed action.

A program verified for ``place_on(object=red block, target=green plate)`` is, in most cases, the
program for ``place_on(object=blue block, target=blue plate)`` with its arguments swapped: the
skill library's programs are mostly the action's arguments spelled out as primitive calls. When
every argument that changes can be found in the program (a name as a string literal, a number as
a constant), the program is rewritten with the new values and runs without a model call; the
monitor then checks it as it checks any program. Whatever cannot be accounted for refuses the
rebinding (``None``), and the model writes the program:

- the two subgoals' arguments differ in which fields they set (another shape of the action);
- an argument that changes does not appear in the program, or two that change differently share
  one value (which constant is which cannot be told);
- the program holds a fraction that is no argument (an offset the model computed from the old
  scene), or gives a call a name that is none of the new subgoal's arguments.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping
from typing import Any

TOLERANCE = 5e-4  # metres (or any unit): a constant this close to an argument is that argument


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _flat(args: Mapping[str, Any], keys: Collection[str]) -> dict[str, Any] | None:
    """``{key or key[i]: scalar}`` of the shown arguments; None when one is neither a string, a
    number nor a list of those (nothing a program spells out literally)."""
    out: dict[str, Any] = {}
    for key in keys:
        value = args[key]
        if isinstance(value, list | tuple):
            if not all(isinstance(v, str) or _is_number(v) for v in value):
                return None
            out.update({f"{key}[{i}]": v for i, v in enumerate(value)})
        elif isinstance(value, str) or _is_number(value):
            out[key] = value
        elif value is not None and not isinstance(value, bool):
            return None
    return out


def rebind(code: str, old: Mapping[str, Any], new: Mapping[str, Any], *, shown: Collection[str] | None = None,
           perceived: Collection[str] = (), labels: Collection[str] = ("checkpoint",)) -> str | None:
    """``code`` (verified for a subgoal with arguments ``old``) rewritten for arguments ``new`` of
    the same action, or None when that cannot be done safely (see the module docstring).
    ``shown``: the argument names a program may use (the action's fields a model is shown;
    bookkeeping fields are ignored); ``perceived``: the names of what is in the scene now;
    ``labels``: functions whose text arguments are free labels (a checkpoint's), not names."""
    keys = [k for k in old if shown is None or k in shown]
    if sorted(keys) != sorted(k for k in new if shown is None or k in shown):
        return None
    before, after = _flat(old, keys), _flat(new, keys)
    if before is None or after is None or sorted(before) != sorted(after):
        return None
    if any(isinstance(before[k], str) != isinstance(after[k], str) for k in before):
        return None
    changed = [k for k in before if before[k] != after[k]]
    names = {before[k]: after[k] for k in before if isinstance(before[k], str)}
    if any(names[before[k]] != after[k] for k in before if isinstance(before[k], str)):
        return None  # one old name that becomes two new ones
    numbers = [(before[k], after[k]) for k in before if _is_number(before[k])]
    for value, target in numbers:  # one old value changing two ways cannot be told apart
        if any(abs(value - v) <= TOLERANCE and abs(target - t) > TOLERANCE for v, t in numbers):
            return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    rewriter = _Rewriter(names, numbers)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    if rewriter.refused:
        return None
    for k in changed:
        if isinstance(before[k], str) and before[k] not in rewriter.seen_names:
            return None
        if _is_number(before[k]) and not any(abs(before[k] - v) <= TOLERANCE for v in rewriter.seen_numbers):
            return None
    wanted = set(names.values())
    given = [a.value for node in ast.walk(tree) if isinstance(node, ast.Call)
             and not (isinstance(node.func, ast.Name) and node.func.id in labels)
             for a in [*node.args, *(k.value for k in node.keywords)]
             if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if any(text not in wanted for text in given):
        return None  # a call is given a name that is none of the subgoal's arguments
    in_scene = set(perceived)
    if any(text in in_scene and text not in wanted for text in rewriter.literals):
        return None
    return ast.unparse(tree)


class _Rewriter(ast.NodeTransformer):
    """Swaps the old arguments' names and numbers for the new ones, noting what it saw."""

    def __init__(self, names: Mapping[str, str], numbers: list[tuple[Any, Any]]) -> None:
        self.names = dict(names)
        self.numbers = numbers
        self.seen_names: set[str] = set()
        self.seen_numbers: list[float] = []
        self.literals: list[str] = []  # string literals after the swap
        self.refused = False
        words = sorted(self.names, key=len, reverse=True)
        self._words = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words)) if words else None

    def _number(self, value: float | int) -> float | None:
        """The new value of the argument a constant spells; a whole-number literal (``0`` in
        ``p[0] * 0``, a loop count) spells only a whole-number argument."""
        for old, new in self.numbers:
            if isinstance(value, int) and not isinstance(old, int):
                continue
            if abs(value - old) <= TOLERANCE:
                self.seen_numbers.append(old)
                return new
        return None

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            text = node.value
            if text in self.names:
                self.seen_names.add(text)
                text = self.names[text]
            elif self._words is not None:  # a label or message that mentions the arguments
                text = self._words.sub(lambda m: self.names[m.group(0)], text)
            self.literals.append(text)
            return ast.copy_location(ast.Constant(text), node)
        if _is_number(node.value):
            new = self._number(node.value)
            if new is not None:
                return ast.copy_location(_number_node(new), node)
            if isinstance(node.value, float) and node.value != int(node.value):
                self.refused = True  # a fraction no argument accounts for: the old scene's offset
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        node.value = self.visit(node.value)  # an index (``pose[0]``) is no argument
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) and _is_number(node.operand.value):
            new = self._number(-node.operand.value)
            if new is not None:
                return ast.copy_location(_number_node(new), node)
        return self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        # ``y - 0.09`` spells dy = -0.09: the subtrahend is the negated argument
        if isinstance(node.op, ast.Sub) and isinstance(node.right, ast.Constant) and _is_number(node.right.value):
            new = self._number(-node.right.value)
            if new is not None:
                left = self.visit(node.left)
                op: ast.operator = ast.Sub() if new < 0 else ast.Add()
                return ast.copy_location(ast.BinOp(left, op, ast.Constant(round(abs(new), 6))), node)
        return self.generic_visit(node)


def _number_node(value: float) -> ast.expr:
    value = round(value, 6)
    return ast.UnaryOp(ast.USub(), ast.Constant(-value)) if value < 0 else ast.Constant(value)
