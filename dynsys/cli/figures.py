"""``dynsys figures``: regenerate the reproduced paper figures.

Examples::

    dynsys figures --list
    dynsys figures --quick --outdir demo-figures
    dynsys figures --only degenerate_fig04_sharpness_orbit --outdir figures
    dynsys figures --only adam_spikes --quick --outdir /tmp/figs
"""
from __future__ import annotations

NAME = "figures"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="regenerate the papers' figures (PNG) from the scripts in figures/",
        description="Regenerate the reproduced paper figures: one script per figure in the "
        "repository's figures/ folder (see figures/README.md). --quick uses small grids and "
        "short runs on the same code path (CI, make demo).",
    )
    p.add_argument("--outdir", metavar="DIR", default=None,
                   help="folder for the PNG files (created if needed); required unless --list")
    p.add_argument("--quick", action="store_true",
                   help="small grids and short runs (a few seconds per figure), same code path")
    p.add_argument("--only", metavar="NAME", action="append", default=None,
                   help="make only this figure (script name without .py, or a substring such as "
                   "'degenerate' or 'fig04'); repeat or separate with commas for several")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from dynsys.figures import available, make_figures, resolve_names

    only = None
    if args.only:
        only = [part for item in args.only for part in item.split(",") if part.strip()]
        if not only:
            raise ValueError("--only = '' names no figure; allowed: a figure name (see dynsys figures --list)")
    if args.list:
        scripts = available()
        for name in resolve_names(only):
            doc = _first_doc_line(scripts[name])
            print(f"{name:42s} {doc}")
        return 0
    if args.outdir is None:
        raise ValueError("--outdir is missing; allowed: a folder path for the PNG files")
    written = make_figures(args.outdir, quick=args.quick, only=only, log=print)
    n = sum(len(v) for v in written.values())
    print(f"{n} PNG file(s) from {len(written)} figure script(s) written to {args.outdir}")
    return 0


def _first_doc_line(path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
