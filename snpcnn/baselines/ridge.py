"""Ridge regression on markers (RR-BLUP), penalty by exact leave-one-out."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines._common import Baseline, _spectrum, _training_data
from snpcnn.errors import InputError


class RidgeRegression(Baseline):
    """Ridge regression on markers (RR-BLUP) with the penalty chosen by exact leave-one-out.

    Solves ``min_b,beta ||y - F b - X beta||^2 + alpha ||beta||^2`` with ``F = [1, C]``
    unpenalised.  Projecting ``F`` out of ``X`` (``X~ = S X``, ``S = I - F(F'F)^-1 F'``, which
    also centres the markers) gives ``beta = (X~'X~ + alpha I)^-1 X~'y`` and
    ``b = (F'F)^-1 F'(y - X beta)``.

    Penalty choice: one eigendecomposition ``X~ X~' = U diag(s2) U'`` gives, for every alpha,
    the hat matrix ``P_F + U diag(s2/(s2+alpha)) U'`` and hence the exact leave-one-out
    residuals ``e_i / (1 - h_ii)`` (the usual identity for quadratic-penalised least squares,
    fixed effects refitted in each leave-one-out fit).  ``alpha_`` minimises their mean square
    over the grid (the smallest alpha among ties).  Only the training data enter.

    Parameters
    ----------
    alphas : array, optional
        Absolute penalties to try.  Default: ``ratios * trace(X~'X~) / n`` with
        ``ratios = logspace(-3, 3, 61)``; the ratio plays the role of ``delta = sigma_e2 /
        sigma_g2`` in GBLUP (ratio 1 means h2 = 0.5 on the G scale).

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    alphas_ : array
        The grid searched.
    cv_mse_ : array
        Leave-one-out mean squared error for each alpha in ``alphas_``.
    loo_residuals_ : array (n,)
        Exact leave-one-out residuals ``y_i - yhat_(-i)`` of the training samples at
        ``alpha_`` (each from a fit without sample ``i``), in training order.
    coef_ : array (m,)
        Marker effects.
    beta_ : array
        Fixed effects, intercept first.
    intercept_ : float
        ``beta_[0]``.
    alpha_at_bound_ : bool
        True if ``alpha_`` is the smallest or largest alpha of the grid.
    notes_ : list of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, :20].sum(1) + rng.normal(size=60)
    >>> m = RidgeRegression().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "ridge"
    DEFAULT_RATIOS = np.logspace(-3, 3, 61)

    def __init__(self, alphas: Any = None) -> None:
        self.alphas = alphas

    def _params(self) -> dict[str, Any]:
        return {"alphas": self.alphas}

    def fit(self, X: Any, y: Any, C: Any = None) -> RidgeRegression:
        """Choose alpha by leave-one-out on the training data and fit the marker effects.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        X, y, fe, F = _training_data(X, y, C, "ridge")
        n, m = X.shape
        Q, _ = np.linalg.qr(F)
        Xt = X - Q @ (Q.T @ X)
        yt = y - Q @ (Q.T @ y)
        U, s2 = _spectrum(Xt)
        if self.alphas is None:
            alphas = self.DEFAULT_RATIOS * (float(s2.sum()) / n if len(s2) else 1.0)
        else:
            alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
            if alphas.ndim != 1 or len(alphas) == 0 or not (alphas > 0).all():
                raise InputError(f"alphas must be positive numbers, got {self.alphas!r}")
        Uy = U.T @ yt
        shrink = s2[None, :] / (s2[None, :] + alphas[:, None])  # (n_alpha, r)
        h_f = np.sum(Q * Q, axis=1)  # diagonal of P_F
        H_diag = h_f[:, None] + (U * U) @ shrink.T  # (n, n_alpha)
        resid = yt[:, None] - U @ (shrink * Uy[None, :]).T  # (n, n_alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            loo = resid / (1.0 - H_diag)
        mse = np.mean(loo**2, axis=0)
        mse = np.where(np.isfinite(mse), mse, np.inf)
        k = int(np.argmin(mse))
        alpha = float(alphas[k])
        w = Uy / (s2 + alpha)
        coef = Xt.T @ (U @ w)
        b, *_ = np.linalg.lstsq(F, y - X @ coef, rcond=None)
        self.notes_ = list(fe.notes)
        self.alpha_at_bound_ = bool(len(alphas) > 1 and k in (0, len(alphas) - 1))
        if self.alpha_at_bound_:
            self.notes_.append(f"chosen alpha {alpha:.4g} is at the edge of the grid")
        self.alpha_ = alpha
        self.alphas_ = alphas
        self.cv_mse_ = mse
        self.loo_residuals_ = loo[:, k].copy()
        self.coef_ = coef
        self.beta_ = b
        self.intercept_ = float(b[0])
        self.fixed_effect_names_ = fe.names
        self._fe = fe
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values ``X_new beta + F_new b``."""
        self._check_fitted()
        X_new = self._check_new(X_new)
        F_new = self._fe.design(C_new, X_new.shape[0])
        return X_new @ self.coef_ + F_new @ self.beta_
