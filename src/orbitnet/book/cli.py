"""The ``orbitnet`` command: data, chapters, book, grids."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from typing import Any

from orbitnet.book.registry import CHAPTERS, PROFILES
from orbitnet.data import paths
from orbitnet.fit.mlgrid import THESIS

INTERRUPTED = "orbitnet: interrupted; nothing was written, re-run to resume"


def _at_least(low: int):
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orbitnet", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="copy or download the galaxy data into data/")
    d.add_argument("--galaxy", default=paths.GALAXY)
    d.add_argument("--check", action="store_true", help="only verify checksums")
    d.add_argument("--offline", action="store_true", help="never download")

    c = sub.add_parser("chapter", help="execute one chapter notebook with papermill")
    c.add_argument("id", help="chapter id, e.g. 01_galaxy")
    c.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="override a parameter (YAML value)")
    c.add_argument("--profile", choices=PROFILES, default="full")
    c.add_argument("--no-progress", action="store_true")
    c.add_argument("--force", action="store_true",
                   help="run even if a parameter value needs more memory than the limit")

    b = sub.add_parser("book", help="run all chapters, then build the HTML book")
    b.add_argument("--profile", choices=PROFILES, default="full")
    b.add_argument("--no-build", action="store_true", help="run the chapters only")
    b.add_argument("--build-only", action="store_true", help="build from executed chapters")
    b.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="chapters run at a time, each in its own process (default: 2 for the "
                   "quick profile, 1 for the full one)")

    ls = sub.add_parser("list", help="list chapters and their parameters")
    ls.add_argument("--markdown", action="store_true",
                    help="Markdown tables (docs/parameters.md)")

    g = sub.add_parser("grid", help="engine libraries and chi2(M/L) sweeps over a parameter "
                       "design, on a Dask cluster")
    g.add_argument("--free", action="append", default=[], metavar="NAME[=LO:HI]",
                   help="a free parameter over the range LO:HI (two numbers, e.g. f-dh=0:1.5; "
                        "the number of points is -n); no range: the config's limits")
    g.add_argument("--design", choices=("regular", "sobol", "lhs", "list"), default="regular")
    g.add_argument("-n", "--points", type=_at_least(1), default=3,
                   help="points per parameter (regular) or in all (sobol, lhs)")
    g.add_argument("--seed", type=_at_least(0), default=0, help="seed of a sobol/lhs design")
    g.add_argument("--point", action="append", default=[], metavar="NAME=V[,NAME=V]",
                   help="an explicit point (design list); repeat for more")
    g.add_argument("--config", default=None, help="DYNAMITE configuration (default: NGC 6278)")
    g.add_argument("--out", default=None, help="artifact folder (shared by all workers)")
    g.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="engine setting for every library, e.g. n_e=4 (YAML value, checked "
                        "against the setting's kind before any work)")
    g.add_argument("--ml", default=None, metavar="START:STOP:STEP",
                   help="M/L grid of the sweeps (default "
                   + ":".join(f"{x:g}" for x in THESIS) + ", the thesis')")
    g.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (or DASK_SCHEDULER_ADDRESS), "
                        "asked who it is before any work; default: a LocalCluster")
    g.add_argument("--workers", type=_at_least(1), default=None,
                   help="LocalCluster worker processes, >= 1 (default: cores, one thread each)")
    g.add_argument("--connect-timeout", type=_seconds, default=10.0,
                   help="seconds > 0 to wait for --scheduler (default 10)")
    g.add_argument("--no-progress", action="store_true")
    return p


def list_text(markdown: bool = False) -> str:
    """Every chapter and its declared parameters (``orbitnet list [--markdown]``)."""
    from orbitnet.book.tables import markdown_table

    out = []
    for ch in CHAPTERS:
        if markdown:
            out += [f"### `{ch.id}`: {ch.title}\n\n", markdown_table(ch.id), "\n"]
            continue
        out.append(f"{ch.id}: {ch.title}\n")
        for p in ch.params:
            unit = f" {p.unit}" if p.unit else ""
            quick = "" if p.quick == p.default else f" (quick: {p.quick!r})"
            out.append(f"    {p.name} = {p.default!r}{unit}{quick}  # {p.meaning}; "
                       f"{p.allowed()}\n")
    return "".join(out)


def _pairs(option: str, text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{option} {text}: expected NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _numbers(text: str, n: int, error: str) -> tuple[float, ...]:
    """``n`` numbers separated by ``:``; ``ValueError(error)`` otherwise."""
    parts = text.split(":")
    try:
        values = tuple(float(x) for x in parts)
    except ValueError:
        values = ()
    if len(parts) != n or len(values) != n:
        raise ValueError(error)
    return values


def grid_request(args: argparse.Namespace) -> dict[str, Any]:
    """Every ``orbitnet grid`` value parsed and checked, before a galaxy is read or a cluster
    started: free ranges, points, engine settings, the M/L grid and the scheduler."""
    from orbitnet.book.params import parse_value
    from orbitnet.fit.sweep import ml_grid
    from orbitnet.orblib.cluster import GridError, check_scheduler
    from orbitnet.orblib.cluster import scheduler_address as address_of
    from orbitnet.orblib.grid import engine_settings

    free: dict[str, tuple[float, float] | None] = {}
    for item in args.free:
        name, sep, rng = item.partition("=")
        if not name.strip():
            raise ValueError(f"--free {item}: expected NAME or NAME=LO:HI")
        free[name.strip()] = _numbers(rng, 2, f"--free {item}: expected NAME or NAME=LO:HI, "
                                      "a range of two numbers (-n sets the number of points)"
                                      ) if sep else None
    points = []
    for text in args.point:
        try:
            points.append({k: float(v) for k, v in _pairs("--point", text).items()})
        except ValueError as exc:
            raise ValueError(str(exc) if "--point" in str(exc) else
                             f"--point {text}: every value must be a number") from None
    if points and not free:
        free = {name: None for name in points[0]}
    engine: dict[str, Any] = {}
    for text in args.set:
        for k, v in _pairs("--set", text).items():
            try:
                engine.update(engine_settings({k: parse_value(v)}))
            except (GridError, ValueError) as exc:
                raise ValueError(f"--set {text}: {exc}") from None
    ml = None
    if args.ml:
        try:
            ml = ml_grid(*_numbers(args.ml, 3, f"--ml {args.ml}: expected START:STOP:STEP, "
                                   "three numbers"))
        except ValueError as exc:
            raise ValueError(str(exc) if str(exc).startswith("--ml") else
                             f"--ml {args.ml}: {exc}") from None
    address = address_of(args.scheduler)
    if address:
        check_scheduler(address, args.connect_timeout)
    return {"free": free, "points": points or None, "engine": engine, "ml": ml,
            "scheduler": address}


def _grid(args: argparse.Namespace) -> int:
    from orbitnet.data.galaxy import load_galaxy
    from orbitnet.fit.grids import grid_sweeps

    req = grid_request(args)
    res = grid_sweeps(load_galaxy(), req["free"], kind=args.design, n=args.points,
                      seed=args.seed, points=req["points"], config=args.config,
                      out_dir=args.out, ml=req["ml"], scheduler=req["scheduler"],
                      n_workers=args.workers, connect_timeout=args.connect_timeout,
                      progress=not args.no_progress, **req["engine"])
    d = res.to_dict()
    for p, best, s in zip(d["points"], d.get("ml_best", []), res.summaries, strict=False):
        print(f"{p}  ml_best {best}  library {s['key']} "
              f"({'built' if s['library_built'] else 'cached'})")
    print(f"{len(d['points'])} points, {res.n_built} libraries built, {d['workers']} workers, "
          f"{d['wall_seconds']:.1f} s; record {res.extra['record']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; Ctrl-C prints one line and exits with 130."""
    # Ctrl-C must reach the command even when it was started with SIGINT ignored (a shell's
    # background job, a parent that ignores it): otherwise the run could not be interrupted
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    from orbitnet.book.runner import ChapterError
    from orbitnet.data.galaxy import DataError

    try:
        if args.command == "data":
            from orbitnet.data import fetch

            if args.check:
                bad = fetch.check(args.galaxy)
                for f in bad:
                    print(f"missing or corrupt: {f} (run `make data`)", file=sys.stderr)
                return 1 if bad else 0
            fetch.fetch(args.galaxy, offline=args.offline)
        elif args.command == "chapter":
            from orbitnet.book.params import ParameterError, parse_value
            from orbitnet.book.runner import run_chapter

            given: dict[str, list[str]] = {}
            for name, val in args.parameter:
                given.setdefault(name, []).append(val)
            twice = {n: v for n, v in given.items() if len(v) > 1}
            if twice:  # the later would silently win: a typo or a mistaken name
                raise ChapterError(f"chapter {args.id}: parameter(s) given more than once: " +
                                   "; ".join(f"{n} = {', '.join(v)}" for n, v in twice.items()))
            try:
                overrides = {name: parse_value(val, name) for name, val in args.parameter}
            except ParameterError as exc:
                raise ChapterError(f"chapter {args.id}: {exc}") from None
            run_chapter(args.id, profile=args.profile, overrides=overrides,
                        progress=not args.no_progress, force=args.force)
        elif args.command == "book":
            from orbitnet.book.runner import build_book, run_book

            if args.build_only:
                build_book()
            else:
                run_book(profile=args.profile, build=not args.no_build, jobs=args.jobs)
        elif args.command == "grid":
            try:
                return _grid(args)
            except (ValueError, RuntimeError, OSError) as exc:  # bad input, grid errors
                print(f"orbitnet grid: error: {exc}", file=sys.stderr)
                return 2
        elif args.command == "list":
            print(list_text(markdown=args.markdown), end="")
    except (ChapterError, DataError, KeyError, FileNotFoundError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"orbitnet: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
