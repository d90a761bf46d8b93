"""The package's layering: no import cycle between subpackages, nodes see only the protocols.

Imports are read from the source with `ast` (nothing is imported), including those inside
functions and `TYPE_CHECKING` blocks: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import manyshores

PACKAGE = Path(manyshores.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> set[str]:
    """Absolute names of the `manyshores` modules (or packages) that `path` imports."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from manyshores import state` imports the module `manyshores.state`.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("manyshores.")}


def _unit(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: `manyshores.graph.x` → graph."""
    return module.split(".")[1]


def subpackage_imports() -> dict[str, dict[str, list[str]]]:
    """unit → imported unit → the `module -> import` lines that make that edge."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    units = {_unit(_module_name(p)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    units |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == "manyshores":
            continue
        for name in _imported(path):
            target = _unit(name)
            if target in units and target != _unit(module):
                edges[_unit(module)][target].append(f"{module} -> {name}")
    return edges


def strongly_connected(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
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
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_a_cycle_when_there_is_one() -> None:
    edges = {"a": {"b": ["a.x -> b.y"]}, "b": {"c": ["b -> c"]}, "c": {"a": ["c -> a"]}}
    assert strongly_connected(edges) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b": ["a -> b"]}}) == []


def test_the_walker_reads_every_import_form() -> None:
    edges = subpackage_imports()
    # Known one-way edges of the real package, from each import form it uses.
    assert "components" in edges["nodes"]  # from manyshores.components import Components
    assert "state" in edges["graph"]
    assert "experts" in edges["cli"]  # lazy imports inside functions count


def test_no_import_cycle_between_subpackages() -> None:
    edges = subpackage_imports()
    cycles = strongly_connected(edges)
    detail = [
        line
        for cycle in cycles
        for a in cycle
        for b in cycle
        if b in edges.get(a, {})
        for line in edges[a][b][:3]
    ]
    assert not cycles, f"import cycles between subpackages {cycles}:\n" + "\n".join(detail)


def test_nodes_see_only_the_component_protocols_and_the_state() -> None:
    # `budget`: the turn deadline the expert node hands to model work (ground floor, like `content`);
    # `answers`: composing the reply a person reads (ground floor: cultures and fixed sentences).
    allowed = {"components", "state", "content", "errors", "budget", "answers"}
    seen = subpackage_imports()["nodes"]
    assert set(seen) <= allowed, {k: v for k, v in seen.items() if k not in allowed}
    assert "defaults" not in " ".join(line for lines in seen.values() for line in lines)


def module_imports() -> dict[str, dict[str, list[str]]]:
    """module → imported module → the import lines, for every `manyshores` module.

    `from package import name` counts as importing the module `package.name` when that is a
    module, else the package itself (its `__init__`)."""
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for name in _imported(path):
            target = name if name in modules else name.rpartition(".")[0]
            if target in modules and target not in (module, "manyshores"):
                edges[module][target].append(f"{module} -> {name}")
    return edges


def test_the_module_walker_sees_a_cycle_when_there_is_one() -> None:
    edges = module_imports()
    assert "manyshores.state" in edges["manyshores.nodes.detect"]
    # A cycle added on purpose is found.
    planted = {k: dict(v) for k, v in edges.items()}
    planted.setdefault("manyshores.state", {})["manyshores.nodes.detect"] = ["planted"]
    assert strongly_connected(planted)


def test_no_import_cycle_between_modules() -> None:
    cycles = strongly_connected(module_imports())
    assert not cycles, f"import cycles between modules: {cycles}"
