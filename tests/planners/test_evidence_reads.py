"""The repairers read only evidence fields that monitors write: every ``<...>.evidence.<field>`` and
every attribute read on a name bound to a verdict's evidence, in the rule and LLM parts, is a field
of an evidence type some kit says its monitors write."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from embodied import backends
from embodied.types import Evidence

PLANNERS = Path(__file__).resolve().parents[2] / "planners"


def written_fields() -> set[str]:
    fields = {f.name for f in dataclasses.fields(Evidence)}
    for name in backends.registry("domain").names():
        for evidence in backends.registry("domain").get(name).evidence.values():
            fields |= {f.name for f in dataclasses.fields(evidence)}
    return fields


def evidence_reads(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    bound = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Attribute) and node.value.attr == "evidence"
             for t in node.targets if isinstance(t, ast.Name)}
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr != "get":  # .get(...) is reported as a call below
            inner = node.value
            if (isinstance(inner, ast.Attribute) and inner.attr == "evidence") or \
                    (isinstance(inner, ast.Name) and inner.id in bound):
                reads.append((node.lineno, node.attr))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "evidence":
            reads.append((node.lineno, "get(...) on evidence: untyped read"))
    return reads


def test_planner_parts_read_only_fields_monitors_write() -> None:
    fields = written_fields()
    assert {"obstructions", "visual_diff", "decisive"} <= fields
    unknown = [f"{path.relative_to(PLANNERS.parent)}:{line}: evidence.{attr}"
               for path in sorted(PLANNERS.rglob("*.py"))
               for line, attr in evidence_reads(path.read_text(encoding="utf-8")) if attr not in fields]
    assert unknown == []


def test_the_reader_finds_untyped_reads() -> None:
    src = "def f(v):\n    e = v.evidence\n    return e.grasp_position, v.evidence.get('obstruction')\n"
    assert sorted(evidence_reads(src)) == [(3, "get(...) on evidence: untyped read"), (3, "grasp_position")]
