"""``dynsys verify``: run every claim of the papers and compare theory with measurement.

Each registered claim (:mod:`theory.registry`; ids of ``shared/design/math.md``: A1-A6,
D1-D14, E1-E3, F1-F2, C1-C4) is derived with sympy and then checked numerically by
running the dynsys kernels. The table shows, per claim: id, paper, statement, whether the
derivation reproduced the paper (symbolic), whether the measured figure matched the
predicted one (numeric), both figures, and the seconds taken. Exit status 1 when any
claim fails, 0 otherwise, 2 on a bad command line.

Examples::

    dynsys verify
    dynsys verify --only D3,D5 --json
    dynsys verify --paper adam-degenerate-polynomials
    dynsys verify --markdown docs/theory.md
"""
from __future__ import annotations

import json
import shutil
import sys

NAME = "verify"
JSON_KEYS = ("id", "paper", "statement", "symbolic", "numeric", "predicted", "measured", "passed")
COMMAND = "dynsys verify --markdown docs/theory.md"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="derive every claim of the papers with sympy and check it against a simulation",
        description="Run every registered claim (math.md: A1-A6, D1-D14, E1-E3, F1-F2, C1-C4): the sympy "
        "derivation (map -> fixed points -> Jacobian -> eigenvalues/Jury conditions, or dsolve for flows) and "
        "a numeric cross-check that runs the dynsys kernels. Prints a table: id, paper, statement, symbolic "
        "pass/fail, numeric pass/fail, predicted, measured, seconds. Exit status 1 if any claim fails.",
    )
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of objects with keys " + ", ".join(JSON_KEYS) + " (plus seconds, detail, error)")
    p.add_argument("--markdown", default=None, metavar="PATH",
                   help="also write every derivation with LaTeX (statement, each sympy step, predicted vs measured) to PATH")
    p.add_argument("--only", default=None, metavar="IDS",
                   help="comma-separated claim ids to run, e.g. D3,D5 (default: all)")
    p.add_argument("--paper", default=None, metavar="NAME",
                   help="run only the claims of this paper (e.g. adam-degenerate-polynomials)")
    p.set_defaults(func=run)


def select_claims(only=None, paper=None):
    """Registered claims filtered by ``only`` (comma-separated ids) and ``paper``; ValueError on unknown names."""
    from theory.registry import all_claims, get_claim

    claims = all_claims()
    if only is not None:
        ids = [c.strip() for c in str(only).split(",") if c.strip()]
        if not ids:
            raise ValueError(f"--only = {only!r} names no claim; allowed: comma-separated ids such as D3,D5")
        wanted = set()
        for cid in ids:
            try:
                wanted.add(get_claim(cid).id)
            except ValueError:
                known = ", ".join(c.id for c in claims)
                raise ValueError(f"--only: claim {cid!r} is not known; allowed: {known}") from None
        claims = [c for c in claims if c.id in wanted]
    if paper is not None:
        papers = sorted({c.paper for c in all_claims()})
        if paper not in papers:
            raise ValueError(f"--paper = {paper!r} is not known; allowed: {', '.join(papers)}")
        claims = [c for c in claims if c.paper == paper]
        if not claims:
            raise ValueError(f"--paper = {paper!r} has no claim among --only = {only!r}")
    return claims


def _fmt(v, width=None) -> str:
    if v is None:
        s = "-"
    elif isinstance(v, float):
        s = f"{v:.6g}"
    else:
        s = str(v)
    if width is not None and len(s) > width:
        s = s[: max(width - 3, 1)] + "..."
    return s


