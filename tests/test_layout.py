"""The layout's promises, read from the source with ``ast``: which room may import which, and no cycles.

The graph holds every ``import`` the project's own modules write, at module level, inside functions
and under ``TYPE_CHECKING`` alike: a cycle hidden in a function still makes two rooms one. An edge
goes to the most specific module an import names (``from gateway.cli import commands`` is an edge
to ``gateway.cli.commands``; ``from gateway.cli.exits import EXIT_OK`` to ``gateway.cli.exits``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "cache", "rules", "loadtests", "bench")

#: Alembic's script directory: loaded by file path (``env.py``, ``versions/*.py``) and shipped as
#: package data, never imported as a package.
NOT_PACKAGES = {ROOT / "rules" / "store" / "migrations"}


def _is_migration_script(path: Path) -> bool:
    return any(path.is_relative_to(d) for d in NOT_PACKAGES)


def _module_files() -> dict[str, Path]:
    """Every importable module of the project, by dotted name."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if _is_migration_script(path):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _module_files()


def _resolve(name: str) -> str | None:
    """The project module ``name`` lands in: itself, else the nearest enclosing package; None if outside."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imported_names(module: str, tree: ast.Module) -> Iterator[str]:
    """Dotted names one module imports, anywhere in its body; ``from x import y`` yields ``x.y``."""
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (edges to itself dropped)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {_resolve(name) for name in _imported_names(module, tree)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


GRAPH = _import_graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def _imports_into(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    """``importer -> imported`` for every edge from ``modules`` into a forbidden room."""
    return sorted(
        f"{m} -> {t}" for m in modules for t in GRAPH[m] if any(_in_room(t, room) for room in forbidden)
    )


def _third_party_imports(modules: list[str], names: tuple[str, ...]) -> list[str]:
    found = []
    for m in modules:
        tree = ast.parse(MODULES[m].read_text(encoding="utf-8"))
        found += [f"{m} -> {n}" for n in _imported_names(m, tree) if n.split(".")[0] in names]
    return sorted(set(found))


def test_the_graph_sees_the_project() -> None:
    """A guard on the guard: the graph has the modules and edges the rules below speak of."""
    assert "gateway.cli.main" in GRAPH and "gateway.cli.commands" in GRAPH
    assert "cache.sync" in GRAPH and "rules.store.scans" in GRAPH
    assert any(_in_room(t, "rules") for t in GRAPH["cache.sync"])


def test_no_import_cycle_anywhere() -> None:
    assert _cycles(GRAPH) == []


def test_a_cycle_would_be_seen() -> None:
    """The cycle finder finds the cli <-> commands cycle the layout removed, and one through a function."""
    graph = {"gateway.cli": {"gateway.cli.commands"}, "gateway.cli.commands": {"gateway.cli"}, "x": set()}
    assert _cycles(graph) == [["gateway.cli", "gateway.cli.commands"]]
    tree = ast.parse("def run():\n    from gateway.cli.main import main\n")
    assert list(_imported_names("gateway.cli.commands", tree)) == ["gateway.cli.main.main"]


REGULATIONS = sorted(m for m in GRAPH if _in_room(m, "rules") and not _in_room(m, "rules.store"))
STORE = sorted(m for m in GRAPH if _in_room(m, "rules.store"))
CACHE = sorted(m for m in GRAPH if _in_room(m, "cache"))


def test_the_regulations_are_pure() -> None:
    """rules/ (outside rules/store) is the regulations: no SQL, no cache, no gateway."""
    assert REGULATIONS
    assert _imports_into(REGULATIONS, ("rules.store", "cache", "gateway")) == []
    assert _third_party_imports(REGULATIONS, ("sqlalchemy", "alembic", "psycopg")) == []


def test_the_store_knows_neither_cache_nor_gateway() -> None:
    assert STORE
    assert _imports_into(STORE, ("cache", "gateway")) == []


def test_the_cache_knows_no_gateway() -> None:
    assert CACHE
    assert _imports_into(CACHE, ("gateway",)) == []


def _source_directories() -> Iterator[Path]:
    for package in PACKAGES:
        for directory in sorted({p.parent for p in (ROOT / package).rglob("*.py")}):
            if not _is_migration_script(directory / "x.py") and "__pycache__" not in directory.parts:
                yield directory


@pytest.mark.parametrize("directory", list(_source_directories()), ids=lambda d: str(d.relative_to(ROOT)))
def test_every_package_directory_has_an_init(directory: Path) -> None:
    """Without ``__init__.py`` setuptools' package finder leaves the directory out of a wheel."""
    assert (directory / "__init__.py").is_file()


def test_every_directory_between_packages_is_a_package() -> None:
    """gateway/formats/ holds only a sub-package, and must still be a package for nhsa/ to be found."""
    missing = []
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            for parent in init.parent.relative_to(ROOT).parents:
                if parent != Path(".") and not (ROOT / parent / "__init__.py").is_file():
                    missing.append(str(parent))
    assert sorted(set(missing)) == []


def test_the_wheel_holds_every_package() -> None:
    """The packages setuptools ships (pyproject's ``packages.find``) are every package of the source."""
    from setuptools import find_packages

    shipped = set(find_packages(str(ROOT), include=["gateway*", "cache*", "rules*", "loadtests*"]))
    source = {m for m, path in MODULES.items() if path.name == "__init__.py" and not m.startswith("bench")}
    assert source - shipped == set()


ERROR_MODULES = {"gateway": "gateway.errors", "cache": "cache.errors", "rules": "rules.errors"}


def test_every_exception_is_declared_in_its_packages_errors_module() -> None:
    """One ``errors.py`` per package: an exception class anywhere else is a second tree."""
    import importlib

    elsewhere = []
    for module in sorted(m for m in MODULES if m.split(".")[0] in ERROR_MODULES and not m.endswith("__main__")):
        if module in ERROR_MODULES.values():
            continue
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module:
                elsewhere.append(f"{module}.{name}")
    assert elsewhere == []


def _test_modules_imported(path: Path) -> set[str]:
    """The ``tests/test_*`` modules one test file imports (a helper's home is tests/<helper>.py)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "tests." + (node.module or "") if node.level else node.module or ""
            named |= {base.rstrip(".")} | {f"{base}.{alias.name}" for alias in node.names}
    return {n.removeprefix("tests.").split(".")[0] for n in named if n.startswith("tests.test_")}


@pytest.mark.parametrize("path", sorted((ROOT / "tests").glob("test_*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared fixtures live in tests/conftest.py, shared helpers in tests/<helper>.py: a test module
    imported by another runs its collection twice and ties two files' tests together."""
    assert _test_modules_imported(path) == set()


def test_an_import_of_another_test_module_would_be_seen(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("from tests.test_api import claim\nfrom .test_nhsa import post\n")
    assert _test_modules_imported(tmp_path / "test_x.py") == {"test_api", "test_nhsa"}
    (tmp_path / "test_y.py").write_text("import tests.test_ui\nfrom tests import test_sync, rows\n")
    assert _test_modules_imported(tmp_path / "test_y.py") == {"test_ui", "test_sync"}
