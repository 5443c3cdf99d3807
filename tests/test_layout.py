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


def test_the_import_graph_has_no_cycle():
    assert cycles(GRAPH) == []


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


def _rooted_at_paths(node: ast.AST) -> bool:
    """Whether an expression starts from the ``paths`` module (``paths.X``, ``paths.f()``)."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.BinOp)):
        node = node.value if isinstance(node, ast.Attribute) else (
            node.func if isinstance(node, ast.Call) else node.left)
    return isinstance(node, ast.Name) and node.id == "paths"


def paths_built_outside(modules: dict[str, Path]) -> list[str]:
    """Where a module joins a folder of ``orbitnet.data.paths`` itself (``paths.X / name``,
    ``paths.X.glob(...)``) instead of asking ``paths`` for the path."""
    builders = {"glob", "rglob", "joinpath", "with_name", "with_suffix", "with_stem"}
    out = []
    for m, p in modules.items():
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and _rooted_at_paths(
                    n.left):
                out.append(f"{m}:{n.lineno}")
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr in builders and _rooted_at_paths(n.func.value)):
                out.append(f"{m}:{n.lineno} .{n.func.attr}")
    return sorted(set(out))  # a / b / c is one place


def test_every_path_is_built_in_data_paths(tmp_path):
    others = {m: p for m, p in MODULES.items() if m != "orbitnet.data.paths"}
    assert paths_built_outside(others) == []
    planted = tmp_path / "planted.py"  # the check itself finds both forms
    planted.write_text("from orbitnet.data import paths\n"
                       "a = paths.artifacts_dir('x') / 'grid'\nb = paths.RESULTS.glob('*')\n")
    assert paths_built_outside({"planted": planted}) == ["planted:2", "planted:3 .glob"]


def test_relative_imports_are_not_used_across_layers():
    rel = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
           if any(isinstance(n, ast.ImportFrom) and n.level > 1
                  for n in ast.walk(ast.parse(p.read_text())))]
    assert rel == []


# --- names that match the book -------------------------------------------------------------
# Chapter ids are ``NN_name``; the studies and figures modules of a chapter are named ``name``.
# Figures modules that several chapters share are listed here.
SHARED_FIGURES = {"style", "bin_maps"}
ROOT = PKG.parent.parent
NOTEBOOKS = ROOT / "notebooks"


def toc_chapters() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f.rsplit("/", 1)[1] for f in files if f.startswith("book/chapters/")
            and f.rsplit("/", 1)[1][:2].isdigit()]


def chapter_name(chapter_id: str) -> str:
    return chapter_id.split("_", 1)[1]


def notebook_modules(chapter_id: str, layer_name: str) -> set[str]:
    """The ``orbitnet.<layer_name>`` modules a chapter's notebook imports."""
    import re

    text = (NOTEBOOKS / f"{chapter_id}.md").read_text()
    found = set(re.findall(rf"^from orbitnet\.{layer_name}\.(\w+) import", text, re.M))
    for names in re.findall(rf"^from orbitnet\.{layer_name} import (.+)$", text, re.M):
        found.update(n.split(" as ")[0].strip() for n in names.split(","))
    return found


def test_chapters_are_numbered_in_reading_order():
    from orbitnet.book.registry import chapter_ids

    ids = toc_chapters()
    assert ids == list(chapter_ids()), "_toc.yml and the registry list the chapters alike"
    numbers = [int(i[:2]) for i in ids]
    assert numbers == sorted(set(numbers)), f"chapter numbers must increase: {ids}"
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.md")) == sorted(ids)


def test_studies_and_figures_modules_are_named_after_their_chapters():
    from orbitnet.book.registry import chapter_ids

    names = {chapter_name(i) for i in chapter_ids()}
    for layer_name, shared in (("studies", set()), ("figures", SHARED_FIGURES)):
        modules = {p.stem for p in (PKG / layer_name).glob("*.py") if p.stem != "__init__"}
        assert modules - names - shared == set(), f"{layer_name} modules not named after a chapter"
        for cid in chapter_ids():
            foreign = notebook_modules(cid, layer_name) - {chapter_name(cid)} - shared
            assert foreign == set(), f"{cid} uses {layer_name} modules {foreign}"


def test_nearest_grid_value_has_one_home():
    """``orbitnet.fit.sweep.nearest_index`` is the one way to find the nearest grid value."""
    import re

    inline = re.compile(r"argmin\(\s*(np\.)?abs\(|abs\([^()]*\)\.argmin\(")
    home = PKG / "fit" / "sweep.py"
    files = [p for p in PKG.rglob("*.py") if p != home] + sorted(NOTEBOOKS.glob("*.md"))
    assert [str(p.relative_to(ROOT)) for p in files if inline.search(p.read_text())] == []
    assert len(inline.findall(home.read_text())) == 1


def test_one_class_per_name():
    """One definition per class (one ``ParameterError``, say) across the package."""
    seen: dict[str, list[str]] = {}
    for m, p in MODULES.items():
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, ast.ClassDef):
                seen.setdefault(node.name, []).append(m)
    assert {n: ms for n, ms in seen.items() if len(ms) > 1} == {}


def test_the_orbit_model_cube_has_one_name():
    """Every parameter or field that holds an ``OrbitModels`` cube is called ``orbit_models``
    (``pred`` where it is a prediction of one)."""
    odd = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                odd += [f"{m}.{node.name}({a.arg})" for a in args
                        if a.annotation is not None and ast.unparse(a.annotation).strip("'\"")
                        == "OrbitModels" and a.arg not in ("orbit_models", "pred")]
            elif (isinstance(node, ast.AnnAssign) and ast.unparse(node.annotation) == "OrbitModels"
                  and ast.unparse(node.target) != "orbit_models"):
                odd.append(f"{m}: {ast.unparse(node.target)}")
    assert odd == []
