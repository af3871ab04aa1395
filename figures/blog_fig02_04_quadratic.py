"""Edge-of-stability blog, Figs. 2 and 4: GD on 1-D and 2-D quadratics around eta = 2/lambda_max.

Reproduces Figs. 2 and 4 of "Loss spikes and the edge of stability"
(``loss-spikes-edge-of-stability-blog.txt``, math.md E1):

(a) GD iterates on the 1-D parabola f = S x^2/2 (S = 1) for eta below, near and
    above 2/S; (b) their loss on a log scale with the exact theory
    f_t = f_0 (1 - S eta)^(2t) (dashed);
(c) GD trajectories on the level sets of the 2-D quadratic diag(4, 1) for eta
    approaching and crossing 2/lambda_max = 0.5; (d) their loss with the exact
    theory f_t = sum_i lambda_i x_i0^2 (1 - eta lambda_i)^(2t) / 2 (dashed).

Convergence holds exactly when eta < 2/lambda_max.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "blog_fig02_04_quadratic"
S = 1.0
ETAS_1D = (0.5, 1.2, 1.9, 2.05)
LAMBDAS_2D = (4.0, 1.0)
X0_2D = (0.9, 1.6)
ETAS_2D = (0.2, 0.4, 0.49, 0.51)


def _theory_loss(lambdas, x0, eta, steps):
    t = np.arange(steps + 1)[:, None]
    lam = np.asarray(lambdas)[None, :]
    return 0.5 * np.sum(lam * np.asarray(x0)[None, :] ** 2 * (1 - eta * lam) ** (2 * t), axis=1)


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import quadratic
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory

    steps1, steps2 = 15, (25 if quick else 40)
    runs1, runs2 = [], []
    for eta in ETAS_1D:
        ds = trajectory(gd(eta), quadratic(np.array([S])), [1.0], steps1)
        runs1.append(dict(eta=eta, x=np.ravel(ds["x"].values), loss=ds["loss"].values,
                          theory=_theory_loss([S], [1.0], eta, steps1),
                          diverged=bool(ds.attrs.get("diverged", 0))))
    for eta in ETAS_2D:
        ds = trajectory(gd(eta), quadratic(np.array(LAMBDAS_2D)), list(X0_2D), steps2)
        x = np.asarray(ds["x"].values).reshape(len(ds["step"]), -1)
        runs2.append(dict(eta=eta, x=x, loss=ds["loss"].values,
                          theory=_theory_loss(LAMBDAS_2D, X0_2D, eta, steps2)))
    rel_err = max(float(np.max(np.abs(r["loss"] - r["theory"]) / np.maximum(r["theory"], 1e-300)))
                  for r in runs1 + runs2)
    converged = {f"1d eta={r['eta']:g}": bool(r["loss"][-1] < r["loss"][0]) for r in runs1}
    converged.update({f"2d eta={r['eta']:g}": bool(r["loss"][-1] < r["loss"][0]) for r in runs2})
    numbers = dict(max_rel_err_vs_exact=rel_err, converged=converged,
                   eta_crit_1d=2.0 / S, eta_crit_2d=2.0 / max(LAMBDAS_2D))
    return dict(runs1=runs1, runs2=runs2, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, new_figure, save

    fig, (ax_a, ax_b, ax_c, ax_d) = new_figure(
        "Edge-of-stability blog, Figs. 2 and 4: gradient descent on quadratics; "
        "converges iff $\\eta < 2/\\lambda_{\\max}$", ncols=4, width=14.0, height=3.4)
    xs = np.linspace(-2.2, 2.2, 200)
    ax_a.plot(xs, 0.5 * S * xs ** 2, color="0.6", lw=1.0)
    for i, r in enumerate(data["runs1"]):
        c = f"C{i}"
        xx = np.clip(r["x"], -2.2, 2.2)
        ax_a.plot(xx, 0.5 * S * xx ** 2, "o-", color=c, ms=2.5, lw=0.6,
                  label=f"$\\eta$={r['eta']:g} ($S\\eta$={S * r['eta']:g})")
        t = np.arange(len(r["loss"]))
        ax_b.semilogy(t, r["loss"], "o", color=c, ms=3, label=f"$\\eta$={r['eta']:g}")
        ax_b.semilogy(t, r["theory"], color=c, **{k: v for k, v in THEORY.items() if k != "color"})
    ax_a.set_xlabel("$x$")
    ax_a.set_ylabel("$f(x) = Sx^2/2$")
    ax_a.set_title(f"(a) 1-D, $S$={S:g}: iterates ($\\eta_{{crit}}$ = {2 / S:g})")
    ax_a.legend(loc="upper center")
    ax_b.set_xlabel("step $t$")
    ax_b.set_ylabel("loss")
    ax_b.set_title("(b) loss; dashed: $f_0(1-S\\eta)^{2t}$")
    ax_b.legend(loc="lower left")

    lam1, lam2 = LAMBDAS_2D
    g1, g2 = np.meshgrid(np.linspace(-2, 2, 120), np.linspace(-2, 2, 120))
    ax_c.contour(g1, g2, 0.5 * (lam1 * g1 ** 2 + lam2 * g2 ** 2), levels=12, colors="0.7", linewidths=0.6)
    for i, r in enumerate(data["runs2"]):
        c = f"C{i}"
        x = np.clip(r["x"], -2, 2)
        ax_c.plot(x[:, 0], x[:, 1], "o-", color=c, ms=2, lw=0.6, label=f"$\\eta$={r['eta']:g}")
        t = np.arange(len(r["loss"]))
        ax_d.semilogy(t, r["loss"], "o", color=c, ms=2.5, label=f"$\\eta$={r['eta']:g}")
        ax_d.semilogy(t, r["theory"], color=c, **{k: v for k, v in THEORY.items() if k != "color"})
    ax_c.set_xlabel("$x_1$ (sharp, $\\lambda_1$=%g)" % lam1)
    ax_c.set_ylabel("$x_2$ (flat, $\\lambda_2$=%g)" % lam2)
    ax_c.set_aspect("equal")
    ax_c.set_title(f"(c) 2-D: $\\eta_{{crit}} = 2/\\lambda_{{\\max}}$ = {2 / lam1:g}")
    ax_c.legend(loc="upper right")
    ax_d.set_xlabel("step $t$")
    ax_d.set_ylabel("loss")
    ax_d.set_title("(d) loss; dashed: exact $\\sum_i\\lambda_i x_{i0}^2(1-\\eta\\lambda_i)^{2t}/2$")
    ax_d.legend(loc="lower left")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
