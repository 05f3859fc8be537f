"""Routes reach the container only through api/deps.py: no module under hotline/api/routes
mentions `app.state` (attribute chains or strings)."""

from __future__ import annotations

import ast
from pathlib import Path

import hotline.api.routes

ROUTES = Path(hotline.api.routes.__file__).parent


def _is_app_state(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "state":
        owner = node.value
        return (isinstance(owner, ast.Attribute) and owner.attr == "app") or (
            isinstance(owner, ast.Name) and owner.id == "app"
        )
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "app.state" in node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "getattr" and any(
            isinstance(a, ast.Constant) and a.value == "state" for a in node.args
        )
    return False


def _mentions_app_state(tree: ast.AST) -> list[int]:
    return sorted({node.lineno for node in ast.walk(tree) if _is_app_state(node)})  # type: ignore[attr-defined]


def test_no_route_module_mentions_app_state() -> None:
    modules = sorted(ROUTES.rglob("*.py"))
    assert len(modules) > 5
    found = {
        f"{m.relative_to(ROUTES)}:{line}"
        for m in modules
        for line in _mentions_app_state(ast.parse(m.read_text(), filename=str(m)))
    }
    assert not found, f"use a dependency from hotline.api.deps instead of app.state: {found}"


def test_the_check_sees_app_state() -> None:
    src = "async def f(request):\n    return request.app.state.container.calls\n"
    assert _mentions_app_state(ast.parse(src)) == [2]
    assert _mentions_app_state(ast.parse("x = getattr(app, 'state')")) == [1]
