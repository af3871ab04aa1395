"""A Hugging Face ``transformers`` GPT-2 trained on real text with AdamW (issue 12; a new
experiment in the setting of the loss-spikes-in-Adam paper's Sec. 4.4 / Fig. 7, on a model
and optimizer the way LLM practitioners use them).

Text: the help text that ships with every CPython, ``pydoc_data.topics.topics`` (the pages
of ``help("assert")`` etc., ~465k characters; no download). The text is that of the running
Python (it changes a little between releases): the record keeps its length, SHA-256 and the
Python version. The pages are joined in sorted
key order, UTF-8 encoded and read as bytes (vocabulary 256, byte-level language model). The
byte stream is cut into non-overlapping windows of ``seq_len`` bytes; a permutation seeded by
``seed`` splits them into a training part (fraction ``train_fraction``) and a held-out part,
and the full training batch is the first ``n`` windows of the training part.

Model: ``transformers.GPT2LMHeadModel(GPT2Config(...))``, random initialization
(``GPT2Config.initializer_range = 0.02``, seeded), nothing downloaded; dropout 0 (the loss
is one deterministic function of the parameters, as the curvature predictors need), the
eager attention implementation (its double backward gives Hessian-vector products; the
fused SDPA kernels need not support it). Loss: the model's next-token cross-entropy
(the formula of ``model(input_ids, labels=input_ids).loss``, mean over the ``n (seq_len - 1)``
predicted bytes, kept in the model's dtype; ``ln 256 = 5.545`` at a uniform guess).

Optimizer: stock ``torch.optim.AdamW``, ``betas = (0.9, 0.95)``, weight decay 0.1 (the usual
LLM settings), linear warm-up over ``warmup`` steps then a constant (default) or cosine
learning rate (``schedule``), gradient-norm clipping at ``grad_clip`` (0: off). The
defaults are chosen so that the paper's mechanism makes spikes on a CPU in minutes: on the
full training batch the loss falls, the gradient fades, Adam's second moment ``v`` decays
like ``beta2^t`` (Sec. 4.4 phase 2; the fast ``beta2 = 0.95`` makes it quick), the effective
rate ``eta/sqrt(vhat)`` grows and ``lambda_max(Hhat)`` (Eq. 7) climbs through ``2/eta``;
then the loss spikes.

Sizes (``model_size``; ``n_layer``/``n_embd``/``n_head`` override):

========= ======= ======= ======= ==============================
size      n_layer n_embd  n_head  parameters (seq_len 64)
========= ======= ======= ======= ==============================
tiny      1       16      2       8,432 (tests)
default   4       144     4       1,049,184
small     6       256     8       4,820,992
gpt2      12      768     12      85,301,760 (GPT-2 small body; GPU)
========= ======= ======= ======= ==============================
"""
from __future__ import annotations

import functools
import hashlib
import math
import platform

import torch

from dynsys._validate import check_choice, check_in_range, check_int, check_nonnegative

from ._common import Experiment, resolve_device, resolve_dtype

__all__ = ["gpt2_text", "text_corpus", "text_windows", "lm_loss", "warmup_schedule", "MODEL_SIZES",
           "import_transformers"]

#: model_size -> (n_layer, n_embd, n_head)
MODEL_SIZES = {"tiny": (1, 16, 2), "default": (4, 144, 4), "small": (6, 256, 8), "gpt2": (12, 768, 12)}
SCHEDULES = ("constant", "cosine")


def import_transformers():
    """``transformers`` (optional extra ``dynsys[hf]``), or a ValueError saying how to get it."""
    try:
        import transformers
    except ImportError:
        raise ValueError("the gpt2-text experiment needs the optional dependency transformers; install it with "
                         "pip install 'dynsys[hf]'") from None
    return transformers


