"""The ``orbitnet`` command: data, chapters, book."""

from __future__ import annotations

import argparse
import sys

from orbitnet.book.registry import CHAPTERS, PROFILES
from orbitnet.data import paths


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

    ls = sub.add_parser("list", help="list chapters and their parameters")
    ls.add_argument("--markdown", action="store_true",
                    help="Markdown tables (the README's parameter section)")
    return p


def list_text(markdown: bool = False) -> str:
    """Every chapter and its declared parameters (``orbitnet list [--markdown]``)."""
    from orbitnet.book.params import markdown_table

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


def main(argv: list[str] | None = None) -> int:
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
            from orbitnet.book.params import parse_value
            from orbitnet.book.runner import run_chapter

            overrides = {name: parse_value(val) for name, val in args.parameter}
            run_chapter(args.id, profile=args.profile, overrides=overrides,
                        progress=not args.no_progress, force=args.force)
        elif args.command == "book":
            from orbitnet.book.runner import build_book, run_book

            if args.build_only:
                build_book()
            else:
                run_book(profile=args.profile, build=not args.no_build)
        elif args.command == "list":
            print(list_text(markdown=args.markdown), end="")
    except (ChapterError, DataError, KeyError, FileNotFoundError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"orbitnet: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
