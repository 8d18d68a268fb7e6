"""The package reads as the data flow: layering, no import cycles, small modules, named jobs."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "xintud"

# The stages in data-flow order; the packages on the side come after. A package may import only
# from those before it in the data flow (and from core and config, which everything shares):
# nothing downstream imports upstream, and no stage imports the daemon, control or the CLIs.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "config": {"core"},
    "intake": {"core", "config"},
    "engine": {"core", "config"},
    "learning": {"core", "config", "engine"},
    "duplicates": {"core", "config", "engine", "library", "state"},
    "albums": {"core", "config"},
    "library": {"core", "config", "state"},
    "state": {"core", "config"},
    "daemon": {"core", "config", "intake", "engine", "learning", "duplicates", "albums", "library",
               "state", "control"},
    "control": {"core", "config", "duplicates", "library", "state"},
    "cli": {"core", "config", "intake", "engine", "learning", "duplicates", "albums", "control",
            "daemon"},
}
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250


def modules() -> dict[str, Path]:
    """Dotted name → file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    """The xintud modules a file imports (at any depth, lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xintud"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("xintud"))
    known = modules()
    return {name for name in names if name in known}


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in MAY_IMPORT) else None


def test_every_subpackage_is_a_stage_or_side_package_with_its_job_stated() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        name = init.parent.name
        if name == "models" and not (init.parent / "store.py").exists():
            continue  # xintud.models is data (the shipped model files), mapped from models/
        assert name in MAY_IMPORT, f"xintud/{name}/ is not in the layering table"
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(REPO)} has no docstring saying its one job"


def test_nothing_downstream_imports_upstream() -> None:
    wrong = []
    for module, path in modules().items():
        source = subpackage(module)
        if source is None:
            continue
        for target in imports_of(path):
            into = subpackage(target)
            if into is not None and into != source and into not in MAY_IMPORT[source]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_import_cycles_at_module_level() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules().items():
        for node in ast.parse(path.read_text()).body:  # top level only: lazy imports break cycles
            if isinstance(node, ast.ImportFrom) and node.module and node.module in modules():
                graph[module].add(node.module)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for module in list(graph):
        if module not in state:
            visit(module, [])


def test_modules_and_classes_stay_small() -> None:
    too_big = []
    for module, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{module}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"{module}.{node.name}: {size} lines")
    assert too_big == []


def test_pyproject_lists_every_subpackage() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    present = {".".join(init.parent.relative_to(REPO).parts)
               for init in PACKAGE.rglob("__init__.py")}
    assert present - listed == set(), "add these to [tool.setuptools] packages"
