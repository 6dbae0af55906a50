"""LASSO / elastic net on markers: the sparse linear baseline, penalty by inner cross-validation."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from snpcnn.baselines._common import (
    Baseline,
    _as_vector,
    _FixedEffects,
    _training_data,
)
from snpcnn.errors import InputError


class Lasso(Baseline):
    """LASSO (or elastic net) on markers, the penalty chosen by K-fold CV inside the training rows.

    Solves ``min_b,beta ||y - F b - X beta||^2 / (2n) + alpha (l1_ratio ||beta||_1 +
    (1 - l1_ratio) ||beta||^2 / 2)`` with ``F = [1, C]`` unpenalised: ``F`` is projected out
    of ``X`` and ``y`` (which also centres them), the penalised fit is made on the projected
    data by coordinate descent with working sets and Anderson acceleration
    (:mod:`snpcnn.baselines._lasso_cd`, compiled by numba once and cached on disk), and
    ``b = (F'F)^-1 F'(y - X beta)``.  Where few markers carry most of the genetic variance (sparse architectures) it
    predicts much better than GBLUP, whose Gaussian prior spreads every effect over all markers
    in LD; on polygenic traits it is usually a little below GBLUP.

    Penalty choice: ``alpha_`` minimises the mean squared error of ``cv`` folds of the training
    rows (split by a fixed-seed shuffle, so the choice is deterministic) over a log grid of
    ``n_alphas`` penalties from ``alpha_max`` (the smallest penalty giving no marker) down to
    ``eps * alpha_max``; the largest penalty within a relative ``1e-12`` of the minimum wins
    ties.  The final fit is on all training rows.  Only the training data enter.

    Parameters
    ----------
    l1_ratio : float in (0, 1]
        1 (default) is the LASSO; below 1 an elastic net.
    n_alphas, eps
        The penalty grid (default 20 penalties down to ``1e-2 * alpha_max``; on the simulated
        sets the inner CV chose the 7th or 8th, far from the small end, and a note says
        when the smallest wins).
    cv : int
        Inner folds for the penalty (default 5).
    max_iter, tol
        Solver limits: at most ``max_iter`` working-set iterations per penalty; ``tol``
        bounds every effect's optimality (KKT) violation relative to ``alpha_max``, so it
        does not depend on the trait's scale.
    seed : int
        The inner folds' shuffle.

    Attributes
    ----------
    alpha_ : float
    alphas_ : array
        The grid searched (largest first).
    cv_mse_ : array
        Inner-CV mean squared error per alpha, for the first ``len(cv_mse_)`` alphas of the
        grid: the path stops once that error has not improved for 4 alphas (the smallest
        penalties, the costliest fits, are computed only where they still help).
    coef_ : array (m,)
        Marker effects (zero for the markers the penalty drops).
    n_selected_ : int
        Markers with a nonzero effect.
    beta_ : array
        Fixed effects, intercept first.
    intercept_ : float
    alpha_at_bound_ : bool
        True if ``alpha_`` is the smallest penalty of the grid.
    notes_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.5, size=(200, 300)).astype(float)
    >>> y = X[:, :3] @ [1.0, -1.0, 0.5] + rng.normal(size=200)
    >>> m = Lasso().fit(X, y)
    >>> bool(np.corrcoef(m.predict(X), y)[0, 1] > 0.7)
    True
    """

    name = "LASSO"

    def __init__(
        self,
        l1_ratio: float = 1.0,
        n_alphas: int = 20,
        eps: float = 1e-2,
        cv: int = 5,
        max_iter: int = 50,
        tol: float = 1e-4,
        seed: int = 0,
    ) -> None:
        # checked in fit (scikit-learn's rule: the constructor only stores its arguments)
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.eps = eps
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def _check_params(self) -> None:
        for key in ("n_alphas", "cv", "max_iter", "seed"):
            value = getattr(self, key)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise InputError(f"{key} must be a whole number, got {value!r}")
        for key in ("l1_ratio", "eps", "tol"):
            value = getattr(self, key)
            if not isinstance(value, numbers.Real) or not np.isfinite(value):
                raise InputError(f"{key} must be a number, got {value!r}")
        if not 0.0 < self.l1_ratio <= 1.0:
            raise InputError(f"l1_ratio must be in (0, 1], got {self.l1_ratio}")
        if self.n_alphas < 2 or not 0.0 < self.eps < 1.0:
            raise InputError(f"need n_alphas >= 2 and 0 < eps < 1, got {self.n_alphas}, {self.eps}")
        if self.cv < 2:
            raise InputError(f"cv must be at least 2 inner folds, got {self.cv}")
        if self.max_iter < 1 or self.tol <= 0:
            raise InputError(f"need max_iter >= 1 and tol > 0, got {self.max_iter}, {self.tol}")

    def fit(self, X: Any, y: Any, C: Any = None) -> Lasso:
        self._check_params()
        X = self._fit_rows(X)  # names recorded; int8 -1 codes are no features
        if _streamed(X):
            return self._fit_streamed(X, y, C)
        X, y, fe, F = _training_data(X, y, C, "LASSO")
        n, m = X.shape
        if n < 2 * self.cv:
            raise InputError(
                f"LASSO needs at least {2 * self.cv} training samples for {self.cv} inner "
                f"folds, got {n}"
            )
        self.notes_ = list(fe.notes)
        # project the fixed effects out of X and y (one float copy of X: Xt)
        q = np.linalg.qr(F)[0]
        Xt = X - q @ (q.T @ X)
        coef = self._search(Xt, y, q)
        del Xt
        self.beta_ = np.linalg.lstsq(F, y - X @ coef, rcond=None)[0]
        self.intercept_ = float(self.beta_[0])
        self._fe = fe
        self.n_features_in_ = m
        return self

    def _search(self, X: Any, y: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The penalty search on ``X`` (the fixed effects, basis ``q``, already out of it: an
        array or :class:`StreamedColumns`) and ``y`` with them projected out; its outcome
        recorded as the fitted attributes; the SNP effects returned (all zero where ``y`` is
        constant after the fixed effects: then the LASSO predicts them, as GBLUP and ridge
        predict a constant trait's mean)."""
        yt = y - q @ (q.T @ y)
        # constant: nothing left but the projection's rounding (a few thousand ulps of y's
        # size). The test was 1e-10 of max(1, |y|): a trait at 3e10 + N(0, 1), or one of
        # scale 1e-12, was "constant" and predicted its mean (a checking helper, session 41)
        # (the rounding grows with n: 1,836 ulps measured at n = 200,000; a reviewer)
        ulps = max(1e4, 64.0 * len(yt))
        if not np.abs(yt).max() > ulps * np.finfo(np.float64).eps * float(np.abs(y).max()):
            return self._constant(X.shape[1])
        fit = cross_validated_lasso(
            X,
            yt,
            l1_ratio=self.l1_ratio,
            n_alphas=self.n_alphas,
            eps=self.eps,
            cv=self.cv,
            tol=self.tol,
            max_iter=self.max_iter,
            seed=self.seed,
        )
        if fit is None:
            if isinstance(X, StreamedColumns) and X.varying is False:
                # (in memory, _training_data refused such input before the search)
                raise InputError(
                    "every SNP is monomorphic in the training data (all dosages equal per "
                    "column); nothing to fit"
                )
            return self._constant(X.shape[1])
        self._record(fit)
        return fit.coef

    def _constant(self, m: int) -> np.ndarray:
        """The fitted attributes of a ``y`` that is constant after the fixed effects."""
        self.cv_mse_, self.alphas_, self.alpha_ = np.empty(0), np.empty(0), float("nan")
        self.alpha_at_bound_ = False
        self.coef_ = np.zeros(m)
        self.n_selected_ = 0
        self.notes_.append(
            "y is constant after the fixed effects: the LASSO fits no SNP effect and predicts "
            "the fixed effects (the mean)"
        )
        return self.coef_

    def _record(self, fit: LassoCV) -> None:
        """The penalty search's outcome as the fitted attributes."""
        self.cv_mse_, self.alphas_, self.alpha_ = fit.cv_mse, fit.alphas, fit.alpha
        self.alpha_at_bound_ = fit.best == len(fit.alphas) - 1
        if self.alpha_at_bound_:
            self.notes_.append(
                f"chosen penalty is the smallest of the grid (eps={self.eps:g}); a smaller eps "
                "may fit better"
            )
        self.coef_ = fit.coef
        self.n_selected_ = int(np.count_nonzero(fit.coef))

    def _fit_streamed(self, X: Any, y: Any, C: Any) -> Lasso:
        """The same fit on a streamed training part (:class:`snpcnn.datapath.DosageRows`):
        the penalty search reads column blocks (:class:`StreamedColumns`; the fixed effects
        projected out of each block), and only the effects' columns are ever held whole."""
        n, m = X.shape
        y = _as_vector(y, n)
        fe = _FixedEffects().fit(C, n)
        F = fe.design(C, n)
        if n < 2 * self.cv or n - F.shape[1] < 2:
            raise InputError(
                f"LASSO needs at least {max(2 * self.cv, F.shape[1] + 2)} training samples "
                f"for {self.cv} inner folds and {F.shape[1]} fixed effects, got {n}"
            )
        self.notes_ = list(fe.notes)
        q = np.linalg.qr(F)[0]
        coef = self._search(StreamedColumns(X, basis=None if F.shape[1] == 1 else q), y, q)
        self.beta_ = np.linalg.lstsq(F, y - _times(X, coef), rcond=None)[0]
        self.intercept_ = float(self.beta_[0])
        self._fe = fe
        self.n_features_in_ = m
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        X_new = self._new_rows(X_new)
        if _streamed(X_new):
            self._check_columns(X_new.shape[1])
            F = self._fe.design(C_new, X_new.shape[0])
            return _times(X_new, self.coef_) + F @ self.beta_
        X_new = self._check_new(X_new)
        F = self._fe.design(C_new, X_new.shape[0])
        return X_new @ self.coef_ + F @ self.beta_


