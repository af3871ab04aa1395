"""LLAS paper, Fig. 3.2(c, d): the lower-loss-as-sharper toy model; loss and lambda_max vs 2/eta, and the GD trajectory.

Reproduces Fig. 3.2(c, d) of "Loss spike in training neural networks"
(``loss-spike-in-training-neural-networks.txt``, math.md F1): gradient descent
with eta = 5e-3 from (x, y) = (0.5, 1e-5) on

    f(x, y) = (50 x + 200) y^2 - x + 5,     x > -4.

(c) loss and lambda_max of the Hessian against step, with 2/eta = 400: the loss
    rises while lambda_max > 2/eta and falls again once lambda_max < 2/eta;
(d) the GD trajectory on the level sets of f with the level set f = 9 (dashed),
    on which df/dx = 50 y^2 - 1 changes sign: below it x grows (sharper), above
    it x shrinks (flatter) -- the restoring move that ends the spike.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "llas_fig3_2_toy"
LR = 5e-3
X0 = (0.5, 1e-5)


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import llas
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory

    objective = llas()
    steps = 300 if quick else 600
    ds = trajectory(gd(LR), objective, list(X0), steps)
    xy = np.asarray(ds["x"].values).reshape(len(ds["step"]), -1)
    loss = ds["loss"].values
    lam_max = np.array([np.linalg.eigvalsh(objective.hessian(p))[-1] for p in xy])
    dloss = np.diff(loss)
    # linear stability: the loss grows along the sharp direction while lambda_max > 2/eta;
    # compare on the steps where the y-direction dominates the loss change (|dloss| large)
    big = np.abs(dloss) > 1e-3 * np.max(np.abs(dloss))
    unstable = lam_max[:-1] > 2.0 / LR
    agree = float(np.mean((dloss[big] > 0) == unstable[big])) if big.any() else np.nan
    grad_x = np.array([objective.grad(p)[0] for p in xy])
    level_sign_agree = float(np.mean(np.sign(grad_x) == np.sign(loss - 9.0)))
    peak = int(np.argmax(loss))
    numbers = dict(threshold=2.0 / LR, peak_step=peak, peak_loss=float(loss[peak]),
                   start_loss=float(loss[0]), final_loss=float(loss[-1]),
                   agreement_rise_vs_unstable=agree, gradx_sign_vs_level9=level_sign_agree,
                   x_at_peak=float(xy[peak, 0]), x_max=float(xy[:, 0].max()), x_final=float(xy[-1, 0]))
    return dict(step=ds["step"].values, xy=xy, loss=loss, lam_max=lam_max, numbers=numbers, quick=quick,
                objective=objective)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THRESHOLD, new_figure, save

    num = data["numbers"]
    fig, (ax_c, ax_d) = new_figure(
        "LLAS paper, Fig. 3.2(c, d): GD ($\\eta$=5e-3) on $f(x,y)=(50x+200)y^2-x+5$ from (0.5, 1e-5)",
        ncols=2, width=9.5, height=3.6)
    t = data["step"]
    ax_c.plot(t, data["loss"], color="black", label="loss $f$")
    ax_c.set_xlabel("step $t$")
    ax_c.set_ylabel("loss $f$ (log scale)")
    ax_c.set_yscale("log")
    ax_h = ax_c.twinx()
    ax_h.plot(t, data["lam_max"], color="red", lw=1.0, label="$\\lambda_{\\max}$")
    ax_h.axhline(num["threshold"], **THRESHOLD, label="$2/\\eta$ = 400")
    ax_h.set_ylabel("$\\lambda_{\\max}$ of the Hessian", color="red")
    unstable = data["lam_max"] > num["threshold"]
    ax_c.fill_between(t, 0, 1, where=unstable, transform=ax_c.get_xaxis_transform(),
                      color="red", alpha=0.08, lw=0, label="$\\lambda_{\\max} > 2/\\eta$")
    h1, l1 = ax_c.get_legend_handles_labels()
    h2, l2 = ax_h.get_legend_handles_labels()
    ax_c.legend(h1 + h2, l1 + l2, loc="upper left", framealpha=0.9)
    ax_c.set_title(f"(c) loss rises iff $\\lambda_{{\\max}}>2/\\eta$ on "
                   f"{100 * num['agreement_rise_vs_unstable']:.0f}% of the large moves")

    xy = data["xy"]
    xs = np.linspace(min(xy[:, 0].min(), 0.3) - 0.1, xy[:, 0].max() + 0.1, 160)
    ymax = max(np.abs(xy[:, 1]).max() * 1.2, 0.05)
    ys = np.linspace(-ymax, ymax, 160)
    gx, gy = np.meshgrid(xs, ys)
    f = (50 * gx + 200) * gy ** 2 - gx + 5
    cs = ax_d.contourf(gx, gy, np.log10(np.maximum(f - f.min() + 1e-3, 1e-3)), levels=20, cmap="viridis")
    ax_d.contour(gx, gy, f, levels=[9.0], colors="white", linestyles="--", linewidths=1.2)
    ax_d.plot(xy[:, 0], xy[:, 1], ".-", color="orange", ms=2, lw=0.5, label="GD trajectory")
    ax_d.plot(*xy[0], "o", color="red", ms=4, label="start")
    ax_d.plot([], [], color="white", ls="--", label="$f = 9$ ($\\partial_x f = 0$)")
    ax_d.set_xlabel("$x$ (flat direction; sharpness $100x+400$ at $y=0$)")
    ax_d.set_ylabel("$y$ (sharp direction)")
    ax_d.set_title("(d) trajectory on the loss surface")
    ax_d.legend(loc="lower left")
    fig.colorbar(cs, ax=ax_d, label="$\\log_{10}(f - \\min f)$ (shifted)")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
