"""Multi-trait (multi-environment) GBLUP, the standard model for CV1/CV2 schemes.

Model, for T traits (environments) measured on n lines::

    y_t = mu_t + C b_t + g_t + e_t,    cov(g) = Sg (x) G,    cov(e) = Se (x) I

``G`` is VanRaden's genomic relationship matrix of the training lines, ``Sg`` and ``Se`` are T x T
genetic and residual covariance matrices.  Missing cells are allowed: the BLUP of every line's
genetic values uses all the cells observed in training, so a line observed in other environments
borrows from them through the genetic correlations (the CV2 situation).

Estimation, step by step (documented in docs/baselines.md):

1. fixed effects: per trait, least squares of the observed values on ``[1, C]`` (training rows);
2. ``Sg`` and ``Se``: maximum likelihood on the OLS residuals of the training lines that have
   every trait observed, after rotating by the eigenvectors of their ``G`` (each rotated row is
   then independent with covariance ``d_k Sg + Se``); both are parametrised by Cholesky factors,
   so they stay positive definite;
3. BLUP: ``g_hat(new) = [Sg (x) G(new, train)][:, obs] V_obs^-1 r_obs`` with
   ``V = Sg (x) G + Se (x) I`` restricted to the observed training cells (one Cholesky solve of
   size = number of observed cells).  As ``G(new, train) = Z_new Z' / s``, the model keeps
   per-trait marker effects ``Z' U / s`` (``U`` the dual weights mixed by ``Sg``), p x T
   numbers, not the training genotypes.

The genotypes are read in column blocks (:mod:`snpcnn.baselines.kernels_at_scale`): an
array, or streamed int8 rows (:class:`snpcnn.datapath.DosageRows`), never more than one float
block of them at a time.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, optimize

from snpcnn.errors import InputError

__all__ = ["MultiTraitGBLUP", "MIN_COMPLETE_ROWS", "MAX_CELLS"]

#: training lines with every trait observed needed to estimate Sg and Se
MIN_COMPLETE_ROWS = 20
#: the BLUP solves a dense system of this many observed cells at most (memory 8 * MAX_CELLS^2 bytes)
MAX_CELLS = 20_000


def _chol_from(theta: np.ndarray, t: int) -> np.ndarray:
    L = np.zeros((t, t))
    L[np.tril_indices(t)] = theta
    L[np.diag_indices(t)] = np.exp(np.diag(L))
    return L


def _chol_grad(dS: np.ndarray, L: np.ndarray) -> np.ndarray:
    """The gradient in the parameters of :func:`_chol_from` of a function of ``S = L L'``
    whose gradient in ``S`` is the symmetric ``dS``."""
    dL = 2.0 * dS @ L
    dL[np.diag_indices(len(L))] *= np.diag(L)  # the diagonal is exp(theta)
    return dL[np.tril_indices(len(L))]


def _theta_from(S: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(S)
    L = L.copy()
    L[np.diag_indices(len(S))] = np.log(np.diag(L))
    return L[np.tril_indices(len(S))]


def _transposed_matrix(X, mean: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``(X - mean)' U`` (SNPs x columns of ``U``) over column blocks of ``X``."""
    from snpcnn.baselines.kernels_at_scale import _columns, _steps, n_rows_cols

    n, m = n_rows_cols(X)
    out = np.empty((m, U.shape[1]))
    starts, step = _steps(n, m)
    for c0 in starts:
        c1 = min(m, c0 + step)
        out[c0:c1] = (_columns(X, c0, c1, "X") - mean[c0:c1]).T @ U
    return out


