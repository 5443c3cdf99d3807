"""The package is laid out as the pipeline: no module imports from a layer below its own."""

import ast
from pathlib import Path

import orbitnet

PKG = Path(orbitnet.__file__).parent
# top to bottom; a module may import its own layer and the layers above it
# (store.py and data/ are the foundation every layer may use)
LAYERS = [("store", "data"), ("orblib",), ("fit",), ("emulators",), ("judge",), ("studies",),
          ("figures",), ("book",)]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "orbitnet" and parts[1] in LEVEL else None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_every_module_lives_in_a_layer():
    stray = [p.name for p in PKG.glob("*.py") if p.stem not in ("__init__", "store")]
    assert stray == []


def test_nothing_imports_upward():
    upward = []
    for path in PKG.rglob("*.py"):
        own = _layer("orbitnet." + ".".join(path.relative_to(PKG).with_suffix("").parts))
        if own is None:
            continue
        for mod in _imports(path):
            other = _layer(mod)
            if other is not None and LEVEL[other] > LEVEL[own]:
                upward.append(f"{path.relative_to(PKG)} imports {mod}")
    assert upward == []


def test_relative_imports_are_not_used_across_layers():
    rel = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
           if any(isinstance(n, ast.ImportFrom) and n.level > 1
                  for n in ast.walk(ast.parse(p.read_text())))]
    assert rel == []
