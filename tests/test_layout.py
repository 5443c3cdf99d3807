"""The package is laid out as the pipeline: imports flow one way, and never in a circle.

Layers, bottom to top: the base utilities (the ``orbitnet.store`` package and
``orbitnet.data.paths``, which compute nothing and import only each other), then
data < orblib < fit < emulators < judge < studies < figures < book. A module imports from its
own layer and the layers below it; every import counts, a lazy one inside a function too.
"""

import ast
from pathlib import Path

import orbitnet

PKG = Path(orbitnet.__file__).parent
BASE = "base"
LAYERS = [BASE, "data", "orblib", "fit", "emulators", "judge", "studies", "figures", "book"]
LEVEL = {name: i for i, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = ("orbitnet", *path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer of an orbitnet module (the base utilities placed explicitly)."""
    if module in ("orbitnet", "orbitnet.data.paths") or module.split(".")[:2] == [
            "orbitnet", "store"]:
        return BASE
    return module.split(".")[1]


def imports(module: str) -> set[str]:
    """The orbitnet modules ``module`` imports (relative imports resolved, ``from a import b``
    read as module ``a.b`` when that is a module)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{up}.{base}" if base else up
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports(m) for m in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_lives_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS)
    stray = [p.name for p in PKG.glob("*.py") if p.stem != "__init__"]
    assert stray == []


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a layer above its own."""
    return [f"{m} ({layer(m)}) imports {o} ({layer(o)})" for m, deps in sorted(graph.items())
            for o in sorted(deps) if LEVEL[layer(o)] > LEVEL[layer(m)]]


def test_nothing_imports_upward():
    assert upward(GRAPH) == []


def test_the_checks_find_a_planted_cycle_and_upward_import():
    """The checks themselves, on the real graph with one import added."""
    assert "orbitnet.data.paths" in GRAPH["orbitnet.store.code"]  # lazy imports are read too
    assert "orbitnet.store.fingerprint" in GRAPH["orbitnet.data.fetch"]
    planted = {**GRAPH, "orbitnet.data.paths": {"orbitnet.store.code"}}
    assert ["orbitnet.data.paths", "orbitnet.store.code"] in cycles(planted)
    planted = {**GRAPH, "orbitnet.store.locks": GRAPH["orbitnet.store.locks"] | {
        "orbitnet.data.galaxy"}}
    assert upward(planted) == [
        "orbitnet.store.locks (base) imports orbitnet.data.galaxy (data)"]


def test_relative_imports_are_not_used_across_layers():
    rel = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
           if any(isinstance(n, ast.ImportFrom) and n.level > 1
                  for n in ast.walk(ast.parse(p.read_text())))]
    assert rel == []