class MultiTraitGBLUP:
    """Multi-trait GBLUP with ML-estimated genetic and residual covariance matrices.

    ``fit(X, Y, C=None)``: ``X`` (n x p) mean-imputed dosages, ``Y`` (n x T) with NaN for cells
    not observed.  ``predict(X_new, C_new=None)`` returns the n_new x T predictions (fixed effects
    + genetic values); a row of ``X_new`` equal to a training line gets that line's BLUP, which
    uses its own observed traits.
    """

    def __init__(self, jitter: float = 1e-6, maxiter: int = 500) -> None:
        self.jitter = jitter
        self.maxiter = maxiter

    # ------------------------------------------------------------------ fit
    def fit(self, X, Y, C=None) -> MultiTraitGBLUP:
        from snpcnn.baselines.kernels_at_scale import column_stats, is_lazy, pieces

        if not is_lazy(X):
            X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise InputError("multi-trait GBLUP: Y must be n x T with one row per genotype row")
        n, t = Y.shape
        if t < 2:
            raise InputError("multi-trait GBLUP needs at least 2 traits (environments)")
        obs = ~np.isnan(Y)
        if int(obs.sum()) > MAX_CELLS:
            raise InputError(
                f"multi-trait GBLUP: {int(obs.sum()):,} observed training cells; it solves a "
                f"dense system and is limited to {MAX_CELLS:,}; leave it out (--baselines) for "
                "data this large"
            )
        C = None if C is None else np.asarray(C, dtype=np.float64).reshape(n, -1)
        mean = column_stats(X).mean
        self.p_ = mean / 2.0
        self.scale_ = 2.0 * float(np.sum(self.p_ * (1.0 - self.p_)))
        if self.scale_ <= 0:
            raise InputError("multi-trait GBLUP: every SNP is monomorphic in the training rows")
        # Z Z' over column blocks, Z = X - 2p
        G = pieces(X, None, mean).lin / self.scale_
        # 1. fixed effects per trait
        self.coef_ = []
        R = np.full_like(Y, np.nan)
        for j in range(t):
            ok = obs[:, j]
            if ok.sum() < 3:
                raise InputError(
                    f"multi-trait GBLUP: trait {j + 1} has fewer than 3 training values"
                )
            D = self._design(C, n)[ok]
            coef, *_ = np.linalg.lstsq(D, Y[ok, j], rcond=None)
            self.coef_.append(coef)
            R[ok, j] = Y[ok, j] - D @ coef
        # 2. covariance matrices by ML on the complete rows
        complete = obs.all(axis=1)
        if complete.sum() < MIN_COMPLETE_ROWS:
            raise InputError(
                f"multi-trait GBLUP: only {int(complete.sum())} training lines have every trait "
                f"observed; at least {MIN_COMPLETE_ROWS} are needed to estimate the genetic "
                "correlations"
            )
        self.Sg_, self.Se_ = self._estimate(G[np.ix_(complete, complete)], R[complete])
        # 3. BLUP weights on the observed cells (trait-major order)
        cells_i = [np.flatnonzero(obs[:, j]) for j in range(t)]
        blocks = []
        for a in range(t):
            row = []
            for b in range(t):
                Gab = self.Sg_[a, b] * G[np.ix_(cells_i[a], cells_i[b])]
                if a == b:
                    Gab[np.diag_indices_from(Gab)] += self.Se_[a, a]
                else:
                    # residual covariance only between cells of the same line
                    same = cells_i[a][:, None] == cells_i[b][None, :]
                    Gab = Gab + self.Se_[a, b] * same
                row.append(Gab)
            blocks.append(row)
        V = np.block(blocks)
        V[np.diag_indices_from(V)] += self.jitter * np.mean(np.diag(V))
        r = np.concatenate([R[cells_i[j], j] for j in range(t)])
        self.alpha_ = linalg.cho_solve(linalg.cho_factor(V, lower=True), r)
        self.cells_ = cells_i
        self.n_traits_ = t
        # the dual weights per line and trait, mixed by Sg: g_hat(new) = G(new, train) U
        U = np.zeros((n, t))
        start = 0
        for b in range(t):
            idx = cells_i[b]
            U[idx] += self.alpha_[start : start + len(idx), None] * self.Sg_[:, b][None, :]
            start += len(idx)
        self.effects_ = _transposed_matrix(X, mean, U) / self.scale_
        return self

    @staticmethod
    def _design(C, n):
        return np.ones((n, 1)) if C is None else np.column_stack([np.ones(n), C])

    def _estimate(self, G: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = R.shape[1]
        d, U = np.linalg.eigh(G)
        d = np.clip(d, 0.0, None)
        Ys = U.T @ R  # rows independent: cov = d_k Sg + Se
        S = np.cov(R, rowvar=False) + 1e-9 * np.eye(t)
        x0 = np.concatenate([_theta_from(0.5 * S), _theta_from(0.5 * S)])
        k = t * (t + 1) // 2

        def nll(theta):
            # -log L and its exact gradient in theta: with V_k = d_k Sg + Se and
            # A_k = V_k^-1 - V_k^-1 y_k y_k' V_k^-1, d(nll)/dSg = sum_k d_k A_k / 2 and
            # d(nll)/dSe = sum_k A_k / 2; through S = L L', d/dL = 2 (dS) L, and the
            # diagonal of L is exp(theta) (finite differences left the optimum uncertain in
            # the 4th digit: a flat likelihood)
            Lg, Le = _chol_from(theta[:k], t), _chol_from(theta[k:], t)
            Sg, Se = Lg @ Lg.T, Le @ Le.T + 1e-9 * np.eye(t)
            V = d[:, None, None] * Sg[None] + Se[None]
            sign, logdet = np.linalg.slogdet(V)
            if np.any(sign <= 0):
                return 1e300, np.zeros_like(theta)
            Vi = np.linalg.inv(V)
            a = np.einsum("kij,kj->ki", Vi, Ys)  # V_k^-1 y_k
            A = Vi - a[:, :, None] * a[:, None, :]
            grad = np.concatenate(
                [
                    _chol_grad(np.einsum("k,kij->ij", d, A) / 2.0, Lg),
                    _chol_grad(A.sum(axis=0) / 2.0, Le),
                ]
            )
            return 0.5 * (float(logdet.sum()) + float(np.einsum("ki,ki->", Ys, a))), grad

        res = optimize.minimize(
            nll,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.maxiter, "maxfun": 20_000, "ftol": 1e-14, "gtol": 1e-8},
        )
        Lg, Le = _chol_from(res.x[:k], t), _chol_from(res.x[k:], t)
        self.optimizer_ = {"success": bool(res.success), "nll": float(res.fun), "nit": res.nit}
        return Lg @ Lg.T, Le @ Le.T

    # -------------------------------------------------------------- predict
    def genomic_values(self, X_new) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise InputError("multi-trait GBLUP: call fit() before predict()")
        from snpcnn.baselines.kernels_at_scale import _columns, _steps, is_lazy, n_rows_cols

        if not is_lazy(X_new):
            X_new = np.asarray(X_new, dtype=np.float64)
        n, m = n_rows_cols(X_new)
        if m != len(self.p_):
            raise InputError(
                f"multi-trait GBLUP: X_new has {m} SNP columns but the model was fitted on "
                f"{len(self.p_)}"
            )
        out = np.zeros((n, self.n_traits_))
        starts, step = _steps(n, m)
        for c0 in starts:
            c1 = min(m, c0 + step)
            Zb = _columns(X_new, c0, c1, "X_new") - 2.0 * self.p_[c0:c1]
            out += Zb @ self.effects_[c0:c1]
        return out

    def predict(self, X_new, C_new=None) -> np.ndarray:
        g = self.genomic_values(X_new)
        n = len(g)
        C_new = None if C_new is None else np.asarray(C_new, dtype=np.float64).reshape(n, -1)
        D = self._design(C_new, n)
        return g + np.column_stack([D @ c for c in self.coef_])

    @property
    def genetic_correlations(self) -> np.ndarray:
        s = np.sqrt(np.diag(self.Sg_))
        return self.Sg_ / np.outer(s, s)
