"""The dependency direction core <- telephony <- recording <- asr <- quality <- customers <-
knowledge <- tickets <- api <- web: a package imports only from packages to its left (read
with `ast`, every module, `if TYPE_CHECKING:` imports included), so there is no import cycle
between packages. The one way back is named in MOUNTS: the composition root mounts the web
workspace."""

from __future__ import annotations

import ast
from pathlib import Path

import hotline

ROOT = Path(hotline.__file__).parent
ORDER = [
    "core",
    "telephony",
    "recording",
    "asr",
    "quality",
    "customers",
    "knowledge",
    "tickets",
    "api",
    "web",
]
RANK = {name: i for i, name in enumerate(ORDER)}
# web is the top: its pages call the API's route functions, so that who may see or do what
# is written once (in api/routes). api never imports web, except where the app is composed:
MOUNTS = {("api/app.py", "hotline.web.install")}
TOP = {"migrations": RANK["core"]}  # migrations read the tables: treated as core's peer


def imported(path: Path, *, top_level: bool = False) -> set[str]:
    """The hotline modules `path` imports (with `top_level`: only those imported when it
    is loaded, not inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = _top(tree.body) if top_level else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "hotline" or n.startswith("hotline.")}


def _top(body: list[ast.stmt]) -> list[ast.AST]:
    found: list[ast.AST] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If | ast.Try):
            found.extend(_top(node.body))
            found.extend(_top(node.orelse))
    return found


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("__") else None


def test_packages_import_only_to_their_left() -> None:
    wrong: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:
            continue  # hotline/__init__.py
        pkg = rel.parts[0]
        if pkg == "migrations":
            continue  # revisions may read any package's tables
        mine = RANK[pkg]
        for module in imported(path):
            other = package_of(module)
            if other is None or other == pkg or other == "migrations":
                continue
            if (rel.as_posix(), module) in MOUNTS:
                continue
            if RANK[other] > mine or (RANK[other] == mine and other != pkg):
                wrong.append(f"{rel}: imports {module}")
    assert wrong == []


def test_every_package_is_placed() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - set(RANK) - set(TOP) == set()


def test_no_import_cycle_between_modules() -> None:
    """Within a package too: no module needs another that needs it back while loading."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        graph[name] = imported(path, top_level=True)
    modules = set(graph)
    edges = {m: {d for d in deps if d in modules and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d] if d in stack else [m, d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_all_modules_import() -> None:
    import importlib

    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        if "migrations" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        importlib.import_module(".".join(parts))
