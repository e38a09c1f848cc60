"""The shape of the house, read from the source: no import circles, plain types at the bottom, a pure core.

Every import counts, also one inside a function: a circle through a lazy import is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"

LEAVES = ("monitor.config_types", "monitor.models", "monitor.errors")  # import nothing of monitor
# The pure core: text in, text out. None of it may reach config loading or any I/O.
CORE = (
    "monitor.extract",
    "monitor.normalize",
    "monitor.rules",
    "monitor.similar",
    "monitor.split",
    "monitor.links",
    "monitor.markup",
    "monitor.suggest",
    "monitor.charset",
    "monitor.entries",
    "monitor.prefix",
)
NOT_IN_CORE = (
    "monitor.config",
    "monitor.config_reader",
    "monitor.store",
    "monitor.http",
    "monitor.runtime",
    "monitor.sources",
    "monitor.channels",
    "aiohttp",
    "sqlite3",
    "telegram",
    "httpx",
    "yaml",
    "socket",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it, with relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import x` names modules
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def everything_imported(edges: dict[str, set[str]], start: str) -> set[str]:
    """The modules start imports, directly or through others, with external top-level names too."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    seen: set[str] = set()
    todo = [start]
    while todo:
        for m in imports(files[todo.pop()]):
            if m not in seen:
                seen.add(m)
                if m in edges:
                    todo.append(m)
    return seen


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_finder_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    # A package's __init__ that gathers its kinds is not a circle with them: they import siblings only.
    edges = graph()
    assert len(edges) > 30
    assert circles(edges) == []


def test_plain_types_import_nothing_of_monitor() -> None:
    edges = graph()
    for leaf in LEAVES:
        assert edges[leaf] == set(), leaf


def test_the_pure_core_reaches_no_config_loading_and_no_io() -> None:
    edges = graph()
    for module in CORE:
        reached = everything_imported(edges, module)
        bad = sorted(m for m in reached if any(m == n or m.startswith(n + ".") for n in NOT_IN_CORE))
        assert bad == [], (module, bad)
