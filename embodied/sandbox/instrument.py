"""The AST rewrite that puts budgets and size guards into a checked policy, so primitives run
untraced at full speed."""

from __future__ import annotations

import ast
from typing import Any

from embodied.sandbox.names import POLICY_FILENAME

_STEP, _ENTER, _ATTR, _STAR, _FMT, _FORMAT, _STR, _SLICE = (
    "__sb_step", "__sb_enter", "__sb_attr", "__sb_star", "__sb_fmt", "__sb_format", "__sb_str", "__sb_slice")
_BINARY = {ast.Mult: "__sb_mul", ast.Pow: "__sb_pow", ast.LShift: "__sb_lshift", ast.Add: "__sb_add",
           ast.Mod: "__sb_mod"}
_INPLACE = {ast.Mult: "__sb_imul", ast.Pow: "__sb_ipow", ast.LShift: "__sb_ilshift", ast.Add: "__sb_iadd",
            ast.Mod: "__sb_imod"}
GUARDED_METHODS = frozenset({"format", "format_map", "join", "ljust", "rjust", "center", "zfill", "expandtabs",
                             "replace", "translate", "extend", "to_bytes"})


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class _Instrumenter(ast.NodeTransformer):
    """Rewrites a checked tree: step calls, depth probes and guarded operations (see the package doc).
    Original nodes keep their line numbers, so tracebacks point at the policy's own lines."""

    def __init__(self) -> None:
        self.temps = 0

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, field, self._with_steps(stmts))
        return node

    def _with_steps(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            out.append(ast.copy_location(ast.Expr(_call(_STEP, ast.Constant(stmt.lineno))), stmt))
            out.append(stmt)
        return out

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_call(_ENTER, ast.Constant(node.lineno))), node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        probe = _call(_ENTER, ast.Constant(node.lineno))
        node.body = ast.copy_location(ast.BoolOp(op=ast.Or(), values=[probe, node.body]), node.body)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs.insert(0, _call(_STEP, ast.Constant(getattr(node.iter, "lineno", 0))))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        helper = _BINARY.get(type(node.op))
        return ast.copy_location(_call(helper, node.left, node.right), node) if helper else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        helper = _INPLACE.get(type(node.op))
        if helper is None:
            return node
        target = node.target
        prelude: list[ast.stmt] = []
        if isinstance(target, ast.Name):
            load: ast.expr = ast.Name(id=target.id, ctx=ast.Load())
            store: ast.expr = ast.Name(id=target.id, ctx=ast.Store())
        elif isinstance(target, ast.Attribute):
            obj = self._temp(target.value, prelude)
            load = ast.Attribute(value=ast.Name(id=obj, ctx=ast.Load()), attr=target.attr, ctx=ast.Load())
            store = ast.Attribute(value=ast.Name(id=obj, ctx=ast.Load()), attr=target.attr, ctx=ast.Store())
        else:  # Subscript: evaluate container and index once, as Python does
            obj = self._temp(target.value, prelude)
            index = target.slice
            if isinstance(index, ast.Slice):  # `a[i:j] += ...`: a slice object, built once
                parts = [p if p is not None else ast.Constant(None) for p in (index.lower, index.upper, index.step)]
                index = _call(_SLICE, *parts)
            key = self._temp(index, prelude)
            load = ast.Subscript(value=ast.Name(id=obj, ctx=ast.Load()), slice=ast.Name(id=key, ctx=ast.Load()),
                                 ctx=ast.Load())
            store = ast.Subscript(value=ast.Name(id=obj, ctx=ast.Load()), slice=ast.Name(id=key, ctx=ast.Load()),
                                  ctx=ast.Store())
        assign = ast.Assign(targets=[store], value=_call(helper, load, node.value))
        return [ast.copy_location(s, node) for s in [*prelude, assign]]

    def _temp(self, value: ast.expr, prelude: list[ast.stmt]) -> str:
        self.temps += 1
        name = f"__sb_t{self.temps}"
        prelude.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))
        return name

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and node.attr in GUARDED_METHODS:
            return ast.copy_location(_call(_ATTR, node.value, ast.Constant(node.attr)), node)
        return node

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call(_STAR, node.value)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        if node.format_spec is None:
            node.value = _call(_FMT, node.value)
        else:
            node.value = _call(_FORMAT, node.value, ast.Constant(node.conversion), node.format_spec)
            node.conversion, node.format_spec = -1, None
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "str":
            node.args.insert(0, node.func)
            node.func = ast.Name(id=_STR, ctx=ast.Load())
        return node


def _instrument(tree: ast.Module) -> Any:
    tree = _Instrumenter().visit(tree)
    ast.fix_missing_locations(tree)
    # dont_inherit: this module's `from __future__ import annotations` must not leak into policies
    return compile(tree, POLICY_FILENAME, "exec", dont_inherit=True)
