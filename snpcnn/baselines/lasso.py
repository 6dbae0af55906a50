"""LASSO / elastic net on markers: the sparse linear baseline, penalty by inner cross-validation."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines._common import Baseline, _training_data
from snpcnn.errors import InputError


class Lasso(Baseline):
    """LASSO (or elastic net) on markers, the penalty chosen by K-fold CV inside the training rows.

    Solves ``min_b,beta ||y - F b - X beta||^2 / (2n) + alpha (l1_ratio ||beta||_1 +
    (1 - l1_ratio) ||beta||^2 / 2)`` with ``F = [1, C]`` unpenalised: ``F`` is projected out
    of ``X`` and ``y`` (which also centres them), the penalised fit is made on the projected
    data by coordinate descent (scikit-learn's ``enet_path``), and ``b = (F'F)^-1 F'(y - X
    beta)``.  Where few markers carry most of the genetic variance (sparse architectures) it
    predicts much better than GBLUP, whose Gaussian prior spreads every effect over all markers
    in LD; on polygenic traits it is usually a little below GBLUP.

    Penalty choice: ``alpha_`` minimises the mean squared error of ``cv`` folds of the training
    rows (split by a fixed-seed shuffle, so the choice is deterministic) over a log grid of
    ``n_alphas`` penalties from ``alpha_max`` (the smallest penalty giving no marker) down to
    ``eps * alpha_max``; the largest penalty within ``1e-12`` of the minimum wins ties.  The
    final fit is on all training rows.  Only the training data enter.

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
        Coordinate-descent limits (scikit-learn's meaning).
    seed : int
        The inner folds' shuffle.

    Attributes
    ----------
    alpha_ : float
    alphas_ : array
        The grid searched (largest first).
    cv_mse_ : array
        Inner-CV mean squared error per alpha.
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
        max_iter: int = 5000,
        tol: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if not 0.0 < float(l1_ratio) <= 1.0:
            raise InputError(f"l1_ratio must be in (0, 1], got {l1_ratio}")
        if int(n_alphas) < 2 or not 0.0 < float(eps) < 1.0:
            raise InputError(f"need n_alphas >= 2 and 0 < eps < 1, got {n_alphas}, {eps}")
        if int(cv) < 2:
            raise InputError(f"cv must be at least 2 inner folds, got {cv}")
        self.l1_ratio = float(l1_ratio)
        self.n_alphas = int(n_alphas)
        self.eps = float(eps)
        self.cv = int(cv)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.seed = int(seed)

    def _params(self) -> dict[str, Any]:
        return {"l1_ratio": self.l1_ratio, "n_alphas": self.n_alphas, "cv": self.cv}

    def _path(self, X: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Coefficients (m x len(alphas)) of the penalised fit of centred ``X``, ``y``."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import enet_path

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, coefs, _ = enet_path(
                X, y, l1_ratio=self.l1_ratio, alphas=alphas, max_iter=self.max_iter, tol=self.tol
            )
        return coefs

    def fit(self, X: Any, y: Any, C: Any = None) -> Lasso:
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
        yt = y - q @ (q.T @ y)
        alpha_max = float(np.max(np.abs(Xt.T @ yt))) / (n * self.l1_ratio)
        if not np.abs(yt).max() > 1e-10 * max(1.0, float(np.abs(y).max())) or not alpha_max > 0:
            raise InputError("y is constant after the fixed effects: nothing for LASSO to fit")
        alphas = alpha_max * np.logspace(0.0, np.log10(self.eps), self.n_alphas)
        order = np.random.default_rng(self.seed).permutation(n)
        folds = np.array_split(order, self.cv)
        sse = np.zeros(len(alphas))
        for test in folds:
            train = np.setdiff1d(order, test)
            xm, ym = Xt[train].mean(0), yt[train].mean()
            coefs = self._path(Xt[train] - xm, yt[train] - ym, alphas)
            pred = (Xt[test] - xm) @ coefs + ym
            sse += ((pred - yt[test, None]) ** 2).sum(0)
        self.cv_mse_ = sse / n
        best = int(np.flatnonzero(self.cv_mse_ <= self.cv_mse_.min() + 1e-12)[0])
        self.alphas_, self.alpha_ = alphas, float(alphas[best])
        self.alpha_at_bound_ = best == len(alphas) - 1
        if self.alpha_at_bound_:
            self.notes_.append(
                f"chosen penalty is the smallest of the grid (eps={self.eps:g}); a smaller eps "
                "may fit better"
            )
        coef = self._path(Xt, yt, alphas[: best + 1])[:, -1]
        self.coef_ = coef
        self.n_selected_ = int(np.count_nonzero(coef))
        self.beta_ = np.linalg.lstsq(F, y - X @ coef, rcond=None)[0]
        self.intercept_ = float(self.beta_[0])
        self._fe = fe
        self.n_features_in_ = m
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        self._check_fitted()
        X_new = self._check_new(X_new)
        F = self._fe.design(C_new, X_new.shape[0])
        return X_new @ self.coef_ + F @ self.beta_
