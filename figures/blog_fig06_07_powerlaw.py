"""Edge-of-stability blog, Figs. 6-7: GD on the power-law fit; loss and sharpness vs 2/eta, and the gradient along v1, v2.

Reproduces Figs. 6 and 7 of "Loss spikes and the edge of stability"
(math.md E2, E3) on the power-law least-squares objective
(1/2N) sum_k (y_k - C x_k^alpha)^2 with seeded Zipf-like data
(:func:`dynsys.objectives.zipf_data`; the blog used word frequencies, so the
learning rates differ from its eta ~ 57 / 90), started at (C, alpha) = (0, -0.8):

(a) a scan over eta: the largest sharpness S(x_t) = lambda_max(Hessian) met along
    the run, relative to 2/eta, and whether the loss ever rises. The loss is
    monotone exactly while sharpness stays below 2/eta (E3); the smallest eta
    whose run crosses 2/eta is the measured edge eta_c.
(b, c) loss (log scale) and sharpness for several eta around eta_c, with the
    critical sharpness 2/eta (dashed, Fig. 6).
(d) Fig. 7: for one eta above eta_c, the gradient decomposed along the dominant
    (v1) and non-dominant (v2) eigenvectors of the local Hessian; g.v1 flips sign
    from step to step while S > 2/eta, and sharpness falls back below 2/eta.
"""
from __future__ import annotations

import numpy as np

import _common  # figures/ is on sys.path (script run, or loaded by dynsys.figures)
from dynsys.plot.style import styled as _styled

NAME = "blog_fig06_07_powerlaw"
X0 = (0.0, -0.8)


def _run(objective, eta: float, steps: int) -> dict:
    from dynsys.optimizers import gd
    from dynsys.simulate import trajectory

    ds = trajectory(gd(eta), objective, list(X0), steps)
    x = np.asarray(ds["x"].values).reshape(len(ds["step"]), -1)
    loss = ds["loss"].values
    n_ok = len(loss) if not int(ds.attrs.get("diverged", 0)) else int(np.argmax(~np.isfinite(loss))) or len(loss)
    x, loss = x[:n_ok], loss[:n_ok]
    hess = np.array([objective.hessian(xi) for xi in x])
    evals, evecs = np.linalg.eigh(hess)  # ascending
    sharp = evals[:, -1]
    v1, v2 = evecs[:, :, -1], evecs[:, :, 0]
    grad = np.array([objective.grad(xi) for xi in x])
    # fix the eigenvector sign so that the components are comparable step to step
    sgn1 = np.where(v1[:, 0] < 0, -1.0, 1.0)[:, None]
    sgn2 = np.where(v2[:, 1] < 0, -1.0, 1.0)[:, None]
    g1 = np.sum(grad * v1 * sgn1, axis=1)
    g2 = np.sum(grad * v2 * sgn2, axis=1)
    rises = np.diff(loss) > 1e-12 * np.abs(loss[:-1])
    return dict(eta=eta, step=np.arange(n_ok), loss=loss, sharp=sharp, g1=g1, g2=g2,
                diverged=bool(int(ds.attrs.get("diverged", 0))),
                max_ratio=float(np.max(sharp) * eta / 2.0), n_rises=int(rises.sum()))


