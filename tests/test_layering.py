"""The architecture, checked from the source: dependencies point one way, no circles, small files.

Front ends (``dash_app``, ``cli``, notebooks) use the parts (``pipeline``,
``kamailio``, ``media``), the parts use the core (``switchboard``), and the
core uses only itself. Nothing imports a front end; ``pipeline`` reads the
media spool's files, never ``media``'s code; benchmarks measure the parts
through their public API, never through a page or the tests. Every ``.py``
file of the project is parsed (not imported), so an import inside a function
counts as much as one at the top.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "switchboard",
    "pipeline",
    "kamailio",
    "relay",
    "media",
    "dash_app",
    "cli",
    "benchmarks",
    "tests",
)
MAX_LINES = 500

# package -> project packages it must never import (at the top or inside a function).
FORBIDDEN: dict[str, frozenset[str]] = {
    "switchboard": frozenset(PACKAGES) - {"switchboard"},
    "pipeline": frozenset({"media", "dash_app", "cli", "benchmarks", "tests"}),
    "kamailio": frozenset({"dash_app", "cli", "benchmarks", "tests"}),
    # rtpengine beside Kamailio: its launcher and ng client need only the core
    "relay": frozenset(PACKAGES) - {"switchboard", "relay"},
    "media": frozenset({"dash_app", "cli", "benchmarks", "tests"}),
    "dash_app": frozenset({"cli", "benchmarks", "tests"}),
    "cli": frozenset({"benchmarks", "tests"}),
    "benchmarks": frozenset({"dash_app", "cli", "tests"}),
}


@dataclass(frozen=True)
class Import:
    """One imported module name, where it stands, and whether it runs when the file loads."""

    module: str  # absolute, e.g. "pipeline.metrics"
    names: tuple[str, ...]  # for ``from module import a, b``; () for ``import module``
    line: int
    at_load: bool  # module body (also inside if/try/with/class), not a function or TYPE_CHECKING


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_in(source: str, current: str = "", is_package: bool = False) -> list[Import]:
    """Every import of ``source``: statements anywhere, and ``import_module("literal")`` calls."""
    found: list[Import] = []

    def visit(node: ast.AST, at_load: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, (), node.lineno, at_load) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            found.append(Import(_absolute(node, current, is_package), names, node.lineno, at_load))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(node.args[0].value, (), node.lineno, False))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            at_load = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, at_load)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, at_load)

    visit(ast.parse(source), True)
    return found


def python_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@cache
def project_imports() -> dict[str, tuple[Path, list[Import]]]:
    """module name -> (file, its imports), for every module of the project's packages."""
    out = {}
    for path in python_files(*PACKAGES):
        name = module_name(path)
        out[name] = (path, imports_in(path.read_text(), name, path.name == "__init__.py"))
    return out


def test_the_scanner_finds_lazy_relative_and_dynamic_imports() -> None:
    """The checks below can fail: each kind of import is seen, and whether it runs at load."""
    source = (
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from dash_app import app\n"
        "class Store:\n    from pipeline import acc\n"
        "def lazy():\n    from cli.main import main\n"
        "    importlib.import_module('media.server')\n"
        "from . import sibling\n"
        "from .. import parent_thing\n"
    )
    found = {(i.module, i.at_load) for i in imports_in(source, "switchboard.store.x")}
    assert found == {
        ("os", True),
        ("typing", True),
        ("dash_app", False),
        ("pipeline", True),
        ("cli.main", False),
        ("media.server", False),
        ("switchboard.store", True),
        ("switchboard", True),
    }


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    offences = []
    for name, (path, imports) in project_imports().items():
        if name.split(".")[0] != package:
            continue
        for imp in imports:
            if imp.module.split(".")[0] in FORBIDDEN[package]:
                offences.append(f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}")
    assert offences == [], f"{package} must not import {sorted(FORBIDDEN[package])}"


def import_edges(*, at_load_only: bool) -> dict[str, set[str]]:
    """module -> project modules it imports (only while it loads, or anywhere)."""
    modules = project_imports()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, (_path, imports) in modules.items():
        for imp in imports:
            if at_load_only and not imp.at_load:
                continue
            # ``from pkg import sub`` needs the submodule; ``from pkg import name`` needs
            # the package's __init__ to have run; ``import a.b`` needs a.b.
            subs = [f"{imp.module}.{n}" for n in imp.names if f"{imp.module}.{n}" in modules]
            targets = subs if subs and len(subs) == len(imp.names) else [*subs, imp.module]
            edges[name].update(t for t in targets if t in modules and t != name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


def test_cycle_finder_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def _describe(edges: dict[str, set[str]]) -> list[str]:
    return [
        "; ".join(f"{m} imports {sorted(edges[m] & set(circle))}" for m in circle)
        for circle in cycles(edges)
    ]


def test_no_import_cycles_at_load() -> None:
    """No modules of the project import each other in a circle while they load."""
    assert _describe(import_edges(at_load_only=True)) == []


def test_no_import_cycles_hidden_in_functions() -> None:
    """Nor in a circle closed by an import inside a function: that hides a circle."""
    assert _describe(import_edges(at_load_only=False)) == []


# What the project writes by hand: code, SQL, Kamailio's config, templates, scenarios.
SOURCE_SUFFIXES = (".py", ".sql", ".cfg", ".tmpl", ".xml", ".css", ".js", ".sh")


def _long_files() -> list[str]:
    """Source files over MAX_LINES outside tests/ (and outside the venv, data, hidden dirs)."""
    skip_top = {"tests", "data", "build", "dist", "node_modules"}
    long = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not (d.startswith(".") or d == "__pycache__" or d.endswith(".egg-info"))
            and not (here == ROOT and d in skip_top)
        )
        for file in sorted(f for f in files if f.endswith(SOURCE_SUFFIXES)):
            lines = len((here / file).read_text().splitlines())
            if lines > MAX_LINES:
                long.append(f"{(here / file).relative_to(ROOT)}: {lines} lines")
    return long


def test_no_source_file_outside_tests_is_over_500_lines() -> None:
    """Small modules named for what they hold (Kamailio's config and the SQL too); split a
    file along its own sections."""
    assert _long_files() == []