def _streamed(X: Any) -> bool:
    """A lazy streamed matrix (:class:`snpcnn.datapath.DosageRows`), not an array."""
    return not isinstance(X, np.ndarray) and hasattr(X, "take_columns")


def _times(X: Any, coef: np.ndarray) -> np.ndarray:
    """``X @ coef`` of a streamed matrix, from the nonzero effects' columns only."""
    nz = np.flatnonzero(coef)
    if not len(nz):
        return np.zeros(X.shape[0])
    return X.take_columns(nz).astype(np.float64) @ coef[nz]


@dataclass
class LassoCV:
    """What :func:`cross_validated_lasso` returns."""

    alphas: np.ndarray  # the penalty grid, largest first
    cv_mse: np.ndarray  # inner-CV mean squared error per penalty
    best: int  # index of the chosen penalty
    # each row's prediction at the chosen penalty by the fold model not fitted on it
    oof: np.ndarray
    coef: np.ndarray  # effects of the fit on every row at the chosen penalty
    intercept: float  # of that fit: prediction = X @ coef + intercept

    @property
    def alpha(self) -> float:
        return float(self.alphas[self.best])


def lasso_path(
    X: np.ndarray,
    y: np.ndarray,
    alphas: np.ndarray,
    l1_ratio: float,
    tol: float,
    max_iter: int,
    held: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int = 0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Effects (m x k) of the penalised fit of the *centred* ``X``, ``y`` at the first k
    penalties of ``alphas`` (largest first), each fit started from the previous one (a
    warm-started path).  ``tol`` is relative to the largest useful penalty (``max |X'y| /
    n``): each fit ends where no effect's optimality violation exceeds it.  ``max_iter``
    bounds the working-set iterations per penalty.  With ``held = (X_held, y_held)``
    (centred alike) and ``patience`` > 0 the path stops once the held-out squared error has
    not improved for ``patience`` penalties (k <= len(alphas)); otherwise k = len(alphas).
    ``init``: the effects to start the first fit from (a path resumed where it stopped)."""
    from snpcnn.baselines._lasso_cd import solve

    Xf = np.asfortranarray(X, dtype=np.float64)
    yf = np.ascontiguousarray(y, dtype=np.float64)
    scale = float(np.max(np.abs(Xf.T @ yf))) / len(yf)
    tol_abs = tol * max(scale, 1e-300)
    colsq = np.einsum("ij,ij->j", Xf, Xf)
    beta = np.zeros(X.shape[1]) if init is None else np.array(init, dtype=np.float64)
    coefs = np.zeros((X.shape[1], len(alphas)))
    best, since = np.inf, 0
    for i, a in enumerate(alphas):
        beta, _ = solve(Xf, yf, float(a), l1_ratio, tol_abs, beta, colsq, max_outer=max_iter)
        coefs[:, i] = beta
        if held is None or patience <= 0:
            continue
        err = float(np.mean((held[0] @ beta - held[1]) ** 2))
        best, since = (err, 0) if err < best else (best, since + 1)
        if since >= patience:
            return coefs[:, : i + 1]
    return coefs


def cross_validated_lasso(
    X: np.ndarray,
    y: np.ndarray,
    *,
    l1_ratio: float = 1.0,
    n_alphas: int = 20,
    eps: float = 1e-2,
    cv: int = 5,
    tol: float = 1e-4,
    max_iter: int = 50,
    seed: int = 0,
    patience: int = 4,
) -> LassoCV | None:
    """LASSO / elastic net with its penalty by ``cv`` inner folds (a fixed-seed shuffle of the
    rows: deterministic).  The grid: ``n_alphas`` penalties from ``alpha_max`` (the smallest
    that selects no marker) down to ``eps * alpha_max`` on a log scale; the largest penalty
    within a relative 1e-12 of the smallest inner-CV error wins (scale-free).  Every fold
    model centres its own rows, so nothing of a held-out row enters its prediction.  Each
    fold's path stops once its held-out error has not improved for ``patience`` penalties
    (0: the whole grid); where the folds' mean error was still falling at the last penalty
    they all reached, the folds that stopped first are resumed, until that mean has not
    improved for ``patience`` penalties.
    So the small penalties, where many markers enter and each fit costs most, are computed
    only where they still help.

    ``X`` is an array, or :class:`StreamedColumns` (a streamed training part: the same
    search from column-block passes, the same choices up to float rounding).
    Returns None where ``y`` gives nothing to fit (``alpha_max`` 0)."""
    n = len(y)
    streamed = isinstance(X, StreamedColumns)
    ym = float(y.mean())
    if streamed:
        xm, xty = X.mean_and_xty(y - ym)
    else:
        xm, xty = X.mean(axis=0), X.T @ (y - ym)
    alpha_max = float(np.max(np.abs(xty))) / (n * l1_ratio)  # = with X centred
    if not alpha_max > 0:
        return None
    alphas = alpha_max * np.logspace(0.0, np.log10(eps), n_alphas)
    order = np.random.default_rng(seed).permutation(n)
    tests = np.array_split(order, cv)
    preds = np.zeros((n, n_alphas))
    reached = [0] * cv  # penalties computed per fold
    last: list[np.ndarray | None] = [None] * cv  # each fold's effects at its last penalty

    def extend(f: int, stop: int, pat: int) -> None:
        """Fold f's path from its last penalty on, up to ``stop`` (or its early stop)."""
        test = tests[f]
        train = np.setdiff1d(order, test)
        k0 = reached[f]
        if streamed:
            y_f = float(y[train].mean())
            coefs, held = _streamed_path(
                X,
                train,
                test,
                y[train] - y_f,
                y[test] - y_f,
                alphas[k0:stop],
                l1_ratio,
                tol,
                max_iter,
                pat,
                last[f],
            )
            preds[test, k0 : k0 + coefs.shape[1]] = held + y_f
            reached[f] = k0 + coefs.shape[1]
            last[f] = coefs[:, -1]
            return
        xt = X[train]
        m_f, y_f = xt.mean(axis=0), float(y[train].mean())
        xt -= m_f
        x_held = X[test] - m_f
        coefs = lasso_path(
            xt,
            y[train] - y_f,
            alphas[k0:stop],
            l1_ratio,
            tol,
            max_iter,
            (x_held, y[test] - y_f),
            pat,
            last[f],
        )
        del xt
        preds[test, k0 : k0 + coefs.shape[1]] = x_held @ coefs + y_f
        reached[f] = k0 + coefs.shape[1]
        last[f] = coefs[:, -1]

    for f in range(cv):
        extend(f, n_alphas, patience)
    while True:
        common = min(reached)
        cv_mse = np.mean((preds[:, :common] - y[:, None]) ** 2, axis=0)
        best = int(np.argmin(cv_mse))
        if patience <= 0 or common >= n_alphas or best < common - patience:
            break
        # the folds' mean error still fell within the last `patience` penalties that every
        # fold reached (one fold stopped early on its own bump): extend the folds behind
        target = min(n_alphas, common + patience)
        for f in range(cv):
            if reached[f] < target:
                extend(f, target, 0)
    best = int(np.flatnonzero(cv_mse <= cv_mse.min() * (1.0 + 1e-12))[0])
    if streamed:
        everyone = np.arange(n)
        coef = _streamed_path(
            X, everyone, everyone[:0], y - ym, y[:0], alphas[: best + 1], l1_ratio, tol, max_iter
        )[0][:, -1]
    else:
        # already centred (the baseline's projected X, the start's centred inputs): no copy
        span = max(1.0, float(X.max()), -float(X.min()))
        xc = X if float(np.abs(xm).max()) <= 1e-9 * span else X - xm
        coef = lasso_path(xc, y - ym, alphas[: best + 1], l1_ratio, tol, max_iter)[:, -1]
        del xc
    return LassoCV(
        alphas=alphas,
        cv_mse=cv_mse,
        best=best,
        oof=preds[:, best].copy(),
        coef=coef,
        intercept=ym - float(xm @ coef),
    )


class StreamedColumns:
    """The centred float64 columns of a streamed training part
    (:class:`snpcnn.datapath.EncodedRows`) for the LASSO: ``x - mean`` over its rows, the
    values of the in-memory start's centred inputs, read in column blocks of about
    :data:`snpcnn.datapath.BLOCK_BYTES` for the optimality checks, and any set of columns
    (the working set, the nonzero effects) on request, with the columns read last kept up
    to ``cache_bytes``.  Memory: one block plus the cache plus the working set, never the
    whole float matrix."""

    def __init__(self, x, cache_bytes: int = 64 * 2**20, basis: np.ndarray | None = None) -> None:
        self.x = x
        self.n, self.p = len(x), int(x.n_features)
        self.shape = (self.n, self.p)
        # fixed effects (the LASSO baseline's covariates): an orthonormal basis of their
        # design, intercept included, projected out of every column instead of its mean
        self.basis = basis
        self.mean = np.zeros(self.p)
        if basis is None:
            for c0, c1 in x.column_blocks(itemsize=32):  # blocks as in blocks()
                self.mean[c0:c1] = x.columns(c0, c1).astype(np.float64).mean(axis=0)
        self.varying: bool | None = None  # any column not constant: set by mean_and_xty
        self._cache: dict[int, np.ndarray] = {}
        self._cache_cols = max(1, int(cache_bytes) // max(8 * self.n, 1))

    def blocks(self, rows: np.ndarray | None = None, shift: np.ndarray | None = None):
        """``(c0, c1, centred float64 block)`` over every column (of the rows ``rows`` only,
        read from those rows' genotypes, or, with a fixed-effect ``basis``, projected on all
        rows first; minus ``shift`` too, if given), in blocks of about a quarter of
        :data:`snpcnn.datapath.BLOCK_BYTES` (a pass holds a few copies of one)."""
        Q = self.basis
        x = self.x if rows is None or Q is not None else self.x[rows]
        for c0, c1 in self.x.column_blocks(itemsize=32):
            b = x.columns(c0, c1).astype(np.float64)
            if Q is None:
                b -= self.mean[c0:c1]
            else:
                b -= Q @ (Q.T @ b)
                if rows is not None:
                    b = b[rows]
            if shift is not None:
                b -= shift[c0:c1]
            yield c0, c1, b

    def take(self, cols: np.ndarray) -> np.ndarray:
        """The centred columns ``cols`` (n x len(cols), float64)."""
        cols = np.asarray(cols, dtype=np.int64)
        out = np.empty((self.n, len(cols)))
        miss = np.array([c not in self._cache for c in cols.tolist()], dtype=bool)
        for k in np.flatnonzero(~miss):
            out[:, k] = self._cache[int(cols[k])]
        if miss.any():
            new = cols[miss]
            got = self.x.take_columns(new).astype(np.float64)
            if self.basis is None:
                got -= self.mean[new]
            else:
                got -= self.basis @ (self.basis.T @ got)
            out[:, miss] = got
            if len(self._cache) + len(new) > self._cache_cols:
                self._cache.clear()  # the columns read last are kept, within the budget
            if len(new) <= self._cache_cols:
                for k, c in enumerate(new.tolist()):
                    self._cache[c] = got[:, k].copy()
        return out

    def mean_and_xty(self, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The centred columns' means (about 0) and ``X' yc``, in one pass (which also
        records whether any column varies: ``varying``)."""
        xm, xty = np.zeros(self.p), np.zeros(self.p)
        self.varying = False
        for c0, c1, B in self.blocks():
            xm[c0:c1] = B.mean(axis=0)
            xty[c0:c1] = B.T @ yc
            self.varying = self.varying or bool((np.abs(B).max(axis=0) > 1e-10).any())
        return xm, xty

    def product(self, coef: np.ndarray) -> np.ndarray:
        """``X @ coef`` from the nonzero effects' columns."""
        nz = np.flatnonzero(coef)
        return self.take(nz) @ coef[nz] if len(nz) else np.zeros(self.n)


def _streamed_path(
    src: StreamedColumns,
    train: np.ndarray,
    test: np.ndarray,
    y_t: np.ndarray,
    y_h: np.ndarray,
    alphas: np.ndarray,
    l1_ratio: float,
    tol: float,
    max_iter: int,
    patience: int = 0,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lasso_path` of the rows ``train`` of a streamed source (each column centred
    on those rows; ``y_t``, ``y_h`` centred by their mean), with the held-out rows
    ``test`` as its ``held`` rows: the same working-set solver, whose optimality check
    reads the columns block by block.  Returns (effects m x k, held-out predictions
    len(test) x k, centred)."""
    from snpcnn.baselines._lasso_cd import MAX_EPOCHS, _epochs, _violations_of, working_set

    p = src.p
    m_f, colsq, xty = np.zeros(p), np.zeros(p), np.zeros(p)
    for c0, c1, bt in src.blocks(train):
        m = bt.mean(axis=0)
        bt -= m
        m_f[c0:c1] = m
        colsq[c0:c1] = np.einsum("ij,ij->j", bt, bt)
        xty[c0:c1] = bt.T @ y_t
    n_t = len(train)
    tol_abs = tol * max(float(np.max(np.abs(xty))) / n_t, 1e-300)

    def rows_of(cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.asfortranarray(src.take(cols)[rows] - m_f[cols])

    beta = np.zeros(p) if init is None else np.array(init, dtype=np.float64)
    nz = np.flatnonzero(beta)
    r = y_t - (rows_of(nz, train) @ beta[nz] if len(nz) else 0.0)
    coefs = np.zeros((p, len(alphas)))
    held = np.zeros((len(test), len(alphas)))
    viol, grad = np.empty(p), np.empty(p)
    current = False  # grad is that of the current effects (no pass needed)
    best, since = np.inf, 0
    for i, a in enumerate(alphas):
        a1, a2 = float(a * l1_ratio), float(a * (1.0 - l1_ratio))
        for _ in range(max_iter):
            if not current:  # one pass over the columns: every gradient
                for c0, c1, bt in src.blocks(train, m_f):
                    grad[c0:c1] = (r @ bt) / -n_t
                current = True
            worst = _violations_of(grad, beta, a1, a2, viol)
            if worst <= tol_abs:
                break
            ws = working_set(beta, viol)
            bw = beta[ws].copy()
            _epochs(
                rows_of(ws, train),
                r,
                bw,
                colsq[ws],
                np.arange(len(ws)),
                a1,
                a2,
                tol_abs / 4.0,
                MAX_EPOCHS,
            )
            beta[ws] = bw
            current = False
        coefs[:, i] = beta
        if len(test):
            nz = np.flatnonzero(beta)
            held[:, i] = rows_of(nz, test) @ beta[nz] if len(nz) else 0.0
        if patience <= 0 or not len(test):
            continue
        err = float(np.mean((held[:, i] - y_h) ** 2))
        best, since = (err, 0) if err < best else (best, since + 1)
        if since >= patience:
            return coefs[:, : i + 1], held[:, : i + 1]
    return coefs, held