def compute(quick: bool = False) -> dict:
    from dynsys.objectives import powerlaw_fit

    objective = powerlaw_fit()
    steps = 600 if quick else 2500
    # sharpness at the start sets the scale of eta (GD needs eta < 2/S there)
    s0 = float(np.linalg.eigvalsh(objective.hessian(np.array(X0)))[-1])
    probe = _run(objective, 0.2 / max(s0, 1e-12), steps)
    s_end = float(probe["sharp"][-1])
    eta_ref = 2.0 / s_end  # GD at the minimum found is stable iff eta < 2/S(x*)
    factors = np.linspace(0.5, 1.6, 8 if quick else 23)
    scan = [_run(objective, f * eta_ref, steps) for f in factors]
    crossed = np.array([r["max_ratio"] > 1.0 for r in scan])
    spiking = np.array([r["n_rises"] > 0 or r["diverged"] for r in scan])
    eta_c = float(scan[int(np.argmax(crossed))]["eta"]) if crossed.any() else np.nan
    eta_spike = float(scan[int(np.argmax(spiking))]["eta"]) if spiking.any() else np.nan
    # runs for panels (b)-(d): the last monotone one and three spiking ones, not diverged
    ok = [r for r in scan if not r["diverged"]]
    calm = [r for r in ok if r["n_rises"] == 0]
    spiky = [r for r in ok if r["n_rises"] > 0]
    show = calm[-1:] + spiky[:: max(1, len(spiky) // 3)][:3]
    fig7 = spiky[(2 * len(spiky)) // 3] if spiky else None
    numbers = dict(eta_c=eta_c, eta_spike=eta_spike, sharpness_at_minimum=s_end, eta_ref=eta_ref,
                   spiking_runs_that_crossed=float(crossed[spiking].mean()) if spiking.any() else np.nan,
                   agreement_spiking_vs_crossed=float(np.mean(crossed == spiking)),
                   n_scan=len(scan), n_crossed=int(crossed.sum()), n_spiking=int(spiking.sum()),
                   n_diverged=int(sum(r["diverged"] for r in scan)))
    if fig7 is not None:
        # linear theory along v1: g.v1 is multiplied by (1 - eta S) each step, so |g.v1|
        # grows iff S > 2/eta; compare where S is not within 2 % of the threshold
        over = fig7["sharp"][:-1] * fig7["eta"] / 2.0
        grows = np.abs(fig7["g1"][1:]) > np.abs(fig7["g1"][:-1])
        clear = np.abs(over - 1.0) > 0.02
        numbers["fig7_eta"] = fig7["eta"]
        numbers["fig7_growth_agreement"] = float(np.mean(grows[clear] == (over[clear] > 1.0)))
    return dict(scan=scan, show=show, fig7=fig7, numbers=numbers, quick=quick)


@_styled
def plot(data: dict, outdir) -> list:
    from dynsys.plot.style import THEORY, THRESHOLD, new_figure, save

    num = data["numbers"]
    fig, (ax_a, ax_b, ax_c, ax_d) = new_figure(
        "Edge-of-stability blog, Figs. 6-7: GD on the power-law fit $\\frac{1}{2N}\\sum(y_k-Cx_k^\\alpha)^2$ "
        f"(Zipf-like data); measured edge $\\eta_c$ = {num['eta_c']:.4g}", ncols=4, width=15.0, height=3.5)
    etas = np.array([r["eta"] for r in data["scan"]])
    ratio = np.array([r["max_ratio"] for r in data["scan"]])
    mono = np.array([r["n_rises"] == 0 and not r["diverged"] for r in data["scan"]])
    div = np.array([r["diverged"] for r in data["scan"]])
    ax_a.plot(etas[mono], ratio[mono], "o", color="C0", label="loss monotone")
    ax_a.plot(etas[~mono & ~div], ratio[~mono & ~div], "s", color="C3", label="loss spikes")
    if div.any():
        ax_a.plot(etas[div], ratio[div], "x", color="k", label="diverged")
    ax_a.axhline(1.0, **THRESHOLD, label="$\\max_t S(x_t) = 2/\\eta$")
    if np.isfinite(num["eta_c"]):
        ax_a.axvline(num["eta_c"], **THEORY, label="first $\\eta$ whose sharpness crosses $2/\\eta$")
    ax_a.set_xlabel("learning rate $\\eta$")
    ax_a.set_ylabel("$\\max_t S(x_t)\\,\\eta/2$")
    ax_a.set_title(f"(a) first crossing $\\eta$={num['eta_c']:.3g}, first spike $\\eta$={num['eta_spike']:.3g}")
    ax_a.legend(loc="upper left")
    for i, r in enumerate(data["show"]):
        c = f"C{i}"
        ax_b.semilogy(r["step"], r["loss"], color=c, lw=0.9, label=f"$\\eta$={r['eta']:.4g}")
        ax_c.plot(r["step"], r["sharp"], color=c, lw=0.9)
        ax_c.axhline(2 / r["eta"], color=c, ls="--", lw=1.0)
    t_show = min(len(data["show"][0]["step"]) - 1, 400) if data["show"] else None
    if data["show"]:
        tail = np.concatenate([r["sharp"][5:] for r in data["show"]] + [[2 / r["eta"] for r in data["show"]]])
        ax_c.set_ylim(0.9 * tail.min(), 1.1 * tail.max())
    for ax in (ax_b, ax_c):
        ax.set_xlim(0, t_show)
    ax_b.set_xlabel("step $t$")
    ax_b.set_ylabel("loss")
    ax_b.set_title("(b) loss (Fig. 6), first steps")
    ax_b.legend(loc="upper right")
    ax_c.set_xlabel("step $t$")
    ax_c.set_ylabel("sharpness $S(x_t)=\\lambda_{\\max}(\\nabla^2 f)$")
    ax_c.set_title("(c) sharpness; dashed: $2/\\eta$ per run")
    r = data["fig7"]
    if r is not None:
        ax_d.plot(r["step"], r["g1"], color="C3", lw=0.8, label="$\\nabla f\\cdot v_1$ (dominant)")
        ax_d.plot(r["step"], r["g2"], color="C0", lw=0.8, label="$\\nabla f\\cdot v_2$ (non-dominant)")
        ax_d.set_yscale("symlog", linthresh=1e-6)
        over = r["sharp"] > 2 / r["eta"]
        ymin, ymax = ax_d.get_ylim()
        ax_d.fill_between(r["step"], ymin, ymax, where=over, color="orange", alpha=0.25, lw=0,
                          label="$S > 2/\\eta$")
        ax_d.set_ylim(ymin, ymax)
        ax_d.set_xlim(0, min(len(r["step"]) - 1, 400))
        ax_s = ax_d.twinx()
        ax_s.plot(r["step"], r["sharp"], color="0.3", lw=0.8)
        ax_s.axhline(2 / r["eta"], color="0.3", ls="--", lw=1.0)
        ax_s.set_ylim(0.5 * np.min(r["sharp"][5:]), 1.2 * np.max(r["sharp"][5:]))
        ax_s.set_ylabel("sharpness $S$ (grey), $2/\\eta$ (grey dashed)")
        ax_d.set_title(f"(d) Fig. 7, $\\eta$={r['eta']:.4g}: $|g\\cdot v_1|$ grows iff $S>2/\\eta$ "
                       f"({100 * num['fig7_growth_agreement']:.0f}% of steps)")
    ax_d.set_xlabel("step $t$")
    ax_d.set_ylabel("gradient component")
    ax_d.legend(loc="lower right")
    return [save(fig, outdir, NAME)]


def make(outdir, quick: bool = False) -> list:
    """Compute and draw the figure; return the written PNG paths."""
    return plot(compute(quick), outdir)


if __name__ == "__main__":
    _common.main(make, __doc__)
