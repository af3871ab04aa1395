"""Registry of the reproduced paper figures.

The figure scripts live in the repository's ``figures/`` folder (one script
per paper figure, each with a ``make(outdir, quick=False) -> list[Path]``
function); they are not part of the installed package, so this module finds
them next to the package source (``<repo>/figures``) and reports a clear error
when the package is used without its repository.

Every script also exposes ``compute(quick=False) -> dict`` (the data, with the
measured and predicted numbers under ``"numbers"``) and ``plot(data, outdir)``;
``make`` is ``plot(compute(quick), outdir)``. Quick mode uses small grids and
short runs on the same code path.

Example
-------
>>> from dynsys.figures import available, make_figures
>>> sorted(available())[:1]                                # doctest: +SKIP
['adam_spikes_fig02_lr_sweep']
>>> make_figures("out", quick=True, only=["blog_fig02_04_quadratic"])  # doctest: +SKIP
{'blog_fig02_04_quadratic': [PosixPath('out/blog_fig02_04_quadratic.png')]}
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

__all__ = ["figures_dir", "available", "load_figure", "resolve_names", "make_figures"]

_MODULE_PREFIX = "dynsys_figure_"


def figures_dir() -> Path:
    """The repository's ``figures/`` folder (``Path(__file__).parents[1] / "figures"``).

    Raises
    ------
    FileNotFoundError
        When the package runs without its repository (e.g. installed from a
        wheel): the scripts are not shipped inside the package.
    """
    path = Path(__file__).resolve().parents[1] / "figures"
    if not path.is_dir() or not any(path.glob("*.py")):
        raise FileNotFoundError(
            f"figure scripts not found at {path}: they live in the repository's figures/ folder, "
            "not in the installed package; run from a clone of the dynsys repository "
            "(pip install -e .)"
        )
    return path


def available() -> dict[str, Path]:
    """Map figure name (script stem) -> script path, for every ``figures/*.py``
    that does not start with an underscore (helpers such as ``_common.py``)."""
    folder = figures_dir()
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def load_figure(name: str) -> ModuleType:
    """Import the figure script ``name`` (see :func:`available`) and return the module.

    The ``figures/`` folder is put on ``sys.path`` so the scripts can share
    ``figures/_common.py``. Raises ``ValueError`` listing the valid names for an
    unknown one.
    """
    scripts = available()
    if name not in scripts:
        raise ValueError(f"figure = {name!r} is not valid; allowed: one of {', '.join(scripts)}")
    modname = _MODULE_PREFIX + name
    if modname in sys.modules:
        return sys.modules[modname]
    folder = str(scripts[name].parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(modname, scripts[name])
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    for attr in ("make", "compute", "plot"):
        if not callable(getattr(module, attr, None)):
            raise ValueError(f"figure script {scripts[name]} has no {attr}() function")
    return module


def resolve_names(only=None) -> list[str]:
    """The figure names selected by ``only``.

    ``only`` is None (all figures) or an iterable of names; a name may also be a
    unique prefix or a substring matching several scripts (e.g. ``"degenerate"``
    selects every figure of the degenerate-polynomials paper). A name matching
    nothing raises ``ValueError`` listing the valid names.
    """
    names = list(available())
    if only is None:
        return names
    if isinstance(only, str):
        only = [only]
    chosen: list[str] = []
    for item in only:
        item = str(item).strip()
        if item.endswith(".py"):
            item = item[:-3]
        if item in names:
            matches = [item]
        else:
            matches = [n for n in names if item and item in n]
        if not matches:
            raise ValueError(f"only = {item!r} matches no figure; allowed: one of {', '.join(names)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def make_figures(outdir, *, quick: bool = False, only=None, log=None) -> dict[str, list[Path]]:
    """Regenerate figures into ``outdir``; return ``{name: [png paths]}``.

    Parameters
    ----------
    outdir : path-like
        Folder for the PNGs (created if needed).
    quick : bool
        Small grids and short runs (CI, ``make demo``); same code path.
    only : iterable of str, optional
        Names (or substrings) of the figures to make; default all.
    log : callable, optional
        Called with one line of progress text per figure (e.g. ``print``).
    """
    names = resolve_names(only)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"outdir = {str(outdir)!r} exists and is not a folder; allowed: a folder path")
    outdir.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for name in names:
        module = load_figure(name)
        t0 = time.perf_counter()
        paths = [Path(p) for p in module.make(outdir, quick=quick)]
        written[name] = paths
        if log is not None:
            log(f"{name}: {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.1f} s)")
    return written
