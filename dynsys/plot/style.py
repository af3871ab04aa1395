"""Shared look of the reproduced paper figures (``figures/``).

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot
state, no GUI backend), written as compact PNGs at a modest dpi so that the
committed files stay small.

Conventions used by every figure script:

* measurement in solid colours, theory in black/dark dashed lines
  (:data:`THEORY`, :data:`THRESHOLD`), so "theory drawn over measurement"
  reads the same in every figure;
* the title names the paper and the figure it reproduces (:func:`new_figure`);
* :func:`save` writes ``<outdir>/<name>.png`` and returns the path.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

#: dpi of the written PNGs (full size and quick mode alike)
DPI = 100

#: keyword arguments for a theory curve (predicted slope, fixed point, boundary)
THEORY = dict(color="black", ls="--", lw=1.2)
#: keyword arguments for a stability threshold (2/eta, 38, s = 2 ...)
THRESHOLD = dict(color="tab:red", ls=":", lw=1.4)

RC = {
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "legend.fontsize": 6.5,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.1,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "image.cmap": "viridis",
}


def new_figure(title: str, ncols: int = 1, nrows: int = 1, *, width: float | None = None,
               height: float | None = None, **subplot_kw):
    """Return ``(fig, axes)`` with the shared style and a suptitle ``title``.

    Parameters
    ----------
    title : str
        Names the paper and the figure reproduced, e.g.
        ``"Adam on degenerate polynomials, Fig. 4: ..."``.
    ncols, nrows : int
        Panel grid; ``axes`` is always a flat list.
    width, height : float, optional
        Figure size in inches (default 3.6 per column, 3.0 per row).
    """
    from dynsys._validate import check_int

    check_int("ncols", ncols, 1)
    check_int("nrows", nrows, 1)
    w = width if width is not None else 3.6 * ncols
    h = height if height is not None else 3.0 * nrows + 0.35
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(w, h), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
        fig.suptitle(title, fontsize=9.5)
    # rc_context only applies to objects created inside it; keep the fonts for
    # later artists by setting them on the axes we hand out.
    flat = [ax for row in axes for ax in row]
    for ax in flat:
        ax.grid(True, alpha=RC["grid.alpha"])
        ax.tick_params(labelsize=RC["xtick.labelsize"])
    return fig, flat


def style_context():
    """``matplotlib.rc_context`` with the shared style (use around plotting calls)."""
    return matplotlib.rc_context(RC)


def styled(plot_function):
    """Decorator: run a figure's ``plot(data, outdir)`` inside :func:`style_context`,
    so titles, labels and legends created there get the shared font sizes."""
    import functools

    @functools.wraps(plot_function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return plot_function(*args, **kwargs)

    return wrapper


def panel_label(ax, text: str) -> None:
    """Write a panel label such as ``"(a)"`` in the upper-left corner of ``ax``."""
    ax.text(0.01, 0.99, text, transform=ax.transAxes, ha="left", va="top",
            fontsize=8.5, fontweight="bold")


def save(fig: Figure, outdir, name: str) -> Path:
    """Write ``fig`` to ``<outdir>/<name>.png`` (created if needed) and return the path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{name}.png"
    with matplotlib.rc_context(RC):
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
    _compact_png(path)
    return path


def _compact_png(path: Path) -> None:
    """Re-save ``path`` as a 256-colour palette PNG (about half the bytes; the
    figures use few colours, so nothing visible is lost)."""
    try:
        from PIL import Image
    except ImportError:  # Pillow ships with matplotlib; keep the RGBA file otherwise
        return
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