def _table(results) -> str:
    cols = shutil.get_terminal_size((160, 24)).columns
    fixed = ("id", "paper", "symbolic", "numeric", "predicted", "measured", "seconds")
    w_id, w_paper, w_pf, w_num, w_sec = 4, 28, 8, 24, 7
    w_stmt = max(20, cols - (w_id + w_paper + 2 * w_pf + 2 * w_num + w_sec + 2 * 7))
    head = (f"{'id':<{w_id}}  {'paper':<{w_paper}}  {'statement':<{w_stmt}}  {'symbolic':<{w_pf}}  {'numeric':<{w_pf}}  "
            f"{'predicted':<{w_num}}  {'measured':<{w_num}}  {'seconds':>{w_sec}}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.id:<{w_id}}  {_fmt(r.paper, w_paper):<{w_paper}}  {_fmt(r.statement, w_stmt):<{w_stmt}}  "
            f"{'pass' if r.symbolic else 'FAIL':<{w_pf}}  {'pass' if r.numeric else 'FAIL':<{w_pf}}  "
            f"{_fmt(r.predicted, w_num):<{w_num}}  {_fmt(r.measured, w_num):<{w_num}}  {r.seconds:>{w_sec}.2f}"
        )
    n_fail = sum(not r.passed for r in results)
    lines.append("-" * len(head))
    lines.append(f"{len(results)} claims, {len(results) - n_fail} passed, {n_fail} failed, "
                 f"{sum(r.seconds for r in results):.1f} s")
    for r in results:
        if r.error:
            lines.append(f"{r.id}: error: {r.error.splitlines()[0]}")
    return "\n".join(lines)


def _latex(obj) -> str:
    """LaTeX of a derivation step's object: ``sympy.latex`` for sympy values, strings as given."""
    import sympy as sp

    if isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float, complex)):
        return sp.latex(sp.sympify(obj))
    try:
        return sp.latex(obj)
    except Exception:  # noqa: BLE001 - anything sympy cannot print is shown as text
        return r"\text{" + str(obj).replace("{", r"\{").replace("}", r"\}") + "}"


def markdown(results) -> str:
    """The derivations of ``results`` as Markdown with LaTeX (``$$ ... $$`` blocks)."""
    out = [
        "# Theory: derivations and numeric checks",
        "",
        f"*Generated by `{COMMAND}` - do not edit by hand.* Each claim of `shared/design/math.md` is derived with "
        "sympy (the steps below, rendered with `sympy.latex`) and then checked by running the dynsys kernels: "
        "the predicted figure is the derived one, the measured figure comes from the simulation.",
        "",
        "| id | paper | symbolic | numeric | predicted | measured | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [r.id, r.paper, "pass" if r.symbolic else "FAIL", "pass" if r.numeric else "FAIL",
                 _fmt(r.predicted, 60), _fmt(r.measured, 60), f"{r.seconds:.2f}"]
        out.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    for r in results:
        out += ["", f"## {r.id} ({r.paper})", "", f"**Statement.** {r.statement}", ""]
        if r.derivation is not None:
            out.append(f"**Derivation** ({'reproduces the paper' if r.derivation.passed else 'FAILS'}):")
            out.append("")
            for i, (desc, obj) in enumerate(r.derivation.steps, 1):
                out += [f"{i}. {desc}", "", "   $$" + _latex(obj).replace("\n", " ") + "$$", ""]
        out.append(f"**Numeric check** ({'pass' if r.numeric else 'FAIL'}): predicted `{_fmt(r.predicted)}`, "
                   f"measured `{_fmt(r.measured)}`.")
        if r.measurement is not None and r.measurement.detail:
            out += ["", r.measurement.detail]
        if r.error:
            out += ["", "Error: `" + r.error.splitlines()[0] + "`"]
    return "\n".join(out) + "\n"


def run(args) -> int:
    from theory.registry import run_claim

    claims = select_claims(args.only, args.paper)
    if args.markdown is not None:
        import pathlib

        parent = pathlib.Path(args.markdown).expanduser().resolve().parent
        if not parent.is_dir():
            raise ValueError(f"--markdown = {args.markdown!r}: folder {str(parent)!r} does not exist; allowed: a path in an existing folder")
    results = [run_claim(c) for c in claims]
    if args.json:
        rows = []
        for r in results:
            row = r.as_json()
            row["seconds"] = round(r.seconds, 3)
            row["detail"] = r.measurement.detail if r.measurement else ""
            row["error"] = r.error.splitlines()[0] if r.error else None
            rows.append(row)
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(_table(results))
    if args.markdown is not None:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(markdown(results))
        if not args.json:
            print(f"derivations written to {args.markdown}")
    return 0 if all(r.passed for r in results) else 1
