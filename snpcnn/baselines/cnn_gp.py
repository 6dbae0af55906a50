"""CNN-GP: the infinite-width limit of a convolutional network, as a kernel model with REML.

A convolutional network whose layers are made infinitely wide (infinitely many filters and
hidden units, weights drawn i.i.d. Gaussian) is a Gaussian process over functions of the
genotypes (Neal 1996; Novak et al. 2019, "Bayesian deep convolutional networks with many
channels are Gaussian processes").  Its covariance, the CNN-GP kernel, is computed here
exactly, layer by layer, for the architecture

    input (SNPs, standardised on the training rows)
    -> Conv1D(filters -> inf, kernel = stride = ``width``, activation)   one response per window
    -> flatten -> Dense(units -> inf, ReLU) x ``depth``                   ``depth`` in ``depths``
    -> Dense(1)

with weight variance ``1 / fan-in`` (``2 / fan-in`` for ReLU layers, He scaling) and bias
variance ``bias``:

* window layer: the pre-activations of window ``w`` have covariance ``k_w(x, x') =
  x_w . x'_w / width + bias``; the activation maps it to ``E[phi(u) phi(u')]``: for ReLU the
  arc-cosine kernel of order 1 (Cho and Saul 2009), ``sqrt(k k') J(theta) / pi`` with
  ``J = sin theta + (pi - theta) cos theta`` and ``cos theta = k(x, x') / sqrt(k k')``; for ``square`` (the activation of the default
  CNN's convolution) ``2 k_w(x, x')^2 + k_w(x, x) k_w(x', x')``.  The readout weighs each
  window separately (flatten), so the layer's kernel is the mean over windows.
* each dense ReLU layer applies the arc-cosine map to the previous kernel plus ``bias``.

The network is never trained: prediction is GP regression (BLUP) with this kernel, ``y = F b
+ g + e``, ``g ~ N(0, sigma_g2 K)``, variance components by REML on the training rows exactly
as for GBLUP and RKHS, and the depth chosen among ``depths`` by the REML likelihood (as RKHS
chooses its bandwidth).  It is deterministic: no seeds, no early stopping, no learning rate.
Only the training rows enter (standardisation, REML, the depth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines._common import (
    Baseline,
    _as_matrix,
    _check_polymorphic,
    _n_rows,
    _targets_and_design,
    _training_data,
)
from snpcnn.baselines.kernels_at_scale import LANDMARKS, NystromMixin
from snpcnn.baselines.reml import _best_kernel, _reml_bounds, _store_reml
from snpcnn.errors import InputError

ACTIVATIONS = ("relu", "square")


#: most distinct values a column may hold for :meth:`CNNGP.train_codes` (int8 codes)
MAX_CODES = 16


def _distinct_codes(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``Z`` (rows x columns) as int8 codes and a per-column table of its distinct values
    (increasing; code ``k - 1`` for the ``k``-th, unused entries 0), or None where a column
    holds more than :data:`MAX_CODES` distinct values.  Exact: every code maps back to the
    very float in ``Z``.  One pass over ``Z`` per distinct value (a float and a boolean
    temporary of its size each), beside the int8 codes."""
    n, m = Z.shape
    table = np.zeros((m, MAX_CODES), dtype=Z.dtype)
    codes = np.full((n, m), -1, dtype=np.int8)
    prev = np.full(m, -np.inf, dtype=Z.dtype)
    for k in range(MAX_CODES + 1):
        nxt = np.where(Z > prev, Z, np.inf).min(axis=0)  # the next distinct value up
        left = np.isfinite(nxt)  # columns with values not yet coded
        if not left.any():
            return codes, table[:, : max(k, 2)]
        if k == MAX_CODES:
            return None
        table[left, k] = nxt[left]
        codes[Z == nxt] = k - 1
        prev = np.where(left, nxt, prev)
    return None


