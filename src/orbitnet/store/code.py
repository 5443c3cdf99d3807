"""Which code made an artifact: a hash of the source of the modules that compute it.

:func:`code_version` hashes the source of the computing modules and of every orbitnet module
they import (docstrings, comments and formatting do not count), so unrelated commits leave
caches valid; it decides an artifact's freshness. :func:`git_commit` is the checkout's commit,
recorded beside it for people (artifacts' provenance, chapter run records): it never decides.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from orbitnet.data import paths

PACKAGE = Path(__file__).resolve().parents[1]
#: Infrastructure that writes and finds artifacts but computes nothing in them: not part of
#: any artifact's code version (with every module of the ``orbitnet.store`` package).
CODE_EXCLUDE = frozenset({"orbitnet", "orbitnet.data", "orbitnet.data.paths"})


def excluded(module: str) -> bool:
    """Whether ``module`` is infrastructure left out of code versions (:data:`CODE_EXCLUDE`
    and the ``orbitnet.store`` package)."""
    return module in CODE_EXCLUDE or module == "orbitnet.store" or module.startswith(
        "orbitnet.store.")


def module_file(module: str) -> Path:
    """The source file of an ``orbitnet`` module, found without importing it."""
    parts = module.split(".")
    if parts[0] != "orbitnet":
        raise ValueError(f"{module} is not an orbitnet module")
    base = PACKAGE.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    raise ValueError(f"no source file for module {module}")


def _is_module(name: str) -> bool:
    try:
        module_file(name)
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=512)
def _parse(path: Path, mtime_ns: int, size: int) -> tuple[str, frozenset[str]]:
    """(hash of the source without docstrings and comments, orbitnet modules it imports)."""
    tree = ast.parse(path.read_text())
    module = "orbitnet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    imports: set[str] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[0] = ast.Pass()  # a docstring is not code
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name.split(".")[0] == "orbitnet":
                for alias in node.names:
                    sub = f"{name}.{alias.name}"
                    imports.add(sub if _is_module(sub) else name)
        elif isinstance(node, ast.Import):
            imports.update(a.name for a in node.names if a.name.split(".")[0] == "orbitnet")
    text = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest(), frozenset(imports)


def code_modules(*modules: str) -> list[str]:
    """``modules`` and every orbitnet module they import (at any depth, lazy imports too),
    less the infrastructure (:func:`excluded`)."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        if mod in seen or excluded(mod):
            continue
        seen.add(mod)
        path = module_file(mod)
        st = path.stat()
        todo.extend(_parse(path, st.st_mtime_ns, st.st_size)[1])
    return sorted(seen)


def code_version(*modules: str) -> str:
    """A hash of the code of ``modules`` and the orbitnet modules they import.

    Docstrings, comments and formatting do not count; a change to any statement does.
    """
    parts = {}
    for mod in code_modules(*modules):
        path = module_file(mod)
        st = path.stat()
        parts[mod] = _parse(path, st.st_mtime_ns, st.st_size)[0]
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def function_modules(fn: Callable, seen: set[int] | None = None) -> set[str]:
    """The modules of ``fn`` and of the functions it closes over (what a ``compute`` runs)."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return set()
    seen.add(id(fn))
    fn = getattr(fn, "__func__", fn)
    out = {fn.__module__} if getattr(fn, "__module__", None) else set()
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value) and hasattr(value, "__module__"):
            out |= function_modules(value, seen)
    return {m for m in out if m and m.split(".")[0] == "orbitnet"}


def git_commit() -> str:
    """The checkout's commit hash, with ``-dirty`` when it has changes; ``unknown`` outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.ROOT, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=paths.ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"

