"""The dependency direction of docs/architecture.md, checked on the source: the core (``embodied``)
imports no planner, simulator, perception or robot code, and its import graph (every import,
also those inside functions) has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKEND_PACKAGES = ("planners", "sim", "perception", "robots")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_graph() -> dict[str, set[str]]:
    """Core module -> the core modules and backend packages it imports (anywhere in its body)."""
    modules = {_module(p): p for p in (ROOT / "embodied").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        out: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parents + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                if target.split(".")[0] in BACKEND_PACKAGES:
                    out.add(target.split(".")[0])
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not (target == "embodied" and name.startswith("embodied.")):
                    out.add(target)
        graph[name] = out
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt in graph and nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_core_imports_no_backend_package() -> None:
    offenders = {m: sorted(d & set(BACKEND_PACKAGES)) for m, d in core_graph().items() if d & set(BACKEND_PACKAGES)}
    assert offenders == {}


def test_the_core_import_graph_has_no_cycle() -> None:
    assert cycles(core_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