def _standardised(Xb: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``(Xb - mean) / sd`` as float32, computed in place in the float64 block ``Xb`` (the
    in-memory fit's operations, so the same values bit for bit)."""
    Xb -= mean
    Xb /= sd
    return Xb.astype(np.float32)


def _is_streamed(X: Any) -> bool:
    """Streamed rows (:class:`snpcnn.datapath.EncodedRows`): read in column blocks."""
    return not isinstance(X, np.ndarray) and hasattr(X, "column_blocks")


def _arccos(k12: np.ndarray, k11: np.ndarray, k22: np.ndarray) -> np.ndarray:
    """``2 E[relu(u) relu(u')]`` for centred Gaussians with variances ``k11``, ``k22`` (rows,
    columns) and covariance ``k12``: the arc-cosine kernel of order 1, i.e. a ReLU layer with
    He-scaled weights (variance 2 / fan-in), which keeps the diagonal: ``_arccos(k, k, k) =
    k``."""
    norm = np.sqrt(np.outer(k11, k22))
    cos = np.clip(k12 / np.maximum(norm, 1e-300), -1.0, 1.0)
    theta = np.arccos(cos)
    return norm * (np.sin(theta) + (np.pi - theta) * cos) / np.pi


#: elements of one row block's covariance map (float32): small enough that the chain of
#: element-wise operations on it stays in the CPU's L2 cache
_BLOCK_ELEMENTS = 1 << 16


class _Buffers:
    """The reusable float32 work arrays of one row block (no allocation per window)."""

    def __init__(self, rows: int, cols: int) -> None:
        self.k = np.empty((rows, cols), dtype=np.float32)
        self.norm = np.empty((rows, cols), dtype=np.float32)
        self.theta = np.empty((rows, cols), dtype=np.float32)
        self.sin = np.empty((rows, cols), dtype=np.float32)

    def view(self, rows: int) -> tuple[np.ndarray, ...]:
        return self.k[:rows], self.norm[:rows], self.theta[:rows], self.sin[:rows]


def _self_cov(a: np.ndarray, bias32: np.float32) -> np.ndarray:
    """The window's pre-activation variance of each row of ``a`` (float32)."""
    return np.einsum("ij,ij->i", a, a) / np.float32(a.shape[1]) + bias32


def _window_map(
    a: np.ndarray,
    b: np.ndarray,
    kbb: np.ndarray,
    activation: str,
    bias32: np.float32,
    buf: _Buffers,
) -> tuple[np.ndarray, np.ndarray]:
    """One window's covariance map between the rows ``a`` and ``b`` (float32, that window's
    columns only; ``kbb`` = :func:`_self_cov` of ``b``), written into ``buf``, and the
    activation's diagonal for the rows of ``a``.

    The same float32 operations, in the same order, as the plain formula (``_arccos`` for
    ReLU), done in place on cache-sized blocks: the result is the same bit for bit."""
    k, norm, theta, sin = buf.view(len(a))
    w = np.float32(a.shape[1])  # the last window may be shorter
    np.matmul(a, b.T, out=k)
    k /= w
    k += bias32
    kaa = _self_cov(a, bias32)
    if activation == "square":
        k *= k
        k *= 2.0
        k += np.outer(kaa, kbb)
        return k, 3.0 * kaa * kaa
    # ReLU: the arc-cosine kernel of order 1, as _arccos(k, kaa, kbb)
    np.outer(kaa, kbb, out=norm)
    np.sqrt(norm, out=norm)
    np.maximum(norm, 1e-300, out=theta)
    np.divide(k, theta, out=k)
    np.clip(k, -1.0, 1.0, out=k)  # cos(theta)
    np.arccos(k, out=theta)
    np.sin(theta, out=sin)
    np.subtract(np.pi, theta, out=theta)
    theta *= k
    sin += theta
    norm *= sin
    norm /= np.pi
    return norm, kaa  # _arccos(k, k, k) = k


def window_kernel(
    A: np.ndarray, B: np.ndarray, width: int, activation: str, bias: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The convolution layer's kernel between the rows of ``A`` and ``B`` (standardised
    inputs), and its diagonals for ``A`` and ``B``: the mean over non-overlapping windows of
    ``width`` SNPs (a last, shorter window included) of the activation's covariance.

    Each window's map runs in float32 (5x faster than float64 for the arc-cosine) on a block
    of rows of ``A`` at a time, small enough to stay in cache; the row blocks are shared out
    over :func:`snpcnn.threads.current_threads` threads (numpy releases the GIL).  Each
    block sums its windows' maps in float64 in window order, so the result is the same bit
    for bit with 1 thread or several, and whatever the block size."""
    K = np.zeros((len(A), len(B)))
    da, db = np.zeros(len(A)), np.zeros(len(B))
    n_win = add_windows(A, B, width, activation, bias, K, da, db)
    return K / n_win, da / n_win, db / n_win


def add_windows(
    A: np.ndarray,
    B: np.ndarray,
    width: int,
    activation: str,
    bias: float,
    K: np.ndarray,
    da: np.ndarray,
    db: np.ndarray,
) -> int:
    """Add the windows of ``A`` and ``B`` (the same columns of both) to the running sums
    ``K``, ``da``, ``db`` (float64, in place), in window order; return the number of windows.

    :func:`window_kernel` is one call over all the columns; a caller that reads the columns
    in blocks whose edges fall on window edges (multiples of ``width``) and calls this once
    per block, in column order, gets the same sums bit for bit (the streamed CNN-GP)."""
    from snpcnn.threads import current_threads

    m = A.shape[1]
    nA, nB = len(A), len(B)
    starts = list(range(0, m, width))
    A32, B32 = np.ascontiguousarray(A, np.float32), np.ascontiguousarray(B, np.float32)
    bias32 = np.float32(bias)
    # at least 2 rows a block, and no 1-row block at the end: numpy computes a 1-row product
    # with gemv, whose rounding differs from gemm's (the plain formula's, for 2+ rows)
    rows = max(2, min(nA, _BLOCK_ELEMENTS // max(nB, 1)))
    blocks = [[r, min(r + rows, nA)] for r in range(0, nA, rows)]
    if len(blocks) > 1 and blocks[-1][1] - blocks[-1][0] == 1:
        last = blocks.pop()
        blocks[-1][1] = last[1]
    rows = max(r1 - r0 for r0, r1 in blocks)
    # B's pre-activation variances per window (1 / width of B's size), shared by the blocks
    kbb = np.stack([_self_cov(B32[:, s : s + width], bias32) for s in starts])

    def run(block: list[int], buf: _Buffers) -> None:
        r0, r1 = block
        Kb, dab = K[r0:r1], da[r0:r1]
        for i, s in enumerate(starts):
            a, b = A32[r0:r1, s : s + width], B32[:, s : s + width]
            part, kaa = _window_map(a, b, kbb[i], activation, bias32, buf)
            Kb += part
            dab += kaa

    def run_all(my_blocks: list[list[int]]) -> None:
        buf = _Buffers(rows, nB)
        for block in my_blocks:
            run(block, buf)

    threads = min(current_threads(), len(blocks))
    if threads <= 1:
        run_all(blocks)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            # interleaved row blocks, so each thread gets a similar share
            futures = [pool.submit(run_all, blocks[t::threads]) for t in range(threads)]
            for f in futures:
                f.result()
    # B's diagonal does not depend on A's rows: once, in window order
    for k in kbb:
        db += 3.0 * k * k if activation == "square" else k
    return len(starts)


def _add_products(a: np.ndarray, b: np.ndarray, K: np.ndarray, da: np.ndarray, db: np.ndarray):
    """Add the inner products of the rows of ``a`` and ``b`` (the same columns of both) and
    their squared norms to the running float64 sums ``K``, ``da``, ``db`` (in place): one
    window over every SNP, read in column blocks (the streamed MLP-GP)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    K += a64 @ b64.T
    da += np.einsum("ij,ij->i", a64, a64)
    db += np.einsum("ij,ij->i", b64, b64)


def _one_window_map(
    lin: np.ndarray, sa: np.ndarray, sb: np.ndarray, m: int, activation: str, bias: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window layer's kernel and diagonals for one window of all ``m`` SNPs, from the
    summed products (:func:`_add_products`): the formulas of :func:`_window_map`, in float64."""
    k, kaa, kbb = lin / m + bias, sa / m + bias, sb / m + bias
    if activation == "square":
        return 2.0 * k * k + np.outer(kaa, kbb), 3.0 * kaa * kaa, 3.0 * kbb * kbb
    return _arccos(k, kaa, kbb), kaa, kbb


def dense_kernel(
    K: np.ndarray, da: np.ndarray, db: np.ndarray, depth: int, bias: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``depth`` infinitely wide dense ReLU layers on top of the kernel ``K``."""
    for _ in range(depth):
        K = _arccos(K + bias, da + bias, db + bias)
        da, db = da + bias, db + bias
    return K, da, db


class CNNGP(NystromMixin, Baseline):
    """The infinite-width convolutional network (CNN-GP) as a kernel model, fitted by REML.

    See the module docstring for the architecture and its kernel.  This is a convolutional
    model, not a linear baseline: its kernel is built from windows of adjacent SNPs (local
    non-additive effects, like the default CNN's convolution) and, with ``depth >= 1``,
    nonlinear interactions between windows.

    Parameters
    ----------
    width : int
        SNPs per window (kernel size = stride of the convolution).
    activation : {"relu", "square"}
        The convolution's activation.
    depths : sequence of int
        Numbers of dense ReLU layers to try; REML picks one.
    bias : float
        Bias variance of every layer.
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.
    solver : {"auto", "exact", "nystrom"}
        ``"auto"``: the exact kernel up to 6,000 training rows, the Nystrom approximation
        through ``landmarks`` individuals above (the depth chosen by REML on the landmarks;
        :mod:`snpcnn.baselines.kernels_at_scale`).
    landmarks : int
        Landmark individuals of the Nystrom path.

    Attributes
    ----------
    depth_ : int
        The chosen number of dense layers.
    loglik_by_depth_ : dict
        REML log-likelihood of each depth.
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    loo_residuals_ : array (n_train,)
        Exact leave-one-out residuals at the fitted variance ratio (each row predicted from
        the others, fixed effects re-estimated without it): ``(P y)_i / P_ii``.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, at_bound_, notes_
        As for :class:`GBLUP`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, 0] * X[:, 1] + rng.normal(size=60)
    >>> m = CNNGP().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "CNN-GP"
    _fitted_attr = "dual_coef_"
    _grid_word = "depth"
    _landmark_choice = "the depth"

    def __init__(
        self,
        width: int = 5,
        activation: str = "relu",
        depths: Any = (0, 1, 2, 3, 4, 6, 8),
        bias: float = 0.1,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        solver: str = "auto",
        landmarks: int = LANDMARKS,
    ) -> None:
        self.width = width
        self.activation = activation
        self.depths = depths
        self.bias = bias
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid
        self.solver = solver
        self.landmarks = landmarks

    def _check_params(self) -> list[int]:
        w = self.width  # None: one window over every SNP (MLPGP)
        if w is not None and (isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1):
            raise InputError(f"width must be a positive integer, got {w!r}")
        if self.activation not in ACTIVATIONS:
            raise InputError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        raw = np.atleast_1d(np.asarray(self.depths, dtype=object))
        ok = len(raw) > 0 and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in raw
        )
        if not ok:
            raise InputError(f"depths must be integers >= 0, got {self.depths!r}")
        b = self.bias
        if isinstance(b, bool) or not isinstance(b, (int, float, np.number)) or not b >= 0:
            raise InputError(f"bias must be >= 0, got {self.bias!r}")
        if not np.isfinite(b):  # an infinite bias variance makes every kernel entry NaN
            raise InputError(f"bias must be finite, got {self.bias!r}")
        return [int(d) for d in raw]

    def fit(self, X: Any, y: Any, C: Any = None, *, landmark_model: Any = None) -> CNNGP:
        """Standardise on the training rows, build the kernel, pick the depth and the
        variance components by REML.  Parameters are as for :meth:`GBLUP.fit`; ``X`` may
        also be streamed rows (:class:`snpcnn.datapath.EncodedRows`), read in column blocks
        (:meth:`_fit_streamed`).  Above 6,000 training rows (``solver="auto"``) the Nystrom
        approximation; ``landmark_model``, an exact CNN-GP with these settings already fitted
        on the landmark rows (``subsample_rows(n, landmarks)``), spares refitting it."""
        X = self._fit_rows(X)  # names recorded; int8 -1 codes are no features
        if self._wants_nystrom(len(X) if _is_streamed(X) else _n_rows(X)):
            self._check_params()
            lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
            sub = self._fit_nystrom(X, y, C, lo, hi, landmark_model)
            self.depth_ = sub.depth_
            self.loglik_by_depth_ = sub.loglik_by_depth_
            self.mean_, self.sd_ = sub.mean_, sub.sd_
            self.Z_train_, self.train_rows_ = None, None
            return self
        if _is_streamed(X):
            return self._fit_streamed(X, y, C)
        depths = self._check_params()
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        given = X
        X, y, fe, F = _training_data(X, y, C, "CNN-GP")
        n, m = X.shape
        mean = X.mean(axis=0)
        sd = X.std(axis=0)
        sd[sd == 0] = 1.0
        # standardised in place where X is already a private float64 copy of the input (a
        # float32 input, e.g. the CNN's), else into one new array: the values of the plain
        # (X - mean) / sd, with one n x m float64 array alive instead of two or three
        own = X is not given and X.flags.owndata  # a fresh conversion, never a view
        Z = X if own else X - mean
        if own:
            Z -= mean
        Z /= sd
        del X, given
        # the kernel works in float32: one float32 copy, shared by both sides and kept
        Z32 = Z.astype(np.float32)
        del Z
        K0, d0, _ = window_kernel(Z32, Z32, self._width(m), self.activation, float(self.bias))
        self._store(K0, d0, (depths, y, F, fe, lo, hi), mean, sd, Z32, None)
        return self

    def _store(self, K0, d0, reml_args, mean, sd, Z32, rows) -> None:
        """Pick the depth by REML on the window kernel ``K0`` and keep the fit, with the
        training rows as ``Z32`` (standardised, in memory) or ``rows`` (streamed)."""
        depths, y, F, fe, lo, hi = reml_args
        targets = getattr(self, "depth_targets", None)
        if targets is not None:
            # several traits (the multi-trait CNN-GP start): the depth with the highest sum
            # of each trait's own REML log-likelihood on its observed rows; invariant to a
            # trait's sign, unlike one pseudo-trait (a checking helper, session 35)
            by_sum: dict[int, float] = {}
            # each trait's own best depth and REML fit on its observed rows (the multi-trait
            # start compares each trait's one-trait fit with the joint one)
            own: list[tuple[int, Any, np.ndarray] | None] = [None] * targets.shape[1]
            for d in depths:
                Kd = dense_kernel(K0, d0, d0, int(d), float(self.bias))[0]
                total = 0.0
                for j in range(targets.shape[1]):
                    o = np.flatnonzero(~np.isnan(targets[:, j]))
                    _, fit_j, _ = _best_kernel(
                        [0], lambda _, o=o, K=Kd: K[np.ix_(o, o)], targets[o, j], F[o], lo, hi,
                        self.n_grid,
                    )  # fmt: skip
                    total += float(fit_j.loglik)
                    if own[j] is None or fit_j.loglik > own[j][1].loglik:
                        own[j] = (int(d), fit_j, o)
                by_sum[int(d)] = total
            self.loglik_by_depth_traits_ = by_sum
            #: per trait (depth, REML fit, its observed rows) at that trait's own best depth
            self.trait_fits_ = own
            depths = [max(by_sum, key=lambda d: (by_sum[d], -d))]
        depth, reml, by_depth = _best_kernel(
            depths,
            lambda d: dense_kernel(K0, d0, d0, int(d), float(self.bias))[0],
            y,
            F,
            lo,
            hi,
            self.n_grid,
        )
        _store_reml(self, reml, fe, lo, hi)
        self.depth_ = int(depth)
        self.loglik_by_depth_ = {int(k): v for k, v in by_depth.items()}
        if getattr(self, "keep_train_kernel", False):
            # the training rows' kernel at the chosen depth (the multi-trait CNN-GP start
            # reuses it: recomputing it through kernel() costs the O(n^2 p) window pass again)
            self.K_train_ = dense_kernel(K0, d0, d0, int(depth), float(self.bias))[0]
        self.dual_coef_ = reml.hinv_resid
        self.loo_residuals_ = reml.loo_resid
        self.diag_train_ = d0
        self.mean_, self.sd_ = mean, sd
        self.Z_train_ = Z32
        self.train_rows_ = rows
        self.n_features_in_, self.n_train_ = len(mean), len(d0)
        self.solver_ = "exact"

    def _fit_streamed(self, X: Any, y: Any, C: Any) -> CNNGP:
        """:meth:`fit` on streamed rows: means, SDs and the window kernel from column blocks
        whose edges fall on window edges, standardised exactly as in memory, so the kernel,
        the REML fit and the predictions are those of the in-memory fit bit for bit.  Memory:
        the n x n kernel plus one column block; the training rows stay on disk
        (``train_rows_``) and are read again, in blocks, to predict new rows."""
        depths = self._check_params()
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        n, m = len(X), int(X.n_features)
        y, fe, F = _targets_and_design(y, C, n, "CNN-GP")
        width = self._width(m)
        one = self.width is None  # MLP-GP: one window over every SNP, summed over blocks
        mean, sd = np.zeros(m), np.ones(m)
        K0, d0, dd = np.zeros((n, n)), np.zeros(n), np.zeros(n)
        n_win, varying = 0, False
        for c0, c1 in X.column_blocks(itemsize=8, align=1 if one else width):
            Xb = _as_matrix(X.columns(c0, c1), "X")
            varying = varying or bool((np.ptp(Xb, axis=0) > 0).any())
            mean[c0:c1] = Xb.mean(axis=0)
            sb = Xb.std(axis=0)
            sb[sb == 0] = 1.0
            sd[c0:c1] = sb
            Z32 = _standardised(Xb, mean[c0:c1], sb)
            del Xb
            if one:
                _add_products(Z32, Z32, K0, d0, dd)
            else:
                n_win += add_windows(Z32, Z32, width, self.activation, float(self.bias), K0, d0, dd)
        if not varying:
            _check_polymorphic(np.zeros((2, 1)))  # the in-memory fit's message
        if one:
            K0, d0, _ = _one_window_map(K0, d0, d0, m, self.activation, float(self.bias))
        else:
            K0 /= n_win
            d0 /= n_win
        self._store(K0, d0, (depths, y, F, fe, lo, hi), mean, sd, None, X)
        return self

    def _train_block(self, c0: int, c1: int) -> np.ndarray:
        """Columns ``c0:c1`` of the standardised training rows (float32), as the fit saw
        them."""
        if self.Z_train_ is not None:
            return self.Z_train_[:, c0:c1]
        Xb = _as_matrix(self.train_rows_.columns(c0, c1), "X")
        return _standardised(Xb, self.mean_[c0:c1], self.sd_[c0:c1])

    def train_codes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The training rows as int8 codes (rows x SNPs) and ``table`` (SNPs x codes,
        float32), with ``table[j, codes[:, j] + 1]`` the fit's standardised training column
        ``j`` bit for bit, in a quarter of the float32 matrix's memory
        (:class:`snpcnn.models.layers.KernelPrediction` with ``storage = "int8"``).

        A streamed fit on one-channel dosage input: the dosages themselves (-1 = missing),
        ``table[j, c + 1]`` the value of dosage ``c``.  An in-memory fit: per SNP, the
        distinct values of its column in increasing order (code ``k - 1`` for the ``k``-th).
        None where a column holds more than :data:`MAX_CODES` distinct values, or for a
        streamed fit on another encoding."""
        self._check_fitted()
        if self._is_nystrom():
            return None
        rows = self.train_rows_
        if rows is None:
            return _distinct_codes(self.Z_train_)
        if not getattr(rows, "has_codes", False):
            return None
        codes = rows.codes()
        top = max(int(codes.max(initial=0)), 0)
        table = np.zeros((self.n_features_in_, top + 2), dtype=np.float32)
        for c in range(-1, top + 1):
            v = rows.code_values(c).astype(np.float64)
            table[:, c + 1] = ((v - self.mean_) / self.sd_).astype(np.float32)
        return codes, table

    def _width(self, m: int) -> int:
        return m if self.width is None else int(self.width)

    def kernel(self, X_new: Any) -> np.ndarray:
        """The CNN-GP kernel between ``X_new`` and the training rows (n_new x n_train).

        ``X_new`` may be streamed rows (:class:`snpcnn.datapath.EncodedRows` or
        ``DosageRows``): it is then read in column blocks, as are the training rows of a
        streamed fit; the numbers are those of the in-memory computation bit for bit."""
        return self._kernel(self._new_rows(X_new))

    def _kernel(self, X_new: Any) -> np.ndarray:
        """:meth:`kernel` of checked rows (:meth:`_new_rows`)."""
        self._refuse_nystrom_kernel()
        if _is_streamed(X_new):
            self._check_columns(int(X_new.n_features))
            rows = X_new

            def new_block(c0: int, c1: int) -> np.ndarray:
                return _as_matrix(rows.columns(c0, c1), "X_new")

            r = len(X_new)
        else:
            Xn = self._check_new(X_new)

            def new_block(c0: int, c1: int) -> np.ndarray:
                return Xn[:, c0:c1]

            r = len(Xn)
        if r == 0:  # no rows to predict (window_kernel needs at least one)
            return np.zeros((0, self.n_train_))
        width = self._width(self.n_features_in_)
        if self.Z_train_ is not None and not _is_streamed(X_new):
            K, d_new, _ = window_kernel(
                (Xn - self.mean_) / self.sd_,
                self.Z_train_.astype(np.float64),
                width,
                self.activation,
                float(self.bias),
            )
            return dense_kernel(K, d_new, self.diag_train_, self.depth_, float(self.bias))[0]
        # streamed rows on either side: column blocks on window edges
        from snpcnn.datapath import _column_blocks

        n = self.n_train_
        one = self.width is None  # MLP-GP: one window, its products summed over blocks
        K, d_new, d_tr = np.zeros((r, n)), np.zeros(r), np.zeros(n)
        n_win = 0
        for c0, c1 in _column_blocks(max(r, n), self.n_features_in_, 8, 1 if one else width):
            zn = new_block(c0, c1) - self.mean_[c0:c1]
            zn /= self.sd_[c0:c1]
            if one:
                _add_products(zn, self._train_block(c0, c1), K, d_new, d_tr)
                continue
            n_win += add_windows(
                zn,
                self._train_block(c0, c1),
                width,
                self.activation,
                float(self.bias),
                K,
                d_new,
                d_tr,
            )
        if one:
            K, d_new, _ = _one_window_map(
                K, d_new, d_tr, self.n_features_in_, self.activation, float(self.bias)
            )
        else:
            K /= n_win
            d_new /= n_win
        return dense_kernel(K, d_new, self.diag_train_, self.depth_, float(self.bias))[0]

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values ``g_new`` alone (no fixed effects)."""
        X_new = self._new_rows(X_new)
        if self._is_nystrom():
            return self._nystrom_values(X_new)
        return self._kernel(X_new) @ self.dual_coef_

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: ``K_new,train H^-1 (y - F b) + F_new b``."""
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_


class MLPGP(CNNGP):
    """The infinite-width fully connected network (NNGP): :class:`CNNGP` with one window over
    every SNP, i.e. a dense ReLU layer instead of the convolution.  The yardstick that shows
    what the convolution's windows add (``make_baseline("mlp_gp")``)."""

    name = "MLP-GP"

    def __init__(
        self,
        activation: str = "relu",
        depths: Any = (0, 1, 2, 3, 4, 6, 8),
        bias: float = 0.1,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        solver: str = "auto",
        landmarks: int = LANDMARKS,
    ) -> None:
        super().__init__(
            None, activation, depths, bias, log_delta_bounds, n_grid, solver, landmarks
        )
