"""Time and memory of the book's chapters: run them with the runner, print its run records.

    python benchmarks/bench_book.py                       # every chapter, quick profile
    python benchmarks/bench_book.py --profile full 03_dcnn 04_losses
    python benchmarks/bench_book.py --report-only         # the records already in build/results

Goals (2 cores): quick profile <= 5 min of chapter execution in total; full profile peak
memory <= 6 GB. Chapters given here run one after another; ``orbitnet book`` runs the quick
profile two at a time, and its elapsed time (``build/book.run.json``) is printed too. Each
row: wall and CPU seconds (kernel and its workers; CPU time hardly depends on other jobs
sharing the cores), peak memory (PSS summed over the process tree),
the largest single process, and the three slowest cells.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from orbitnet.book.record import load_book_record, run_record_path
from orbitnet.book.registry import CHAPTERS


def report(ids: list[str]) -> str:
    rows = ["| chapter | profile | wall s | CPU s | peak PSS GiB | largest process GiB | "
            "slowest cells (s) |", "|---|---|---:|---:|---:|---:|---|"]
    tot_wall = tot_cpu = 0.0
    for cid in ids:
        path = run_record_path(cid)
        if not path.is_file():
            rows.append(f"| `{cid}` | not run | | | | | |")
            continue
        r = json.loads(path.read_text())
        cells = sorted((c for c in r["cells"] if c.get("seconds")), key=lambda c: -c["seconds"])
        slow = "; ".join(f"{c['seconds']:.0f} `{c['first_line'][:40]}`" for c in cells[:3])
        tot_wall += r["wall_seconds"]
        tot_cpu += r.get("cpu_seconds") or 0.0
        rows.append(f"| `{cid}` | {r['profile']} | {r['wall_seconds']:.0f} | "
                    f"{r.get('cpu_seconds', float('nan')):.0f} | "
                    f"{r['peak_memory_bytes'] / 2**30:.2f} | "
                    f"{r['peak_process_rss_bytes'] / 2**30:.2f} | {slow} |")
    rows.append(f"| all | | {tot_wall:.0f} | {tot_cpu:.0f} | | | |")
    b = load_book_record()
    if b:
        rows.append(f"\nlast `orbitnet book --profile {b['profile']}`: {b['wall_seconds']:.0f} s "
                    f"of wall time, {b['jobs']} chapter(s) at a time")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return "\n".join(rows) + f"\n\nload average at the end: {load} ({os.cpu_count()} cores)\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("chapters", nargs="*", help="chapter ids (default: all)")
    p.add_argument("--profile", default="quick", choices=("quick", "full"))
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    ids = args.chapters or [c.id for c in CHAPTERS]
    if not args.report_only:
        from orbitnet.book.runner import run_chapter

        for cid in ids:
            run_chapter(cid, profile=args.profile, progress=False)
    print(report(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
