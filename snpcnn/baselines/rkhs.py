"""RKHS regression: Gaussian-kernel GBLUP with the bandwidth chosen by REML."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines._common import Baseline, _targets_and_design, _training_data
from snpcnn.baselines.reml import _best_kernel, _reml, _reml_bounds, _store_reml
from snpcnn.errors import InputError

#: training rows up to which ``solver="auto"`` eigendecomposes the exact n x n kernels (five,
#: one per bandwidth); above, the Nystrom path (:meth:`RKHS._fit_nystrom`)
EXACT_MAX_N = 6000
#: landmark individuals of the Nystrom approximation (a random subsample, fixed seed; as
#: many as the large-n GBLUP's REML subsample): more landmarks, a closer kernel
#: (docs/bench/rkhs_nystrom.md), n x LANDMARKS float64 of memory
LANDMARKS = 3000
#: accepted values of ``solver``
RKHS_SOLVERS = ("auto", "exact", "nystrom")


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


class RKHS(Baseline):
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
    compute ``K_new,train``.

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
    ``landmarks >= n`` the approximation is the exact kernel.

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

    def _params(self) -> dict[str, Any]:
        return {
            "bandwidths": self.bandwidths,
            "log_delta_bounds": self.log_delta_bounds,
            "n_grid": self.n_grid,
            "solver": self.solver,
            "landmarks": self.landmarks,
        }

    def fit(self, X: Any, y: Any, C: Any = None) -> RKHS:
        """Choose the bandwidth and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        thetas = np.atleast_1d(np.asarray(self.bandwidths, dtype=np.float64))
        if thetas.ndim != 1 or len(thetas) == 0 or not (np.isfinite(thetas) & (thetas > 0)).all():
            raise InputError(f"bandwidths must be positive numbers, got {self.bandwidths!r}")
        if self.solver not in RKHS_SOLVERS:
            raise InputError(
                f"RKHS: solver must be one of {', '.join(RKHS_SOLVERS)}, got {self.solver!r}"
            )
        n_rows = int(X.shape[0]) if hasattr(X, "shape") else len(X)
        if self.solver == "nystrom" or (self.solver == "auto" and n_rows > EXACT_MAX_N):
            return self._fit_nystrom(X, y, C, lo, hi)
        X, y, fe, F = _training_data(X, y, C, "RKHS")
        n, m = X.shape
        center = X.mean(axis=0)
        D = _sq_distances(X, None, center)
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
        self.X_train_ = X.astype(np.float32)
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def _fit_nystrom(self, X: Any, y: Any, C: Any, lo: float, hi: float) -> RKHS:
        """The large-n path (class docstring): bandwidth on the landmarks, variance
        components by REML on all rows with the rank-``landmarks`` kernel."""
        from snpcnn.baselines._common import _EIG_RTOL
        from snpcnn.baselines.large_n import _block, _shape, row_blocks, subsample_rows

        X, n, m = _shape(X, "X")
        y, fe, F = _targets_and_design(y, C, n, "RKHS")
        k = int(self.landmarks)
        if k < 10:
            raise InputError(f"RKHS: landmarks must be at least 10, got {self.landmarks!r}")
        rows = subsample_rows(n, k)
        L = _block(X, rows, np.float64, "X")
        C_sub = None if C is None else np.asarray(C)[rows]
        sub = RKHS(self.bandwidths, self.log_delta_bounds, self.n_grid, solver="exact")
        sub.fit(L, y[rows], C_sub)
        scale = sub.bandwidth_ * sub.median_sq_distance_
        center = sub.center_
        lam_w, Q = np.linalg.eigh(np.exp(-_sq_distances(L, None, center) / scale))
        keep = lam_w > _EIG_RTOL * max(float(lam_w[-1]), 0.0)
        T = Q[:, keep] / np.sqrt(lam_w[keep])  # W^-1/2 on W's range (landmarks x r)
        phi = np.empty((n, T.shape[1]))  # K ~ phi phi'
        for sl in row_blocks(n, m, 8):
            B = _block(X, sl, np.float64, "X")
            phi[sl] = np.exp(-_sq_distances(B, L, center) / scale) @ T
        lam, V = np.linalg.eigh(phi.T @ phi)
        nz = lam > _EIG_RTOL * max(float(lam[-1]), 0.0)
        # U = phi V S^-1 (orthonormal columns: K ~ U diag(lam) U'), written over phi block by
        # block (one n x r matrix in memory); phi' r = V S U' r later
        M = V[:, nz] / np.sqrt(lam[nz])
        r_kept = int(nz.sum())
        for sl in row_blocks(n, phi.shape[1], 8):
            phi[sl, :r_kept] = phi[sl] @ M
        U = phi[:, :r_kept]
        reml = _reml(U, lam[nz], y, F, lo, hi, self.n_grid)
        _store_reml(self, reml, fe, lo, hi)
        # the landmarks' note on the bandwidth grid, then this fit's own
        self.notes_ = [x for x in sub.notes_ if "bandwidth" in x] + self.notes_
        self.notes_.append(
            f"Nystrom approximation: the Gaussian kernel through {len(rows):,} landmark "
            f"individuals of the {n:,} training rows (rank {r_kept}); bandwidth by REML "
            "on the landmarks, variance components by REML on all rows"
        )
        self.bandwidth_ = sub.bandwidth_
        self.median_sq_distance_ = sub.median_sq_distance_
        self.loglik_by_bandwidth_ = sub.loglik_by_bandwidth_
        self.dual_coef_ = reml.hinv_resid
        self.center_ = center
        self.landmarks_ = L.astype(np.float32)
        # g_new = C_new T phi' H^-1 (y - F b), phi' = V S U': one weight per landmark
        self.landmark_weights_ = T @ (V[:, nz] @ (np.sqrt(lam[nz]) * (U.T @ reml.hinv_resid)))
        self.landmark_rows_ = rows
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "nystrom"
        return self

    def kernel(self, X_new: Any) -> np.ndarray:
        """The Gaussian kernel between ``X_new`` and the training individuals (n_new x n)."""
        self._check_fitted()
        if getattr(self, "solver_", "exact") == "nystrom":
            raise InputError(
                "RKHS: a Nystrom fit keeps no training rows, only its landmarks; use "
                "genomic_values() or predict(), or fit with solver='exact'"
            )
        X_new = self._check_new(X_new)
        D = _sq_distances(X_new, self.X_train_.astype(np.float64), self.center_)
        return np.exp(-D / (self.bandwidth_ * self.median_sq_distance_))

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values ``g_new`` alone (no fixed effects)."""
        if getattr(self, "solver_", "exact") == "nystrom":
            from snpcnn.baselines.large_n import _block, _shape, row_blocks

            self._check_fitted()
            X_new, n_new, m = _shape(X_new, "X_new")
            if m != self.n_features_in_:
                raise InputError(
                    f"X_new has {m} SNP columns but the model was fitted on {self.n_features_in_}"
                )
            L = self.landmarks_.astype(np.float64)
            scale = self.bandwidth_ * self.median_sq_distance_
            out = np.empty(n_new)
            for sl in row_blocks(n_new, m, 8):
                B = _block(X_new, sl, np.float64, "X_new")
                out[sl] = np.exp(-_sq_distances(B, L, self.center_) / scale) @ (
                    self.landmark_weights_
                )
            return out
        return self.kernel(X_new) @ self.dual_coef_

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: ``K_new,train H^-1 (y - F b) + F_new b``."""
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_
