"""The phase scanner's compiled lanes: one optimizer run on ``c x^k / k`` per cell, 32 cells side by side.

One cell = one optimizer run on the scalar objective ``L(x) = c x^k / k`` (``c = 1`` for
``power``, ``c`` the curvature for ``quadratic`` with ``k = 2``), gradient ``g = c x^{k-1}``,
in the update order of :mod:`dynsys.optimizers` (PyTorch convention)::

    m   = b1 m + (1-b1) g                 v = b2 v + (1-b2) g^2      (adaptive only)
    x  <- x (1 - eta_t wd) - eta_t mhat / (sqrt(vhat) + eps)          (rmsprop, adam, adamw)
    x  <- x (1 - eta_t wd) - eta_t m                                  (gd: b1 = 0; momentum)

with ``eta_t = lr * lr_decay^t``, ``m_0 = v_0 = 0`` and ``mhat = m/(1-b1^{t+1})``,
``vhat = v/(1-b2^{t+1})`` under bias correction (``t`` counts updates from 0).

Scaled coordinates (no underflow)
---------------------------------
With ``eps = 0`` Adam converges linearly on ``x^k`` (math.md D5), so after 10^4-10^5 steps
``x``, ``g`` and ``v`` are far below 1e-308. Each cell therefore carries
``x = X 2^ex``, ``m = M 2^{(k-1) ex}``, ``v = V 2^ev`` with integer exponents ``ex, ev``
(``ev`` even) and mantissas ``X, M, V`` renormalized by exact power-of-two scaling
(``frexp``/``ldexp``: ``X`` to [1/2, 1), ``V`` to [1/4, 1)) at the end of a :data:`SPAN`-step
span (two :data:`BLOCK`-step windows) whenever they have drifted far from 1: ``|G| = |X|^{k-1}`` beyond ``2^(+-48)`` or ``V``
beyond ``2^(+-96)`` (:func:`_renorm_due`; the rule is per cell, so both kernels renew the same
cell's units at the same steps). In those units one step reads::

    G = c X^{k-1}
    M = b1 M + (1-b1) G
    V = b2 V + [(1-b2) 2^{2(k-1)ex - ev}] G^2
    X = X (1 - eta_t wd) - (eta_t [2^{(k-2)ex - ev/2}]) Mhat / (sqrt(Vhat) + [eps 2^{-ev/2}])

(bracketed factors are per-cell constants between renormalizations). Scaling by powers of
two is exact, so this is plain float64 arithmetic wherever plain float64 does not underflow,
and ``log10 loss = log10(c/k) + k log10|x|`` stays exact far below 1e-308. For the same
reason the statistics do not depend on *when* the units are renewed (as long as nothing
underflows or overflows in between); logarithms are formed from normalized parts
(:func:`_log2_scaled`) so that they do not either. Renewing the units only when needed (instead
of at every window end, as before 2026-11-23) leaves most span ends with nothing to do but the
exact minimum and the sustained level (:func:`_window_end_cheap`): the whole scan is about 12 %
faster, with the same outputs bit for bit except ``coupling_sum`` in the last bit. Checking the
units every second window (a :data:`SPAN` of 64 steps instead of 32, also from 2026-11-23; the
window statistics are still taken at every window end, :func:`_mid_window`) made it another 6 %
faster with the same outputs, except where a cell fails or leaves the range of a span (status and
``fail_step`` of such cells, see below).

Lanes (speed)
-------------
:func:`scan_cells` advances :data:`LANES` cells together: the lane state lives in one flat
array at compile-time-constant offsets, every value is loaded unconditionally and combined with
selects, so LLVM vectorizes the lane loop (AVX2: 4 doubles per instruction); blocks of lanes
run in parallel with ``prange``. No fastmath. The per-step arithmetic (:func:`_stats`,
:func:`_update_adaptive`, ...) and the per-block bookkeeping (:func:`_block_end`) are shared,
inlined functions, and :func:`scan_cells_reference` calls the same ones one cell at a time,
so the two kernels are bit-identical by construction (and tested), whatever the thread count.
The gradient power ``X^{k-1}`` is formed in its own passes over the lanes (a runtime trip count
inside the lane loop would stop vectorization), except for ``k = 4`` where ``(X X) X`` is
computed in the lane loop (the same products, about 1.2x faster).

The span's end (exact minimum, sustained level, renormalization, new per-span constants) is
done for all lanes at once: by :func:`_window_end_cheap` when no lane renews its units, else by
:func:`_window_end_fast`: branch-free loops, ``frexp`` / ``ldexp``
on the exponent bits, no per-lane condition on a stored value (LLVM turns ``S[i] = new if c else
S[i]`` into masked loads and stores, which are slow on AMD processors). A lane with anything
unusual (a zero, subnormal or non-finite value, an exponent out of range, a failure) sends the
block through :func:`_window_end_general`, i.e. :func:`_block_end` lane by lane, which is also what
the scalar reference uses; the fast version gives the same bits whenever it applies.

Exact shortcuts (each gives the same floating-point values as the plain form):

* *fast path* (:func:`_lane_fast`): for adaptive optimizers with ``lr_decay = 1`` and
  ``wd = 0`` in every lane of a block, ``eta_t = lr`` and ``x (1 - eta wd) = x`` exactly, so the
  step uses the per-span constant ``eta sfx`` and skips the per-step failure bookkeeping; a
  failure (some ``|x_{t+1}| >= 2^500``, inf or NaN, which a zero denominator always produces in
  the same step) is seen at the window's end (``BMAX`` or ``X``) and the window is then rerun
  from a copy of its start with the tracking lane functions, which find the exact step;
* ``G`` is stored only at a window's last step (only the coupling sample reads it);
* :func:`_frexp` / :func:`_ldexp` read and build the exponent bits of normal numbers instead
  of calling the C library (``x * 2^n`` with an exact power is one IEEE rounding, the same as
  ``ldexp``); zero, subnormal, inf, NaN and out-of-range exponents take the library call;
* compiled variants of the fast window (:func:`_steps_fast_variant`) for curvature 1 and for
  ``eps = 0`` in a whole block skip ``G * 1.0`` and ``sqrt(v) + 0.0`` (``v >= +0``, never -0).

Per-cell statistics (outputs)
-----------------------------
* ``min_log2x``, ``min_step``: ``log2 min_t |x_t|`` over ``t = 0..steps`` and the first step
  where it is reached (the loss is monotone in ``|x|`` for even ``k``);
* ``final_log2x``: ``log2 |x_steps|`` (``+inf`` after an overflow, ``-inf`` for ``x = 0``);
* ``sustained_log2x``: ``min`` over the consecutive :data:`BLOCK`-step windows of
  ``log2 max_{t in window} |x_t|``: the lowest level the loss *stays* below for a whole window
  (an oscillation that touches 0 by chance does not lower it); the minimum is taken exactly on
  (mantissa, exponent) pairs and its ``log2`` formed once at the end;
* ``n_spikes``: completed spikes. A spike starts when the loss exceeds ``spike_factor`` times
  its running minimum and is counted when the loss has fallen back by ``spike_factor`` from
  the spike's peak (in ``|x|`` the factor is ``spike_factor^{1/k}``); the state is the peak
  itself (``> 0`` inside a spike, ``0`` outside);
* ``coupling_sum``, ``coupling_n``: sum and count of ``log2 C_t``, ``C_t = v_t / g_t^2`` (the
  coupling ratio of Appendix E, math.md D13), sampled at the last step of every window that
  ends at or after step ``coupling_start``;
* ``status`` (codes of :mod:`dynsys.kernels.status`), ``fail_step`` (-1 if none).

Range of one span
-----------------
Within a span the units are fixed, so ``|x|`` may grow by at least about
``2^((1023-96)/(2(k-1)))`` (``2^154`` for ``k = 4``; up to ``2^(1023/(2(k-1)))`` when the
units were just renewed) before ``v = O(g^2)`` overflows in those units. Regime II cells do
exactly that: after converging to, say, a loss of 1e-478 the loss jumps back to about
``eta^k`` within a few steps. With ``v = inf`` the update would be 0 and ``x`` would freeze (the
kernels before 2026-11-23 did that silently); now the cell stops with status 8 (``SCAN_RANGE``,
at the span's last step), keeps its minimum, and the classifier labels it II (or III without
an exponential phase before). A larger jump (``|x| >= 2^500`` or ``g`` overflowing in the span's
units) used to be reported as a state overflow (diverged) even when the loss itself was far
below 1e301; it is now status 8 too, and a state overflow only when the loss at ``|x| = 2^500``
would exceed ``2^MAX_LOG2_LOSS``. Since 2026-12-06 such a cell is then run again from the start
with its units renewed after every step (:func:`dynsys.scan.lanes.cell.run_cell` with ``careful``,
by the lane kernel and the scalar reference alike), and a step that leaves float64 even in those
units is redone in fresh ones (:func:`dynsys.scan.lanes.cell._wide_step`, powers of two kept as
integers): that follows a jump of any size per step (``2^1074`` in one step for ``b1 = b2 = 0.0225``,
``k = 4``) to the end of the run. Status 8 is left only to an update ``lr mhat/(sqrt(vhat)+eps)``
that overflows by itself. An adaptive cell whose first run reports a state overflow is run again
carefully as well, and the careful run kept when it ends well (the first run also reports one when
a per-span factor, not ``x``, overflows in a giant spike). ``dynsys trajectory`` (log-space
coordinates) follows every cell.

Modules
-------
* :mod:`dynsys.scan.lanes.arithmetic`: constants, the flat lane-state layout, one optimizer step
  per lane (:func:`_stats`, :func:`_update_adaptive`, ...) and the window loops;
* :mod:`dynsys.scan.lanes.span_ends`: the span ends and statistics (exact minimum, sustained
  level, coupling samples, renormalization: :func:`_block_end`, :func:`_window_end_cheap`,
  :func:`_window_end_fast`, ...) and the cell outputs (:func:`_finish`);
* :mod:`dynsys.scan.lanes.drivers`: :func:`scan_cells` (parallel lane kernel), its block runner
  and :func:`scan_cells_reference` (scalar reference);
* :mod:`dynsys.scan.lanes.cell`: one cell as one scalar function (the scalar reference's body and
  the CUDA device code).

The functions are inlined across these files, but numba's ``cache=True`` keys the cache of a
compiled function on its own file only: after editing ``arithmetic.py``, ``span_ends.py`` or ``cell.py``,
delete ``dynsys/scan/lanes/__pycache__`` (or the ``NUMBA_CACHE_DIR``) so that the kernels are
recompiled.
"""
from dynsys.scan.lanes.arithmetic import BLOCK, LANES, MAX_LOG2_LOSS, OUTPUTS, SPAN
from dynsys.scan.lanes.drivers import scan_cells, scan_cells_reference

__all__ = ["LANES", "BLOCK", "SPAN", "scan_cells", "scan_cells_reference", "MAX_LOG2_LOSS", "OUTPUTS"]
