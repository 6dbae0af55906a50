"""RKHS regression: Gaussian-kernel GBLUP with the bandwidth chosen by REML."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines._common import Baseline, _training_data
from snpcnn.baselines.kernels_at_scale import (
    EXACT_MAX_N,
    KERNEL_SOLVERS,
    LANDMARKS,
    NystromMixin,
    block_training_data,
    n_rows_cols,
    pieces,
    use_blocks,
)
from snpcnn.baselines.reml import _best_kernel, _reml_bounds, _store_reml
from snpcnn.errors import InputError

#: accepted values of ``solver`` (the kernel baselines' solvers)
RKHS_SOLVERS = KERNEL_SOLVERS
__all__ = ["RKHS", "EXACT_MAX_N", "LANDMARKS", "RKHS_SOLVERS"]


def _sq_distances(A: np.ndarray, B: np.ndarray | None, center: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``A`` and ``B`` (``None``: ``A``
    itself), divided by the number of SNPs (the mean squared dosage difference).  ``center``
    (the training means) is subtracted first; it does not change a distance but keeps the
    cancellation error small."""
    A = A - center
    a2 = np.einsum("ij,ij->i", A, A)
    if B is None:
        B, b2 = A, a2
    else:
        B = B - center
        b2 = np.einsum("ij,ij->i", B, B)
    D = a2[:, None] + b2[None, :] - 2.0 * (A @ B.T)
    np.maximum(D, 0.0, out=D)
    return D / A.shape[1]


