"""Trainer callbacks (dynsys.nn.integrations) inside a real transformers.Trainer and a real Lightning Trainer.

Asserted: a run with the callback is bit-identical to one without (parameters, optimizer
state, the Trainer's own logged losses, the global random stream, with dropout on); every
monitor call leaves parameters, .grad, optimizer state and RNG state torch.equal; the values
read back from the TensorBoard event files equal the monitor's record; the logged
lambda_max(H) and lambda_max(Hhat) equal the top eigenvalues of the dense Hessian and of the
dense preconditioned Hessian D^{1/2} H D^{1/2}, D = (1-b1)/((1+b1)(1-b1^t)) / (sqrt(vhat)+eps)
from the optimizer's exp_avg_sq (Eq. 7 of the loss-spikes-in-Adam paper); the threshold is
2/eta of the step just taken (inf at eta = 0).
"""
import copy
import glob
import math
import random
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import dynsys.nn.integrations as integrations  # noqa: E402  (imports without the extras)

PREDICTORS = ["lambda_max_H", "lambda_max_Hhat", "lambda_grad_H", "critical_sharpness"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- shared references

def snapshot(model, optimizer):
    """Clones of everything a monitor call must not touch."""
    params = [p.detach().clone() for p in model.parameters()]
    grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    state = [{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in optimizer.state[p].items()}
             for p in model.parameters() if p in optimizer.state]
    return params, grads, state, torch.get_rng_state()


def assert_same(a, b):
    pa, ga, sa, ra = a
    pb, gb, sb, rb = b
    assert all(torch.equal(x, y) for x, y in zip(pa, pb))
    assert [g is None for g in ga] == [g is None for g in gb]
    assert all(torch.equal(x, y) for x, y in zip(ga, gb) if x is not None)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(torch.as_tensor(x[k]), torch.as_tensor(y[k]))
    assert torch.equal(ra, rb)


def check_every_call(cb, calls):
    """Wrap the callback's record so each monitor call is checked bit for bit."""
    engine = cb.engine
    original = engine.record

    def checked(step, current_batch=None, step_lrs=None):
        before = snapshot(engine.model, engine.optimizer)
        out = original(step, current_batch, step_lrs)
        assert_same(before, snapshot(engine.model, engine.optimizer))
        calls.append(step)
        return out

    engine.record = checked


def read_tensorboard(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = glob.glob(f"{logdir}/**/events.out.tfevents.*", recursive=True)
    assert files, f"no event file under {logdir}"
    out = {}
    for f in files:
        acc = EventAccumulator(f, size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return out


def dense_curvature(model, loss_of, optimizer, decayed=False):
    """(lambda_max(H), lambda_max(D^{1/2} H D^{1/2}) or None without Adam) in float64 (autograd.functional.hessian)."""
    m64 = copy.deepcopy(model).double()
    named = [(n, p) for n, p in m64.named_parameters() if p.requires_grad]
    names, shapes, sizes = [n for n, _ in named], [p.shape for _, p in named], [p.numel() for _, p in named]

    def f(theta):
        parts = dict(zip(names, (t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes))))
        return loss_of(lambda **kw: torch.func.functional_call(m64, parts, args=(), kwargs=kw))

    theta = torch.cat([p.detach().reshape(-1) for _, p in named])
    H = torch.autograd.functional.hessian(f, theta, vectorize=True)
    # a symmetric matrix (docs/nn.md: torch.func's jacrev-of-jacrev is wrong through LayerNorm weights)
    assert float((H - H.T).abs().max()) <= 1e-6 * float(H.abs().max())
    H = 0.5 * (H + H.T)
    lam_h = float(torch.linalg.eigvalsh(H)[-1])
    group = optimizer.param_groups[0]
    if "betas" not in group:
        return lam_h, None
    b1, b2 = group["betas"]
    eps = group["eps"]
    params = [p for p in model.parameters() if p.requires_grad]
    t = float(optimizer.state[params[0]]["step"])
    v = torch.cat([optimizer.state[p]["exp_avg_sq"].reshape(-1) for p in params]).double()
    d = (1 - b1) / ((1 + b1) * (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)  # Eq. 7
    S = d.sqrt()[:, None] * H * d.sqrt()[None, :]
    if decayed:  # AdamW groups with different decays: lambda_max(S + W_d) too (stability_threshold)
        wd = {id(p): float(g["weight_decay"]) for g in optimizer.param_groups for p in g["params"]}
        W = torch.cat([torch.full((p.numel(),), wd[id(p)], dtype=torch.float64) for p in params])
        return lam_h, float(torch.linalg.eigvalsh(S)[-1]), float(torch.linalg.eigvalsh(S + torch.diag(W))[-1])
    return lam_h, float(torch.linalg.eigvalsh(S)[-1])


# ----------------------------------------------------------------------------- Hugging Face

def tiny_gpt2(seed=0, dropout=0.1):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=16, n_positions=8, n_inner=16, bos_token_id=0,
                     eos_token_id=0, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                     attn_implementation="eager")
    torch.manual_seed(seed)
    return GPT2LMHeadModel(cfg)


def token_data(n=8, seed=1):
    ids = torch.randint(0, 16, (n, 8), generator=torch.Generator().manual_seed(seed))

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return {"input_ids": ids[i], "labels": ids[i]}

    return ids, Tokens()


def hf_trainer(tmp_path, model, dataset, callbacks=(), **kw):
    from transformers import Trainer, TrainingArguments

    opts = dict(output_dir=str(tmp_path / "out"), use_cpu=True, max_steps=4, per_device_train_batch_size=4,
                report_to=["tensorboard"], logging_steps=1, save_strategy="no", learning_rate=1e-2,
                lr_scheduler_type="constant", disable_tqdm=True, seed=0, dataloader_num_workers=0)
    opts.update(kw)
    return Trainer(model=model, args=TrainingArguments(**opts), train_dataset=dataset, callbacks=list(callbacks))


def own_logs(trainer):
    return [{k: v for k, v in e.items() if not k.startswith("dynsys/") and "runtime" not in k and "per_second" not in k}
            for e in trainer.state.log_history if "loss" in e or "train_loss" in e]


def global_streams():
    return torch.rand(4), random.random(), np.random.random()


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_hf_run_is_bit_identical_with_the_callback(tmp_path, monkeypatch, mode):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    ids, data = token_data()
    runs = []
    for monitored in (False, True):
        model = tiny_gpt2(dropout=0.2)  # dropout on: the monitor must not consume the random stream
        trainer = hf_trainer(tmp_path / str(monitored), model, data)
        calls = []
        if monitored:
            cb = integrations.HFTrainerCallback(every=2, probe_batch={"input_ids": ids[:4], "labels": ids[:4]},
                                                current_batch=True, mode=mode, predictors=PREDICTORS)
            cb.attach(trainer)
            check_every_call(cb, calls)
        trainer.train()
        opt = trainer.optimizer.optimizer  # accelerate's wrapper around torch.optim.AdamW
        runs.append((snapshot(model, opt), own_logs(trainer), global_streams(), calls))
    (s0, logs0, r0, _), (s1, logs1, r1, calls) = runs
    assert calls == [2, 4]
    assert_same(s0, s1)
    assert logs0 == logs1  # the Trainer's own loss/grad_norm/lr at every step, unchanged and not displaced
    assert torch.equal(r0[0], r1[0]) and r0[1:] == r1[1:]  # torch, random and numpy streams after training
    for source in ("current", "probe"):
        ds = cb.to_dataset(source)
        assert list(ds["step"].values) == [2, 4]
        assert ds.attrs["batch_source"] == source and ds.attrs["mode"] == mode
        assert not ds["nonfinite"].any()


def test_hf_logged_values_equal_dense_eigenvalues(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    tb = tmp_path / "tb"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tb))
    ids, data = token_data(n=4)  # one batch = the whole data set: the current batch is known
    probe = {"input_ids": ids[2:], "labels": ids[2:]}
    model = tiny_gpt2(dropout=0.1)
    trainer = hf_trainer(tmp_path, model, data, max_steps=4)
    cb = integrations.HFTrainerCallback(every=2, probe_batch=probe, current_batch=True, tol=1e-10,
                                        predictors=PREDICTORS, trainer=trainer)
    trainer.train()
    events = read_tensorboard(tb)
    opt = cb.engine.optimizer
    assert isinstance(opt, torch.optim.AdamW)
    for source, batch in (("probe", probe), ("current", {"input_ids": ids, "labels": ids})):
        ds = cb.to_dataset(source)
        # TensorBoard holds float32: what it read back equals the monitor's record rounded to float32
        for name in PREDICTORS + ["loss", "threshold"]:
            tag = f"train/dynsys/{source}/{name}"  # the Trainer's TensorBoard callback adds "train/"
            assert sorted(events[tag]) == [2, 4]
            for step in (2, 4):
                assert events[tag][step] == np.float32(ds[name].sel(step=step).item())
        # the last record (step 4) is at the final parameters and optimizer state: dense references (eval mode)
        lam_h, lam_hhat = dense_curvature(model.eval(), lambda f: f(**batch)["loss"], opt)
        model.train()
        assert events[f"train/dynsys/{source}/lambda_max_H"][4] == pytest.approx(lam_h, rel=1e-5)
        assert events[f"train/dynsys/{source}/lambda_max_Hhat"][4] == pytest.approx(lam_hhat, rel=1e-5)
        assert float(ds["threshold"].sel(step=4)) == pytest.approx(2 / 1e-2, rel=1e-12)  # 2/eta, AdamW wd = 0
        assert float(ds["critical_sharpness"].sel(step=4)) > 0
    # the training loss of every step is kept: train_step t-1 is the loss the Trainer logged at step t
    logged = [e["loss"] for e in trainer.state.log_history if "loss" in e and "step" in e and "train_loss" not in e]
    ds = cb.to_dataset("probe")
    assert list(ds["train_step"].values) == [0, 1, 2, 3]
    assert ds["train_loss"].values == pytest.approx(logged, rel=1e-6)
    with pytest.raises(ValueError, match="source = None is ambiguous"):
        cb.to_dataset()


def test_hf_warmup_threshold_and_log_history_without_trainer(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    ids, data = token_data(n=4)
    model = tiny_gpt2(dropout=0.0)
    cb = integrations.HFTrainerCallback(every=1, predictors=["lambda_max_H"], max_iter=3, tol=1e-12)
    # warmup: the first step is taken with eta = 0, the second with eta = 1e-2
    # with gradient accumulation (2 micro-batches of 2): the last micro-batch is measured
    trainer = hf_trainer(tmp_path, model, data, callbacks=[cb], max_steps=2, report_to=[],
                         lr_scheduler_type="constant_with_warmup", warmup_steps=1, per_device_train_batch_size=2,
                         gradient_accumulation_steps=2)
    with pytest.warns(RuntimeWarning, match="attach"):
        trainer.train()
    ds = cb.to_dataset()
    assert list(ds["step"].values) == [1, 2]
    assert math.isinf(ds["threshold"].sel(step=1)) and math.isinf(ds["threshold_directional"].sel(step=1))
    assert float(ds["threshold"].sel(step=2)) == pytest.approx(200.0, rel=1e-12)
    assert np.isfinite(ds["lambda_max_H"].values).all()
    assert (ds["n_hvp"].values <= 3).all()  # max_iter caps the Lanczos products
    rows = [e for e in trainer.state.log_history if "dynsys/current/lambda_max_H" in e]
    assert [r["step"] for r in rows] == [1, 2]
    assert [r["dynsys/current/lambda_max_H"] for r in rows] == list(ds["lambda_max_H"].values)
    # train_loss: the loss of each whole step (both micro-batches), as the Trainer logs it
    logged = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert list(ds["train_step"].values) == [0, 1]
    assert ds["train_loss"].values == pytest.approx(logged, rel=1e-6)


def test_hf_default_optimizer_with_weight_decay_has_the_exact_mixed_decay_threshold(tmp_path):
    """The Trainer's own AdamW with weight_decay > 0 has two groups (0.1 on weights, 0 on biases and
    LayerNorm): the logged threshold is 2/eta - wd_eff, wd_eff = lambda_max(S + W_d) - lambda_max(S)
    of the dense matrices (the period-doubling boundary of the linearized AdamW map)."""
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    ids, data = token_data(n=4)
    batch = {"input_ids": ids, "labels": ids}
    model = tiny_gpt2(dropout=0.0)
    cb = integrations.HFTrainerCallback(every=3, probe_batch=batch, predictors=["lambda_max_Hhat"], tol=1e-10)
    trainer = hf_trainer(tmp_path, model, data, callbacks=[cb], max_steps=3, report_to=[], weight_decay=0.1)
    with pytest.warns(RuntimeWarning, match="attach"):
        trainer.train()
    opt = cb.engine.optimizer
    assert sorted({float(g["weight_decay"]) for g in opt.param_groups}) == [0.0, 0.1]
    ds = cb.to_dataset("probe")
    _, lam_s, lam_sw = dense_curvature(model.eval(), lambda f: f(**batch)["loss"], opt, decayed=True)
    eff = lam_sw - lam_s
    assert 0.0 <= eff <= 0.099  # not the sufficient bound 2/eta - 0.1: the groups mix
    assert float(ds["effective_weight_decay"].sel(step=3)) == pytest.approx(eff, abs=1e-5 * lam_s)
    assert ds.attrs["weight_decay_groups"] in ("0.1,0.0", "0.0,0.1")
    assert float(ds["lambda_max_Hhat"].sel(step=3)) == pytest.approx(lam_s, rel=1e-6)
    assert float(ds["threshold"].sel(step=3)) == pytest.approx(2 / 1e-2 - eff, abs=1e-5 * lam_s)


def test_hf_setup_errors_are_clear(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    ids, data = token_data(n=4)
    cb = integrations.HFTrainerCallback(every=1, probe_batch={"input_ids": ids})  # no labels: no loss
    trainer = hf_trainer(tmp_path, tiny_gpt2(), data, callbacks=[cb], max_steps=1, report_to=[])
    with pytest.raises(ValueError, match="probe_batch: the model returned no 'loss'"):
        trainer.train()


# ----------------------------------------------------------------------------- Lightning

def lightning_setup(dropout=0.3):
    pl = pytest.importorskip("lightning.pytorch")

    class Regression(pl.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Dropout(dropout),
                                           torch.nn.Linear(6, 1))

        def forward(self, x):
            return self.net(x).squeeze(-1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = ((self(x) - y) ** 2).mean()
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.02)

    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(32, 3, generator=g), torch.randn(32, generator=g)
    return pl, Regression, X, Y


def lightning_fit(pl, module, X, Y, logdir, callbacks=(), max_steps=6, shuffle=True):
    from lightning.pytorch.loggers import TensorBoardLogger

    torch.manual_seed(7)  # the DataLoader's shuffling draws from the global stream
    random.seed(7)
    np.random.seed(7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=8, shuffle=shuffle)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=TensorBoardLogger(str(logdir), name="run"),
                         enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                         log_every_n_steps=1, callbacks=list(callbacks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, loader)
    return trainer


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_lightning_run_is_bit_identical_and_logs_to_tensorboard(tmp_path, mode):
    pl, Regression, X, Y = lightning_setup(dropout=0.3)
    runs = []
    for monitored in (False, True):
        module = Regression()
        calls, cbs = [], []
        if monitored:
            cb = integrations.LightningCallback(every=3, probe_batch=(X[:8], Y[:8]), current_batch=True, mode=mode)
            check_every_call(cb, calls)
            cbs = [cb]
        trainer = lightning_fit(pl, module, X, Y, tmp_path / str(monitored), cbs)
        opt = trainer.optimizers[0]
        runs.append((snapshot(module, opt), global_streams(), calls))
    (s0, r0, _), (s1, r1, calls) = runs
    assert calls == [3, 6]
    assert_same(s0, s1)
    assert torch.equal(r0[0], r1[0]) and r0[1:] == r1[1:]
    events = read_tensorboard(tmp_path / "True")
    for source in ("current", "probe"):
        ds = cb.to_dataset(source)
        assert list(ds["step"].values) == [3, 6]
        for name in ("lambda_max_H", "lambda_max_Hhat", "lambda_grad_Hhat", "critical_sharpness", "loss"):
            tag = f"dynsys/{source}/{name}"
            assert sorted(events[tag]) == [3, 6]
            for step in (3, 6):
                assert events[tag][step] == np.float32(ds[name].sel(step=step).item())
    assert "train_loss" in events  # the module's own logging still works (the monitor's calls are muted)
    assert ds.sizes["train_step"] == 6
    # the monitor's layout: netCDF round trip and the spike evaluator take it as they take a Monitor record
    import xarray as xr

    from dynsys.nn import evaluate_predictors

    ds.to_netcdf(tmp_path / "record.nc")
    with xr.open_dataset(tmp_path / "record.nc") as back:
        assert np.array_equal(back["lambda_max_Hhat"].values, ds["lambda_max_Hhat"].values)
        assert back.attrs["integration"] == "LightningCallback"
    _, reports = evaluate_predictors(ds)
    assert {"lambda_max_H", "lambda_max_Hhat", "critical_sharpness"} <= {r.name for r in reports}


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_lightning_logged_values_equal_dense_eigenvalues(tmp_path, optimizer):
    pl, Regression, X, Y = lightning_setup(dropout=0.3)

    class Module(Regression):
        def configure_optimizers(self):
            if optimizer == "adam":
                return torch.optim.Adam(self.parameters(), lr=0.02)
            return torch.optim.SGD(self.parameters(), lr=0.02, momentum=0.9, dampening=0.5)

    module = Module()
    probe = (X[:8], Y[:8])
    cb = integrations.LightningCallback(every=3, probe_batch=probe, tol=1e-10)
    trainer = lightning_fit(pl, module, X, Y, tmp_path, [cb], max_steps=6)
    events = read_tensorboard(tmp_path)
    opt = trainer.optimizers[0]
    lam_h, lam_hhat = dense_curvature(module.eval(), lambda f: ((f(x=probe[0].double()) - probe[1].double()) ** 2).mean(),
                                      opt)
    assert events["dynsys/probe/lambda_max_H"][6] == pytest.approx(lam_h, rel=1e-5)
    ds = cb.to_dataset()
    assert float(ds["lambda_max_H"].sel(step=6)) == pytest.approx(lam_h, rel=1e-5)
    assert ds.attrs["batch_source"] == "probe"
    if optimizer == "adam":
        assert events["dynsys/probe/lambda_max_Hhat"][6] == pytest.approx(lam_hhat, rel=1e-5)
        assert float(ds["threshold"].sel(step=6)) == pytest.approx(2 / 0.02, rel=1e-12)
        assert ds.attrs["optimizer"] == "Adam"
    else:  # heavy ball with dampening tau: lambda < 2 (1 + mu) / (lr (1 - tau)) (C3); no Adam predictors
        assert float(ds["threshold"].sel(step=6)) == pytest.approx(2 * 1.9 / (0.02 * 0.5), rel=1e-12)
        assert "lambda_max_Hhat" not in ds and "dynsys/probe/lambda_max_Hhat" not in events
        assert ds.attrs["optimizer"] == "SGD"


def test_lightning_threshold_uses_the_lr_of_the_step_taken(tmp_path):
    pl, Regression, X, Y = lightning_setup(dropout=0.0)

    class Warmup(Regression):
        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=0.02)
            # eta of steps 1, 2, 3 = 0, 0.01, 0.02; Lightning moves it before on_train_batch_end
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / 2, 1.0))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    cb = integrations.LightningCallback(every=1, predictors=["lambda_max_Hhat"], log=False)
    lightning_fit(pl, Warmup(), X, Y, tmp_path, [cb], max_steps=3)
    ds = cb.to_dataset()
    assert list(ds["step"].values) == [1, 2, 3]
    assert math.isinf(ds["threshold"].sel(step=1))
    assert ds["threshold"].sel(step=[2, 3]).values == pytest.approx([2 / 0.01, 2 / 0.02], rel=1e-12)
    assert np.isfinite(ds["lambda_max_Hhat"].values).all()


