"""The ``dynsys`` command: a thin layer over the public API.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable
taking the parsed namespace and returning an exit status). Bad arguments end
in one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> module (relative to this package). A module that fails to import
# because an optional dependency is missing still gets a parser that reports it.
SUBCOMMANDS = {
    "verify": "verify",
    "trajectory": "trajectory",
    "bifurcation": "bifurcation",
    "phase": "phase",
    "figures": "figures",
    "predict": "predict",
}


class UsageError(ValueError):
    """A bad command line: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse parser whose errors are one line and exit status 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from dynsys import __version__

    parser = OneLineParser(
        prog="dynsys",
        description="Optimizers as dynamical systems: compiled maps, symbolic theory, "
        "phase and orbit diagrams, and spike predictors on networks.",
    )
    parser.add_argument("--version", action="version", version=f"dynsys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, modname in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(f"dynsys.cli.{modname}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("dynsys"):
                continue  # subcommand not built yet
            p = sub.add_parser(name, help=f"(unavailable: {exc.name} is not installed)")
            p.set_defaults(func=_missing(exc.name))
            continue
        mod.register(sub)
    return parser


def _missing(pkg):
    def run(args):
        raise UsageError(f"this command needs the optional dependency {pkg!r}; install it, e.g. pip install 'dynsys[torch]'")

    return run


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"dynsys {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dynsys {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `dynsys verify --json | head`: the reader left, no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
