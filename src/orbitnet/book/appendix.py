"""The reproducibility appendix, generated from the chapters' run records.

:func:`write_appendix` turns ``build/results/<chapter>.run.json`` (written by the runner)
into ``book/chapters/reproducibility.md``: per chapter the profile, parameters, wall and CPU
time, peak memory and slowest steps of the run that built the page, then the code version,
the package versions and the machine. Nothing in it is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orbitnet.book.record import package_versions, run_record_path
from orbitnet.book.registry import CHAPTERS
from orbitnet.data import paths

PAGE = "reproducibility.md"


def load_records() -> dict[str, dict[str, Any]]:
    """The run records of the chapters that have one, in book order."""
    out = {}
    for ch in CHAPTERS:
        path = run_record_path(ch.id)
        if path.is_file():
            out[ch.id] = json.loads(path.read_text())
    return out


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short_commit(commit: str) -> str:
    """A commit hash cut to 12 characters, keeping its ``-dirty`` mark."""
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def render(records: dict[str, dict[str, Any]], versions: dict[str, str] | None = None,
           book: dict[str, Any] | None = None) -> str:
    """The appendix page as MyST Markdown."""
    versions = package_versions() if versions is None else versions
    lines = ["# Reproducibility", "",
             "Generated from the records the runner wrote when it executed each chapter "
             "(`build/results/<chapter>.run.json`). Wall times depend on what else shared "
             "the cores; CPU times (kernel and worker processes) much less so. Peak memory "
             "is the largest sum of the proportional set sizes of the runner, the kernel "
             "and its workers, sampled every half second.", ""]
    missing = [c.id for c in CHAPTERS if c.id not in records]
    if not records:
        return "\n".join(lines + ["No chapter has been run yet.", ""])
    lines += ["## The runs", "",
              "| chapter | profile | wall time | CPU time | peak memory | started | code |",
              "|---|---|---:|---:|---:|---|---|"]
    for cid, r in records.items():
        cpu = r.get("cpu_seconds")
        lines.append(f"| `{cid}` | {r['profile']}{' (forced)' if r.get('forced') else ''} | "
                     f"{r['wall_seconds']:.0f} s | "
                     f"{'' if cpu is None else f'{cpu:.0f} s'} | "
                     f"{_gib(r['peak_memory_bytes'])} | {r['started']} | "
                     f"`{_short_commit(r.get('git_commit', ''))}` |")
    total_wall = sum(r["wall_seconds"] for r in records.values())
    total_cpu = sum(r.get("cpu_seconds") or 0 for r in records.values())
    peak = max(r["peak_memory_bytes"] for r in records.values())
    lines += [f"| all | | {total_wall:.0f} s | {total_cpu:.0f} s | {_gib(peak)} (largest) "
              f"| | |", ""]
    if book and book.get("profile") == next(iter(records.values()))["profile"]:
        lines += [f"The last `orbitnet book --profile {book['profile']}` ran its chapters "
                  f"{book['jobs']} at a time (each in its own process when more than one) in "
                  f"{book['wall_seconds']:.0f} s of wall time.", ""]
    if missing:
        lines += ["Not run in this build: " + ", ".join(f"`{m}`" for m in missing) + ".", ""]
    lines += ["## Parameters and slowest steps", ""]
    for cid, r in records.items():
        lines += [f"### `{cid}`", "", "| parameter | value |", "|---|---|"]
        lines += [f"| `{k}` | `{_cell(json.dumps(v))}` |" for k, v in r["parameters"].items()]
        cells = sorted((c for c in r.get("cells", []) if c.get("seconds")),
                       key=lambda c: -c["seconds"])[:3]
        if cells:
            lines += ["", "Slowest cells: " + "; ".join(
                f"{c['seconds']:.1f} s in cell {c['cell']} (`{_cell(c['first_line'])}`)"
                for c in cells) + ".", ""]
        else:
            lines.append("")
    machine = next(iter(records.values()))["machine"]
    gpus = ", ".join(machine.get("gpus") or []) or "none"
    lines += ["## The machine", "",
              "| | |", "|---|---|",
              f"| CPU | {_cell(machine['cpu_model'])} |",
              f"| cores | {machine.get('usable_cores')} usable, {machine['logical_cores']} "
              f"logical, {machine.get('physical_cores')} physical |",
              f"| memory | {_gib(machine['memory_bytes'])} |",
              f"| GPU | {_cell(gpus)} |",
              f"| system | {_cell(machine['os'])} |",
              f"| Python | {machine['python']} |", "",
              "## Package versions", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in versions.items()]
    return "\n".join(lines) + "\n"


def write_appendix(dest: Path | None = None) -> Path:
    """Write the appendix page (default ``book/chapters/reproducibility.md``)."""
    from orbitnet.store.artifacts import write_text_atomic

    dest = Path(dest) if dest else paths.book_page(PAGE)
    from orbitnet.book.record import load_book_record

    return write_text_atomic(dest, render(load_records(), book=load_book_record()))