# ----------------------------------------------------------------------------- extras and validation

def test_package_imports_without_the_extras(monkeypatch):
    for name in ("transformers", "lightning", "lightning.pytorch"):
        monkeypatch.setitem(sys.modules, name, None)  # import of these now raises ImportError
    for name in ("dynsys.nn.integrations.hf", "dynsys.nn.integrations.lightning"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import importlib

    mod = importlib.reload(integrations)
    assert "HFTrainerCallback" in dir(mod)
    with pytest.raises(ImportError, match=r"pip install 'dynsys\[hf\]'"):
        mod.HFTrainerCallback
    with pytest.raises(ImportError, match=r"pip install 'dynsys\[lightning\]'"):
        mod.LightningCallback
    with pytest.raises(AttributeError):
        mod.NoSuchCallback


BAD = [
    (dict(every=0), "every = 0 is out of range; allowed: integer"),
    (dict(every=2.5), "every = 2.5 is not an integer"),
    (dict(current_batch=False), "nothing to measure"),
    (dict(current_batch="yes"), "current_batch = 'yes' is not a bool"),
    (dict(predictors=["lambda_max_X"]), "predictors contains 'lambda_max_X'; allowed: any of"),
    (dict(predictors=[]), "predictors = \\[\\] is empty"),
    (dict(mode="test"), "mode = 'test' is not valid; allowed: one of eval, train"),
    (dict(lr=0.0), "lr = 0.0 is out of range"),
    (dict(tol=2.0), "tol = 2.0 is out of range; allowed: 0 < tol < 1"),
    (dict(seed=-1), "seed = -1 is out of range"),
    (dict(max_iter=1), "max_iter = 1 is out of range"),
    (dict(per_block="no"), "per_block = 'no' is not a bool"),
    (dict(prefix=""), "prefix = '' is not a non-empty string"),
    (dict(loss_fn=3), "loss_fn = 3 is not callable"),
]


@pytest.mark.parametrize("kwargs, message", BAD)
def test_bad_arguments_name_argument_value_and_range(kwargs, message):
    classes = []
    try:
        classes.append(integrations.HFTrainerCallback)
    except ImportError:
        pass
    try:
        classes.append(integrations.LightningCallback)
    except ImportError:
        pass
    if not classes:
        pytest.skip("neither transformers nor lightning installed")
    for cls in classes:
        with pytest.raises(ValueError, match=message):
            cls(**kwargs)


def test_hf_probe_batch_must_be_a_mapping():
    pytest.importorskip("transformers")
    with pytest.raises(ValueError, match="probe_batch = Tensor is not a non-empty mapping"):
        integrations.HFTrainerCallback(probe_batch=torch.zeros(3))
    with pytest.raises(ValueError, match="trainer = int is not a transformers.Trainer"):
        integrations.HFTrainerCallback(trainer=3)
