"""Calls are read through telephony's view: no module outside telephony imports telephony's
tables or ORM rows, and the packages right of telephony do not import its call store.

The imports are read with `ast` from the source files, so a module no test imports is
checked too. Which names are rows is asked of telephony itself: every class mapped to a
table, and every `Table`, reachable by name from a telephony module.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import Any

from sqlalchemy import Table

import hotline.telephony

ROOT = Path(__file__).resolve().parents[1]
TELEPHONY = "hotline.telephony"
TABLE_MODULES = {f"{TELEPHONY}.tables"}
# packages that read calls and must do it through hotline.telephony.view
READERS = ("hotline.recording", "hotline.asr", "hotline.quality", "hotline.tickets")
STORE = f"{TELEPHONY}.store"


def _is_row(value: Any) -> bool:
    return isinstance(value, Table) or (
        isinstance(value, type) and isinstance(getattr(value, "__table__", None), Table)
    )


def _telephony_modules() -> list[str]:
    names = [TELEPHONY]
    for info in pkgutil.iter_modules(hotline.telephony.__path__, f"{TELEPHONY}."):
        names.append(info.name)
    return names


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, str | None]]:
    """(module, name) for each imported name; name None for `import module`."""
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            out.extend((base, alias.name) for alias in node.names)
    return out


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """What `module` (its `source`) imports of telephony that it must not."""
    found: list[str] = []
    outside = module != TELEPHONY and not module.startswith(f"{TELEPHONY}.")
    if not outside:
        return found
    reader = module.startswith(READERS)
    for target, name in _imports(ast.parse(source), module, is_package):
        if target != TELEPHONY and not target.startswith(f"{TELEPHONY}."):
            continue
        full = f"{target}.{name}" if name else target
        if target in TABLE_MODULES or full in TABLE_MODULES:
            found.append(f"{module} imports {full}: read calls through {TELEPHONY}.view")
            continue
        if reader and STORE in (target, full):
            found.append(
                f"{module} imports {full}: read calls through {TELEPHONY}.view "
                f"(switch paths through {TELEPHONY}.paths)"
            )
            continue
        if name is not None and name != "*":
            imported = importlib.import_module(target)
            value = getattr(imported, name, None)
            if _is_row(value):
                found.append(f"{module} imports the row {full}: use {TELEPHONY}.view")
    return found


def _sources() -> list[Path]:
    files: list[Path] = []
    for folder in ("hotline", "tests", "benchmarks"):
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return [f for f in files if "telephony" not in f.relative_to(ROOT).parts[:2]]


def test_the_telephony_rows_are_found_so_the_check_below_means_something() -> None:
    rows = set()
    for name in _telephony_modules():
        module = importlib.import_module(name)
        rows.update(n for n, v in vars(module).items() if _is_row(v))
    assert {"CallRow", "CallbackRow"} <= rows


def test_the_check_catches_a_row_import_and_a_store_import() -> None:
    assert violations("from hotline.telephony.store import CallRow\n", "hotline.api.x")
    assert violations("from hotline.telephony.callback_store import CallbackRow\n", "tests.x")
    assert violations("import hotline.telephony.tables\n", "hotline.web.x")
    assert violations("from hotline.telephony import tables\n", "benchmarks.x")
    assert violations("from ..telephony.tables import CallRow\n", "hotline.asr.store")
    assert violations("from hotline.telephony.store import CallStore\n", "hotline.quality.x")
    assert not violations("from hotline.telephony.view import CallView\n", "hotline.asr.x")
    assert not violations("from hotline.telephony.store import CallRow\n", STORE)


def test_no_module_outside_telephony_imports_its_tables_or_rows() -> None:
    found: list[str] = []
    for path in _sources():
        found += violations(
            path.read_text(encoding="utf-8"),
            _module_name(path),
            is_package=path.name == "__init__.py",
        )
    assert found == []