class RKHS(NystromMixin, Baseline):
    """RKHS regression (Gaussian-kernel GBLUP) with the bandwidth and variance components
    chosen by REML.

    The nonlinear genomic baseline of Gianola and van Kaam (2008) and Crossa et al. (2010):
    ``y = F b + g + e`` with ``g ~ N(0, sigma_g2 K)`` and the Gaussian kernel
    ``K_ij = exp(-d2_ij / (theta * median d2))``, where ``d2_ij`` is the mean squared dosage
    difference between individuals ``i`` and ``j`` over the SNPs and the median is taken over
    the distinct training pairs.  Unlike GBLUP's linear kernel, ``K`` lets the genetic values
    depend on interactions between loci (epistasis of every order).

    Fitting: for each relative bandwidth ``theta`` in ``bandwidths`` the kernel is
    eigendecomposed and the REML log-likelihood maximised over ``delta = sigma_e2 /
    sigma_g2`` exactly as in :class:`GBLUP`; the ``theta`` with the highest REML
    log-likelihood (the same data and fixed effects, so the likelihoods are comparable) is
    kept.  Only the training data enter.

    Prediction: ``g_new = K_new,train H^-1 (y - F b)`` with ``H = K + delta I`` (the BLUP of
    ``g`` at new individuals), plus ``F_new b``.  The training dosages are kept (float32) to
    compute ``K_new,train``; lazy rows (streamed folds) or an input whose float64 copy would
    exceed 256 MiB are read in column blocks instead, and lazy rows are kept by reference
    (:mod:`snpcnn.baselines.kernels_at_scale`).

    **Large n** (``solver="nystrom"``, and ``"auto"`` above :data:`EXACT_MAX_N` training
    rows, where five n x n eigendecompositions cost O(n^3) time and n^2 memory): the Nystrom
    approximation (Williams and Seeger 2001) ``K ~ C W^-1 C'`` through ``landmarks``
    individuals, a random subsample of the training rows (fixed seed), ``C`` the kernel
    between every training row and the landmarks, ``W`` that among the landmarks.  The
    bandwidth and the median distance come from the exact RKHS fit on the landmarks (their
    REML, as the large-n GBLUP takes ``delta`` from a subsample); the variance components
    then come from REML on **all** training rows with the rank-``landmarks`` kernel (exact
    REML for that kernel, through the eigenvectors of ``C W^-1 C'``).  Time O(n p m + n m^2),
    memory O(n m), ``m`` = ``landmarks``; predictions need only the landmarks.  With
    ``landmarks >= n`` the approximation is the exact kernel (shared with the other kernel
    baselines: :mod:`snpcnn.baselines.kernels_at_scale`).

    Parameters
    ----------
    bandwidths : sequence of float
        Relative bandwidths ``theta`` to try (multiples of the training median squared
        distance).
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.
    solver : {"auto", "exact", "nystrom"}
        ``"auto"``: exact up to :data:`EXACT_MAX_N` training rows, Nystrom above.
    landmarks : int
        Landmark individuals of the Nystrom path (default :data:`LANDMARKS`).

    Attributes
    ----------
    bandwidth_ : float
        The chosen ``theta``.
    median_sq_distance_ : float
        Median of the training pairs' mean squared dosage differences.
    loglik_by_bandwidth_ : dict
        REML log-likelihood of each ``theta``.
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, at_bound_, notes_
        As for :class:`GBLUP` (``h2_`` on the scale of ``K``, whose diagonal is 1).
    solver_ : str
        ``"exact"`` or ``"nystrom"``: the path this fit took (a Nystrom fit says so in
        ``notes_``, and its ``loglik_by_bandwidth_`` is the landmarks').
    landmark_model_, landmark_weights_, landmark_rows_
        A Nystrom fit's exact RKHS on the landmarks, one weight per landmark and the
        landmarks' training rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, 0] * X[:, 1] + rng.normal(size=60)
    >>> m = RKHS().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "RKHS"
    _fitted_attr = "dual_coef_"
    _grid_word = "bandwidth"
    _landmark_choice = "the bandwidth"
    DEFAULT_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)

    def __init__(
        self,
        bandwidths: Any = DEFAULT_BANDWIDTHS,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        solver: str = "auto",
        landmarks: int = LANDMARKS,
    ) -> None:
        self.bandwidths = bandwidths
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid
        self.solver = solver
        self.landmarks = landmarks

    def fit(self, X: Any, y: Any, C: Any = None) -> RKHS:
        """Choose the bandwidth and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`; ``X`` may also be lazy rows
        (:class:`snpcnn.datapath.DosageRows`), read in column blocks.  Returns ``self``.
        """
        X = self._fit_rows(X)  # names recorded; int8 -1 codes are no features
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        thetas = np.atleast_1d(np.asarray(self.bandwidths, dtype=np.float64))
        if thetas.ndim != 1 or len(thetas) == 0 or not (np.isfinite(thetas) & (thetas > 0)).all():
            raise InputError(f"bandwidths must be positive numbers, got {self.bandwidths!r}")
        if self._wants_nystrom(n_rows_cols(X)[0]):
            sub = self._fit_nystrom(X, y, C, lo, hi)
            self.bandwidth_ = sub.bandwidth_
            self.median_sq_distance_ = sub.median_sq_distance_
            self.loglik_by_bandwidth_ = sub.loglik_by_bandwidth_
            self.center_ = sub.center_
            return self
        if use_blocks(X):
            # column blocks: no float copy of the genotypes
            n, m, y, fe, F, stats = block_training_data(X, y, C, "RKHS")
            center = stats.mean
            P = pieces(X, None, center)
            D = P.sq_a[:, None] + P.sq_a[None, :] - 2.0 * P.lin
            del P
            np.maximum(D, 0.0, out=D)
            D /= m
            self.X_train_, self.train_rows_ = None, X
        else:
            X, y, fe, F = _training_data(X, y, C, "RKHS")
            X = X.astype(np.float32).astype(np.float64)  # the values X_train_ keeps (EGBLUP)
            n, m = X.shape
            center = X.mean(axis=0)
            D = _sq_distances(X, None, center)
            self.X_train_, self.train_rows_ = X.astype(np.float32), None
        med = float(np.median(D[np.triu_indices(n, 1)])) if n > 1 else 0.0
        if not med > 0:
            raise InputError(
                "RKHS: the median distance between training individuals is 0 (most of them "
                "have identical genotypes); use GBLUP or remove duplicate individuals"
            )
        theta, reml, by_theta = _best_kernel(
            thetas, lambda t: np.exp(-D / (t * med)), y, F, lo, hi, self.n_grid
        )
        _store_reml(self, reml, fe, lo, hi)
        if len(thetas) > 1 and theta in (thetas.min(), thetas.max()):
            self.notes_.append(f"chosen bandwidth {theta:g} is at the edge of the grid")
        self.bandwidth_ = theta
        self.median_sq_distance_ = med
        self.loglik_by_bandwidth_ = by_theta
        self.dual_coef_ = reml.hinv_resid
        self.center_ = center
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def kernel(self, X_new: Any) -> np.ndarray:
        """The Gaussian kernel between ``X_new`` and the training individuals (n_new x n)."""
        return self._kernel(self._new_rows(X_new))

    def _kernel(self, X_new: Any) -> np.ndarray:
        """:meth:`kernel` of checked rows (:meth:`_new_rows`)."""
        scale = self.bandwidth_ * self.median_sq_distance_
        train = self._blocked_train(X_new)
        if train is not None:
            P = pieces(X_new, train, self.center_)
            D = P.sq_a[:, None] + P.sq_b[None, :] - 2.0 * P.lin
            np.maximum(D, 0.0, out=D)
            return np.exp(-(D / self.n_features_in_) / scale)
        X_new = self._check_new(X_new)
        D = _sq_distances(X_new, self.X_train_.astype(np.float64), self.center_)
        return np.exp(-D / scale)

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
