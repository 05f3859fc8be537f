"""`make serve` installs only the runtime dependencies: every library the hotline package
imports must come with them, not with the test extras."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_closure() -> set[str]:
    """The distributions `pip install .` brings: the runtime requirements, transitively."""
    todo = [
        _name(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # its marker excludes this platform
            continue
        for req in requires:
            if "extra ==" not in req:
                todo.append(_name(req))
    return seen


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "hotline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"hotline", "__future__"}


def test_every_library_the_service_imports_is_a_runtime_dependency() -> None:
    runtime = _runtime_closure()
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module, ["(not installed)"])
        for module in sorted(_imported_top_levels())
        if not {_name(d) for d in providers.get(module, [])} & runtime
    }
    assert not missing, f"imported by hotline/ but not installed by `make serve`: {missing}"
