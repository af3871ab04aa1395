"""gpt2-text (issue 12): a transformers GPT-2 on the CPython help text under AdamW with warm-up.

Hessian-vector products through GPT2LMHeadModel's eager attention against finite differences
and a dense Hessian; the byte corpus and its seeded split; the warm-up/cosine schedule and
gradient clipping of the training loop; the ``dynsys predict --experiment gpt2-text`` record
against an independent replay with torch's own LambdaLR scheduler and clip_grad_norm_."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
xr = pytest.importorskip("xarray")

from dynsys.cli import main  # noqa: E402
from dynsys.nn import get_experiment, hessian_lambda_max  # noqa: E402
from dynsys.nn.experiments import build_optimizer, run_experiment, train  # noqa: E402
from dynsys.nn.experiments.gpt2_text import text_corpus, text_windows, warmup_schedule  # noqa: E402
from dynsys.nn.hvp import make_hvp  # noqa: E402
from dynsys.nn.params import flatten, parameter_layout, unflatten  # noqa: E402

#: ~1.3k parameters: small enough for a dense Hessian
MICRO = dict(model_size="tiny", n_embd=4, n_head=1, seq_len=6, n=2, dtype="float64")


def _loss_of_flat(exp):
    layout = parameter_layout(exp.model)
    names = list(layout.names)

    def f(flat):
        pd = dict(zip(names, unflatten(flat, layout)))
        tokens = exp.data[0]  # the loss as transformers users write it (labels=...), here in float64 throughout
        logits = torch.func.functional_call(exp.model, pd, (), {"input_ids": tokens}).logits
        return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())

    return f, layout


def test_corpus_is_the_cpython_help_text_split_by_a_seeded_permutation():
    from pydoc_data.topics import topics

    raw = text_corpus()
    assert raw.startswith(topics[sorted(topics)[0]][:40].encode())
    assert len(raw) > 400_000
    import hashlib

    exp = get_experiment("gpt2-text", **MICRO)
    assert exp.attrs["corpus_bytes"] == len(raw)
    assert exp.attrs["corpus_sha256"] == hashlib.sha256(raw).hexdigest()
    train_a, held_a = text_windows(64, seed=1)
    train_b, held_b = text_windows(64, seed=1)
    train_c, _ = text_windows(64, seed=2)
    assert torch.equal(train_a, train_b) and torch.equal(held_a, held_b)
    assert not torch.equal(train_a[:16], train_c[:16])
    count = len(raw) // 64
    assert train_a.shape[0] + held_a.shape[0] == count and train_a.shape[0] == round(0.9 * count)
    # the two parts together are exactly the corpus's windows, each once
    all_windows = torch.frombuffer(bytearray(raw[: count * 64]), dtype=torch.uint8).long().reshape(count, 64)
    both = torch.cat([train_a, held_a])
    key = lambda w: sorted(bytes(r.tolist()) for r in w)  # noqa: E731
    assert key(both) == key(all_windows)


def test_default_model_is_a_transformers_gpt2_with_over_a_million_parameters():
    import transformers

    exp = get_experiment("gpt2-text")
    assert isinstance(exp.model, transformers.GPT2LMHeadModel)
    assert exp.model.config._attn_implementation == "eager"
    assert exp.attrs["n_parameters"] == sum(p.numel() for p in exp.model.parameters()) >= 1_000_000
    assert exp.data[0].shape == (16, 64) and exp.data[0].max() < 256
    # random init (std 0.02): logits near zero, the loss near the uniform guess ln 256
    assert abs(exp.loss() - math.log(256)) < 0.3
    tokens = exp.data[0]
    with torch.no_grad():  # our loss is transformers' own labels= loss (which it computes in float32)
        assert exp.loss() == pytest.approx(float(exp.model(input_ids=tokens, labels=tokens).loss), rel=1e-6)
    assert exp.defaults["beta2"] == 0.95 and exp.defaults["weight_decay"] == 0.1
    big = get_experiment("gpt2-text", model_size="small", seq_len=16)
    assert big.attrs["n_parameters"] > 4 * exp.attrs["n_parameters"]


def test_hvp_through_gpt2_matches_finite_differences_and_the_dense_hessian():
    """Double backward through GPT2LMHeadModel (eager attention): H v equals a central
    difference of gradients (O(h^2), 1e-6 relative) and the dense Hessian of
    torch.autograd.functional.hessian (1e-10); Lanczos lambda_max(H) equals eigvalsh (1e-8)."""
    exp = get_experiment("gpt2-text", **MICRO, seed=5)
    f, layout = _loss_of_flat(exp)
    theta = flatten([p.detach() for p in layout.params])
    hvp = make_hvp(exp.model, exp.loss_fn, exp.data, layout=layout)
    v = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    v = v / torch.linalg.vector_norm(v)
    hv = hvp(v)

    def grad_at(x):
        x = x.clone().requires_grad_(True)
        return torch.autograd.grad(f(x), x)[0]

    h = 1e-4
    fd = (grad_at(theta + h * v) - grad_at(theta - h * v)) / (2 * h)
    assert float(torch.linalg.vector_norm(hv - fd) / torch.linalg.vector_norm(hv)) < 1e-6
    H = torch.autograd.functional.hessian(f, theta)
    assert float(torch.linalg.vector_norm(hv - H @ v) / torch.linalg.vector_norm(hv)) < 1e-10
    want = float(torch.linalg.eigvalsh(0.5 * (H + H.T))[-1])
    got = hessian_lambda_max(exp.model, exp.loss_fn, exp.data, tol=1e-10)
    assert got.value == pytest.approx(want, rel=1e-8)


def test_warmup_cosine_schedule_and_gradient_clipping_in_the_training_loop():
    """train() sets lr_t = lr * factor(t) before step t (linear warm-up, then cosine to
    min_ratio) and clips the gradient norm: the gradient the optimizer steps with has norm
    grad_clip when the raw gradient is longer."""
    f = warmup_schedule(4, "cosine", 0.1)
    assert [f(t, 12) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4, 12) == 1.0 and f(8, 12) == pytest.approx(0.55) and f(12, 12) == pytest.approx(0.1)
    assert warmup_schedule(3, "constant")(50, 60) == 1.0
    exp = get_experiment("gpt2-text", **MICRO, warmup=4, schedule="cosine", grad_clip=1e-3)
    opt = build_optimizer(exp.model, "adamw", 0.01, beta1=0.9, beta2=0.95, weight_decay=0.1)
    seen = []

    class Spy:
        def before_step(self, step, optimizer):
            seen.append(optimizer.param_groups[0]["lr"])
            if step == 0:
                norm = torch.linalg.vector_norm(flatten([p.grad for p in exp.model.parameters()]))
                seen_norm.append(float(norm))

    seen_norm = []
    train(exp, opt, 12, interventions=[Spy()])
    np.testing.assert_allclose(seen, [0.01 * f(t, 12) for t in range(12)], rtol=1e-15)
    assert seen_norm[0] == pytest.approx(1e-3, rel=1e-5)  # torch scales by clip/(|g| + 1e-6)
    with pytest.raises(ValueError, match="schedule"):
        get_experiment("gpt2-text", **MICRO, schedule="linear")
    with pytest.raises(ValueError, match="n_embd"):
        get_experiment("gpt2-text", **dict(MICRO, n_embd=5, n_head=2))
    with pytest.raises(ValueError, match="n = 100000"):
        get_experiment("gpt2-text", **dict(MICRO, n=100000))


def test_cli_gpt2_text_record_matches_a_replay_with_torch_scheduler_and_clipping(tmp_path, capsys):
    """``dynsys predict --experiment gpt2-text`` (tiny model, float64, 8 steps, warm-up 3,
    clip 0.05): the record holds the contract variables and n_parameters; loss, lambda_max(H)
    and lambda_max(Hhat) at step 8 equal a replay that uses torch.optim.lr_scheduler.LambdaLR and
    torch.nn.utils.clip_grad_norm_ with dense references (1e-6); the threshold is 2/eta_t - wd
    with eta_t the scheduled rate (C3)."""
    out = tmp_path / "g.nc"
    argv = ["predict", "--experiment", "gpt2-text", "--model-size", "tiny", "--dtype", "float64", "--steps", "8",
            "--every", "4", "--lr", "0.01", "--set", "n_embd=4", "--set", "n_head=1", "--set", "seq_len=6",
            "--set", "n=2", "--set", "warmup=3", "--set", "grad_clip=0.05", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("gpt2-text: ") and "AdamW" in text
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    for v in ("loss", "lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "lambda_grad_Hhat", "critical_sharpness",
              "threshold"):
        assert v in ds and np.all(np.isfinite(ds[v].values)), v
    np.testing.assert_array_equal(ds["step"].values, [4, 8])
    assert ds.attrs["optimizer"] == "AdamW" and ds.attrs["beta2"] == 0.95 and ds.attrs["weight_decay"] == 0.1
    assert ds.attrs["experiment"] == "gpt2-text" and "--model-size tiny" in ds.attrs["command"]
    assert ds.attrs["n_parameters"] == ds.attrs["n_params"] == sum(
        p.numel() for p in get_experiment("gpt2-text", **MICRO).model.parameters())
    np.testing.assert_allclose(ds["threshold"].values, 2 / 0.01 - 0.1, rtol=1e-12)  # warm-up over at step 3

    exp = get_experiment("gpt2-text", **MICRO, seed=0)
    opt = torch.optim.AdamW(exp.model.parameters(), lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                            foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 3))
    for _ in range(8):
        opt.zero_grad()
        exp.loss_fn(exp.model, exp.data).backward()
        torch.nn.utils.clip_grad_norm_(exp.model.parameters(), 0.05)
        opt.step()
        sched.step()
    assert float(ds["loss"].values[-1]) == pytest.approx(exp.loss(), rel=1e-10)
    f, layout = _loss_of_flat(exp)
    H = torch.autograd.functional.hessian(f, flatten([p.detach() for p in layout.params]))
    H = 0.5 * (H + H.T)
    assert float(ds["lambda_max_H"].values[-1]) == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-6)
    d = []
    for p in layout.params:
        st = opt.state[p]
        t = float(st["step"])
        d.append(0.1 / (1.9 * (1 - 0.9 ** t)) / ((st["exp_avg_sq"].reshape(-1) / (1 - 0.95 ** t)).sqrt() + 1e-8))
    s = torch.cat(d).sqrt()
    S = s[:, None] * H * s[None, :]
    assert float(ds["lambda_max_Hhat"].values[-1]) == pytest.approx(float(torch.linalg.eigvalsh(S)[-1]), rel=1e-6)


def test_gpt2_text_bad_settings_exit_2_with_one_line(tmp_path, capsys):
    for argv, match in ((["--model-size", "huge"], "huge"), (["--set", "n_head=5"], "n_head"),
                        (["--model-size", "tiny", "--experiment", "fnn-sin"], "--model-size")):
        base = ["predict", "--experiment", "gpt2-text", "--steps", "2", "--out", str(tmp_path / "x.nc"), "--quiet"]
        try:
            rc = main(base + argv)
        except SystemExit as exc:
            rc = exc.code
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and match in err and "Traceback" not in err, err


def test_without_transformers_the_experiment_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    import dynsys.nn.experiments  # noqa: F401  (the registry imports without transformers)

    with pytest.raises(ValueError, match=r"dynsys\[hf\]"):
        get_experiment("gpt2-text", **MICRO)


def test_spike_mechanism_figure_quick_mode(tmp_path):
    """figures/gpt2_text_spike_mechanism.py in quick mode (tiny GPT-2, 240 AdamW steps): a loss
    spike (> 10x) comes out of phase 2, where ||sqrt(vhat)||^2 decays at beta2 per step (within
    2 %, Sec. 4.4), lambda_max(H) stays below a third of GD's 2/eta, and lambda_max(Hhat) is at or
    above 2/eta - wd at the onset record; the theory's forecast from the last phase-2 record
    falls before the onset by at most 10 % of the run."""
    from dynsys.figures import load_figure

    fig = load_figure("gpt2_text_spike_mechanism")
    data = fig.compute(quick=True)
    paths = fig.plot(data, tmp_path)
    assert paths[0].exists() and paths[0].stat().st_size > 5_000
    num = data["numbers"]
    assert len(num["onsets"]) >= 1 and num["factors"][0] > 10
    assert num["v_decay_rates"][0] == pytest.approx(num["beta2"], rel=0.02)
    assert num["lambda_max_H_max_before_first_onset"] < (2 / num["lr"]) / 3
    onset = num["onsets"][0]
    step = data["step"]
    near = (step >= onset - 5) & (step <= onset + 5)
    assert np.max(data["lam_hat"][near] - data["threshold"][near]) >= 0
    assert 0 <= onset - num["forecast_last"][0] <= 24