@functools.lru_cache(maxsize=1)
def text_corpus() -> bytes:
    """The CPython help text (``pydoc_data.topics``), pages in sorted key order, as UTF-8 bytes."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics)).encode("utf-8")


def text_windows(seq_len: int, *, seed: int = 0, train_fraction: float = 0.9):
    """All non-overlapping ``seq_len``-byte windows of :func:`text_corpus`, split by a seeded
    permutation: ``(train (N_train, seq_len) long, heldout (N_held, seq_len) long)``."""
    seq_len = check_int("seq_len", seq_len, 2)
    train_fraction = check_in_range("train_fraction", train_fraction, 0.0, 1.0, low_open=True, high_open=True)
    raw = torch.frombuffer(bytearray(text_corpus()), dtype=torch.uint8).to(torch.long)
    count = raw.numel() // seq_len
    windows = raw[: count * seq_len].reshape(count, seq_len)
    perm = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    n_train = int(round(train_fraction * count))
    return windows[perm[:n_train]], windows[perm[n_train:]]


def lm_loss(model, data):
    """Mean next-byte cross-entropy of ``GPT2LMHeadModel(input_ids).logits``:
    ``mean_{b, i < T-1} -log softmax(logits[b, i])[tokens[b, i+1]]``.

    The formula of ``model(input_ids, labels=input_ids).loss``, written out because
    transformers' ``ForCausalLMLoss`` casts the logits to float32, which would cap a float64
    run's loss (and its Hessian-vector products) at single precision.
    """
    (tokens,) = data
    logits = model(input_ids=tokens).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def warmup_schedule(warmup: int, schedule: str = "constant", min_ratio: float = 0.1):
    """``factor(t, steps)``, the learning-rate factor of step ``t`` (0-based) of a ``steps``-step
    run: ``(t+1)/warmup`` for ``t < warmup``, then 1 (``constant``) or
    ``min_ratio + (1-min_ratio) (1 + cos(pi (t-warmup)/(steps-warmup)))/2`` (``cosine``)."""
    warmup = check_int("warmup", warmup, 0)
    check_choice("schedule", schedule, SCHEDULES)
    min_ratio = check_in_range("min_ratio", min_ratio, 0.0, 1.0)

    def factor(t: int, steps: int) -> float:
        if t < warmup:
            return (t + 1) / warmup
        if schedule == "constant" or steps <= warmup:
            return 1.0
        frac = min(1.0, (t - warmup) / (steps - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * frac))

    return factor


def gpt2_text(*, model_size: str = "default", n_layer: int | None = None, n_embd: int | None = None,
              n_head: int | None = None, seq_len: int = 64, n: int = 16, train_fraction: float = 0.9,
              warmup: int = 20, schedule: str = "constant", grad_clip: float = 1.0,
              seed: int = 0, device="cpu", dtype="float32", optimizer: str = "adamw") -> Experiment:
    """GPT-2 (``transformers``) on the CPython help text, full batch of ``n`` windows of ``seq_len`` bytes.

    The cosine schedule runs over the run's steps; ``grad_clip`` the max gradient norm (0 turns clipping off). ``optimizer`` only picks the
    default hyperparameters (``adamw``: lr 3e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1).
    """
    check_choice("model_size", model_size, tuple(MODEL_SIZES))
    layers, embd, heads = MODEL_SIZES[model_size]
    layers = check_int("n_layer", n_layer if n_layer is not None else layers, 1)
    embd = check_int("n_embd", n_embd if n_embd is not None else embd, 1)
    heads = check_int("n_head", n_head if n_head is not None else heads, 1)
    if embd % heads:
        raise ValueError(f"n_embd = {embd} is not a multiple of n_head = {heads}; allowed: n_embd divisible by n_head")
    seq_len, n = check_int("seq_len", seq_len, 2), check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    warmup = check_int("warmup", warmup, 0)
    grad_clip = check_nonnegative("grad_clip", grad_clip)
    check_choice("schedule", schedule, SCHEDULES)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    tf = import_transformers()
    train_windows, held = text_windows(seq_len, seed=seed, train_fraction=train_fraction)
    if n > train_windows.shape[0]:
        raise ValueError(f"n = {n} exceeds the {train_windows.shape[0]} training windows of {seq_len} bytes; "
                         f"allowed: 1 <= n <= {train_windows.shape[0]}")
    tokens = train_windows[:n]
    config = tf.GPT2Config(vocab_size=256, n_positions=seq_len, n_embd=embd, n_layer=layers, n_head=heads,
                           resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
                           attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = tf.GPT2LMHeadModel(config)
    model.config._attn_implementation = "eager"
    model = model.to(device=dev, dtype=dt)
    model.train()  # dropout is 0: train and eval modes compute the same function
    n_parameters = sum(p.numel() for p in model.parameters())
    defaults = dict(optimizer=optimizer, lr=3e-3 if optimizer != "gd" else 0.1, steps=400, every=10,
                    beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1 if optimizer == "adamw" else 0.0,
                    rise=3.0)
    attrs = dict(experiment="gpt2-text", model="transformers.GPT2LMHeadModel", transformers_version=tf.__version__,
                 model_size=model_size, n_layer=layers, n_embd=embd, n_head=heads, seq_len=seq_len, n=n,
                 train_fraction=train_fraction, n_train_windows=int(train_windows.shape[0]),
                 n_heldout_windows=int(held.shape[0]), warmup=warmup, schedule=schedule, grad_clip=grad_clip,
                 seed=seed, dtype=str(dt).replace("torch.", ""), device=str(dev), attn_implementation="eager",
                 corpus="pydoc_data.topics (CPython help text), UTF-8 bytes, vocabulary 256",
                 corpus_bytes=len(text_corpus()), corpus_sha256=hashlib.sha256(text_corpus()).hexdigest(),
                 python_version=platform.python_version(),
                 loss="mean next-byte cross-entropy of GPT2LMHeadModel logits (= labels=input_ids loss)",
                 n_params=n_parameters, n_parameters=n_parameters,
                 paper="new experiment: the loss-spikes-in-Adam mechanism (Sec. 4.4) on a transformers GPT-2")
    return Experiment("gpt2-text", model, lm_loss, (tokens.to(dev),), defaults, attrs,
                      lr_schedule=warmup_schedule(warmup, schedule), grad_clip=grad_clip if grad_clip > 0 else None)
