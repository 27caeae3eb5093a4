"""The layout: imports point one way, from the services down to the shared domain.

    core  <-  store, hj212, mqtt  <-  ingest, alerts, api, forward  <-  simulators, devstack,
                                                                        bench, ops

A module may import its own package and any package of a lower tier, never one of its own tier
or above; first-party imports sit at the top of a module (an import inside a function hides a
dependency), except in ``__main__`` dispatchers. The top tier's packages may use each other as
long as no two modules import each other in a circle. Read with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = {
    "core": 0,
    "store": 1, "hj212": 1, "mqtt": 1,
    "ingest": 2, "alerts": 2, "api": 2, "forward": 2,
    "simulators": 3, "devstack": 3, "bench": 3, "ops": 3,
}
TOP = max(TIERS.values())
MAX_LINES = 400
# (module, imported module): imports that stay inside a function, and why.
LAZY_ALLOWED = {
    # `python -m api.web.vendor` is also a command: importing it with the package would make
    # runpy warn that the module was already imported.
    ("api.web", "api.web.vendor"),
}


def modules() -> Iterator[tuple[str, Path]]:
    for pkg in TIERS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def first_party(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool) -> list[str]:
    """The first-party modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor if is_pkg else anchor[:-1]
            anchor = anchor[:len(anchor) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names = [f"{base}.{a.name}" for a in node.names] + [base]
    return [n for n in names if n.split(".")[0] in TIERS]


def imports_of(module: str, path: Path) -> tuple[set[str], set[str]]:
    """(modules imported at the top level, modules imported inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    top: set[str] = set()
    lazy: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lazy.update(first_party(inner, module, is_pkg))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            top.update(first_party(node, module, is_pkg))
    return top - lazy, lazy


GRAPH = {m: imports_of(m, p) for m, p in modules()}
KNOWN = set(GRAPH)


def resolve(name: str) -> str | None:
    """The module an imported name lives in (``from a.b import c``: a.b.c or a.b)."""
    while name and name not in KNOWN:
        name = name.rpartition(".")[0]
    return name or None


def test_every_import_points_down_the_tiers() -> None:
    wrong = []
    for module, (top, lazy) in GRAPH.items():
        own = module.split(".")[0]
        for name in top | lazy:
            other = name.split(".")[0]
            if other == own:
                continue
            if TIERS[other] > TIERS[own] or (TIERS[other] == TIERS[own] < TOP):
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_first_party_imports_are_at_the_top_of_a_module() -> None:
    hidden = [f"{module} imports {name} inside a function"
              for module, (_, lazy) in GRAPH.items() if not module.endswith("__main__")
              for name in lazy if (module, resolve(name)) not in LAZY_ALLOWED]
    assert hidden == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    edges = {m: {r for n in top if (r := resolve(n)) and r != m} for m, (top, _) in GRAPH.items()}
    # a package imports its own modules' names through __init__: not a circle of code
    for m in edges:
        edges[m] = {r for r in edges[m] if not m.startswith(r + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for r in sorted(edges.get(m, ())):
            if state.get(r) == 1:
                cycles.append([*path[path.index(r):], r] if r in path else [m, r])
            elif r not in state:
                visit(r, [*path, r])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_module_is_longer_than_the_house_limit() -> None:
    long = {m: n for m, p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_rules_import_nothing_that_does_io() -> None:
    io = [f"{module} imports {name}" for module, (top, lazy) in GRAPH.items()
          if module.startswith("alerts.rules") for name in top | lazy
          if name.split(".")[0] in {"store", "mqtt"} or name.startswith("alerts.io")]
    assert io == []


def test_every_package_says_what_it_is_for() -> None:
    silent = [m for m, p in modules() if p.name == "__init__.py"
              and not ast.get_docstring(ast.parse(p.read_text()))]
    assert silent == []
