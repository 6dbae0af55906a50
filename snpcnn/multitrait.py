"""Multi-trait (multi-environment) GBLUP, the standard model for CV1/CV2 schemes.

Model, for T traits (environments) measured on n lines::

    y_t = mu_t + C b_t + g_t + e_t,    cov(g) = Sg (x) G,    cov(e) = Se (x) I

``G`` is VanRaden's genomic relationship matrix of the training lines, ``Sg`` and ``Se`` are T x T
genetic and residual covariance matrices.  Missing cells are allowed: the BLUP of every line's
genetic values uses all the cells observed in training, so a line observed in other environments
borrows from them through the genetic correlations (the CV2 situation).

Estimation, step by step (documented in docs/baselines.md):

1. fixed effects: per trait, least squares of the observed values on ``[1, C]`` (training rows);
2. ``Sg`` and ``Se``: maximum likelihood on the OLS residuals.  Where every training line has
   every trait observed, after rotating by the eigenvectors of ``G`` (each rotated row is then
   independent with covariance ``d_k Sg + Se``).  Otherwise (missing cells, CV2) on every
   observed cell, with ``V = Sg (x) G + Se (x) I`` restricted to them (a Cholesky factor of
   size = observed cells per evaluation; lines drawn at random down to :data:`ESTIMATE_CELLS`
   cells above that).  Until session 33 only the complete lines entered, which on unbalanced
   data or under CV2 (each line has a cell hidden in most folds) left few lines and degenerate
   estimates.  Both matrices are parametrised by Cholesky factors, so they stay positive
   definite;
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

__all__ = ["MultiTraitGBLUP", "MIN_COMPLETE_ROWS", "MAX_CELLS", "EXACT_MAX_CELLS"]

#: training lines with every trait observed needed to estimate Sg and Se
MIN_COMPLETE_ROWS = 20
#: the exact BLUP solves a dense system of this many observed cells at most (memory
#: 8 * MAX_CELLS^2 bytes)
MAX_CELLS = 20_000
#: observed training cells above which ``solver="auto"`` takes the iterative path (no n x n
#: matrix: the covariances from a subsample, the marker effects by CG); its dense system
#: would hold 800 MB
EXACT_MAX_CELLS = 10_000
#: complete training lines at most for the iterative path's covariance estimate
SUBSAMPLE = 3000
#: observed cells at most in the covariance estimate on incomplete data (lines at random)
ESTIMATE_CELLS = 3000
#: accepted values of ``solver``
SOLVERS = ("auto", "exact", "iterative")


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


def _init_theta(init) -> np.ndarray:
    """The optimiser's parameters at ``init = (Sg, Se)``, each made positive definite."""
    out = []
    for S in init:
        S = np.asarray(S, dtype=np.float64)
        lam = np.linalg.eigvalsh(S)
        floor = max(1e-6 * float(np.max(np.abs(np.diag(S)))), 1e-9)
        if lam[0] < floor:
            S = S + (floor - lam[0]) * np.eye(len(S))
        out.append(_theta_from(S))
    return np.concatenate(out)


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


def _line_precisions(obs: np.ndarray, Se: np.ndarray) -> np.ndarray:
    """Per line (n x T x T): the inverse of ``Se`` on the line's observed traits, zero on the
    others (its residuals' precision)."""
    n, t = obs.shape
    patterns, which = np.unique(obs, axis=0, return_inverse=True)
    P = np.zeros((len(patterns), t, t))
    for k, pat in enumerate(patterns):
        idx = np.flatnonzero(pat)
        if len(idx):
            P[k][np.ix_(idx, idx)] = np.linalg.inv(Se[np.ix_(idx, idx)])
    return P[np.asarray(which).reshape(-1)]


def _snp_blup(X, mean, R, obs, Sg, Se, scale, tol, max_iter: int = 5000):
    """Marker effects ``B`` (SNPs x T) of the multi-trait model in its SNP-BLUP form:
    ``g = Z B`` with ``cov(g) = Sg (x) G``, residual precision ``P_i`` per line
    (:func:`_line_precisions`).  ML often puts ``Sg`` on the boundary (rank below T: two
    environments with genetic correlation 1), so its inverse is never formed: with
    ``Sg = L L'`` (``L`` T x k from the eigenvalues above 1e-10 of the largest),
    ``B = A L' / sqrt(s)`` and ``vec(A) ~ N(0, I)``, and ``A`` solves

        A + sum_i z_i z_i' A Pt_i = sum_i z_i r_i' P_i L / sqrt(s),   Pt_i = L' P_i L / s

    by conjugate gradient, each iteration one pass over the rows of ``X`` in float64 row
    blocks, preconditioned by each SNP's k x k block.  The BLUP of the exact path, to the CG
    tolerance (relative residual ``tol``)."""
    from snpcnn.baselines.large_n import _block, row_blocks

    n, m = X.shape
    lam, V = np.linalg.eigh(Sg)
    keep = lam > 1e-10 * max(float(lam[-1]), 0.0)
    L = V[:, keep] * np.sqrt(lam[keep])  # T x k
    k = L.shape[1]
    if k == 0:  # no genetic variance: every genomic value is 0
        return np.zeros((m, R.shape[1])), {"iterations": 0, "converged": True, "rel_residual": 0.0}
    P = _line_precisions(obs, Se)
    Pt = np.einsum("ak,iab,bl->ikl", L, P, L) / scale  # n x k x k
    Rz = np.where(obs, R, 0.0)
    rl = np.einsum("ak,iab,ib->ik", L, P, Rz) / np.sqrt(scale)  # L' P_i r_i / sqrt(s)
    rhs = np.zeros((m, k))
    diag = np.zeros((m, k, k))
    for sl in row_blocks(n, m, 8):
        Zb = _block(X, sl, np.float64, "X") - mean
        rhs += Zb.T @ rl[sl]
        diag += np.einsum("ij,ikl->jkl", np.square(Zb), Pt[sl])
    diag += np.eye(k)
    dinv = np.linalg.inv(diag)

    def apply(A: np.ndarray) -> np.ndarray:
        out = A.copy()
        for sl in row_blocks(n, m, 8):
            Zb = _block(X, sl, np.float64, "X") - mean
            out += Zb.T @ np.einsum("ikl,il->ik", Pt[sl], Zb @ A)
        return out

    def precondition(Rm: np.ndarray) -> np.ndarray:
        return np.einsum("jkl,jl->jk", dinv, Rm)

    bnorm = float(np.linalg.norm(rhs))
    A = np.zeros((m, k))
    info = {"iterations": 0, "converged": True, "rel_residual": 0.0}
    if bnorm > 0.0:
        res = rhs.copy()
        z = precondition(res)
        p = z.copy()
        rz = float(np.sum(res * z))
        rel = 1.0
        info = {"iterations": max_iter, "converged": False, "rel_residual": rel}
        for it in range(1, max_iter + 1):
            Ap = apply(p)
            alpha = rz / float(np.sum(p * Ap))
            A += alpha * p
            res -= alpha * Ap
            rel = float(np.linalg.norm(res)) / bnorm
            if rel < tol:
                info = {"iterations": it, "converged": True, "rel_residual": rel}
                break
            z = precondition(res)
            rz_new = float(np.sum(res * z))
            p = z + (rz_new / rz) * p
            rz = rz_new
        else:
            info["rel_residual"] = rel
    return A @ L.T / np.sqrt(scale), info


def _eigh(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``G``'s eigenvalues (negative rounding clipped to 0) and eigenvectors."""
    d, U = np.linalg.eigh(G)
    return np.clip(d, 0.0, None), U


def _own_ml(
    G: np.ndarray, R: np.ndarray, eig: dict | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Each trait's own ML variance components on its observed lines (rotated by the
    eigenvectors of their ``G``): ``(sg, se, nll)``, ``nll`` the sum over traits of the
    minimised negative log-likelihood (without the 2 pi constant, as the joint fits').
    ``eig``: eigendecompositions already computed, keyed by the observed lines' bytes
    (traits observed on the same lines share one)."""
    t = R.shape[1]
    sg, se = np.empty(t), np.empty(t)
    nll = 0.0
    eig = {} if eig is None else eig
    for j in range(t):
        o = np.flatnonzero(~np.isnan(R[:, j]))
        if o.tobytes() not in eig:
            eig[o.tobytes()] = _eigh(G[np.ix_(o, o)])
        d, U = eig[o.tobytes()]
        y2 = (U.T @ R[o, j]) ** 2

        def prof(h, d=d, y2=y2):  # profile -loglik in h = sg / (sg + se), up to n / 2
            w = h * d + (1.0 - h)
            return 0.5 * (np.sum(np.log(w)) + len(w) * np.log(np.mean(y2 / w)))

        h = optimize.minimize_scalar(prof, bounds=(1e-4, 1 - 1e-4), method="bounded").x
        scale = float(np.mean(y2 / (h * d + 1.0 - h)))
        sg[j], se[j] = max(h * scale, 1e-6), max((1.0 - h) * scale, 1e-6)
        nll += float(prof(h)) + 0.5 * len(o)
    return sg, se, nll


def _inverse(L: np.ndarray) -> np.ndarray:
    """``V^-1`` from the lower Cholesky factor ``L`` of ``V`` (lower triangle only; ``L`` is
    overwritten)."""
    Vi, info = linalg.lapack.dpotri(L, lower=1, overwrite_c=1)
    if info:
        raise InputError("multi-trait GBLUP: the covariance of the observed cells is singular")
    return Vi


def _leave_line_out(Vi: np.ndarray, alpha: np.ndarray, cells: list, n: int) -> np.ndarray:
    """Leave-one-line-out residuals (n x T, NaN where not observed) of the BLUP with ``Vi =
    V^-1`` (lower triangle, over the observed cells, trait-major) and ``alpha = V^-1 r``: for
    line i with observed cells b, ``r_b - E(r_b | every other line) = (V^-1)_bb^-1 alpha_b``.
    The fixed effects are taken as known (their estimate moves by O(1/n) without the line)."""
    t = len(cells)
    pos = np.full((n, t), -1)
    start = 0
    for j, idx in enumerate(cells):
        pos[idx, j] = start + np.arange(len(idx))
        start += len(idx)
    out = np.full((n, t), np.nan)
    for i in np.flatnonzero((pos >= 0).any(axis=1)):
        cols = np.flatnonzero(pos[i] >= 0)
        b = pos[i, cols]
        hi, lo = np.maximum.outer(b, b), np.minimum.outer(b, b)
        block = Vi[hi, lo]  # the lower triangle holds V^-1
        out[i, cols] = np.linalg.solve(block, alpha[b])
    return out


def _leave_cell_out(
    Vi: np.ndarray,
    alpha: np.ndarray,
    r: np.ndarray,
    cells: list,
    G: np.ndarray,
    Sg: np.ndarray,
    n: int,
) -> np.ndarray:
    """Leave-one-cell-out residuals of the genetic prediction (n x T, NaN where not
    observed): ``r_c - g_hat_c``, where ``g_hat_c`` is the BLUP of the cell's genetic value
    from every other observed cell, the same line's other traits included, as a CV2 test
    cell is predicted.  With ``P = V^-1`` and ``C`` the genetic covariance of the cells
    (``Sg (x) G``), hiding cell c gives ``V_-c^-1 r_-c = alpha - P_.c alpha_c / P_cc``, so
    ``g_hat_c = (C alpha)_c - (C P)_cc alpha_c / P_cc``: O(cells^2) from ``Vi`` (lower
    triangle), block by block."""
    t = len(cells)
    off = np.concatenate([[0], np.cumsum([len(c) for c in cells])])
    out = np.full((n, t), np.nan)
    for a in range(t):
        ra = slice(off[a], off[a + 1])
        c_alpha = np.zeros(len(cells[a]))
        c_p = np.zeros(len(cells[a]))
        for b in range(t):
            rb = slice(off[b], off[b + 1])
            C = Sg[a, b] * G[np.ix_(cells[a], cells[b])]
            if a > b:
                P = Vi[ra, rb]
            elif a < b:
                P = Vi[rb, ra].T
            else:
                P = np.tril(Vi[ra, ra])
                P = P + np.tril(P, -1).T
            c_alpha += C @ alpha[rb]
            c_p += np.einsum("ij,ij->i", C, P)
            if a == b:
                p_diag = np.diag(P).copy()
        g_hat = c_alpha - c_p * alpha[ra] / p_diag
        out[cells[a], a] = r[ra] - g_hat
    return out


def _cg_tolerance(tol: float, Se: np.ndarray) -> float:
    """The CG tolerance for residual covariance ``Se``: ``tol`` scaled down by the ratio of
    Se's smallest to largest eigenvalue, at most 10,000-fold.  Where ML puts ``Se`` on the
    boundary (two environments' residuals correlated 1, or a residual variance of 0), the
    per-line precisions are huge in one direction and the system ill-conditioned: at a
    relative residual of 1e-6, CG stopped 6e-2 (relative) away from the exact BLUP on a
    300-line case, at 1e-10 6e-6 (session 34; well-conditioned cases: 9e-7 at 1e-6)."""
    lam = np.linalg.eigvalsh(Se)
    ratio = float(lam[0] / lam[-1]) if lam[-1] > 0 else 0.0
    return float(tol) * min(1.0, max(ratio, 1e-4))


#: fitted arrays with one column per trait, in the traits' units
_PER_TRAIT = ("dual_", "effects_", "loo_residuals_", "loo_cell_residuals_")


class MultiTraitGBLUP:
    """Multi-trait GBLUP with ML-estimated genetic and residual covariance matrices.

    ``fit(X, Y, C=None)``: ``X`` (n x p) mean-imputed dosages, ``Y`` (n x T) with NaN for cells
    not observed.  ``predict(X_new, C_new=None)`` returns the n_new x T predictions (fixed effects
    + genetic values); a row of ``X_new`` equal to a training line gets that line's BLUP, which
    uses its own observed traits.  ``loo=True`` (exact solver) also gives the exact
    leave-one-line-out residuals ``loo_residuals_``; ``loo_cells=True`` as well the
    leave-one-cell-out residuals of the genetic prediction ``loo_cell_residuals_`` (CV2's case;
    an extra O(cells^2) pass, so only where asked).
    """

    def __init__(
        self,
        jitter: float = 1e-6,
        maxiter: int = 500,
        solver: str = "auto",
        subsample: int = SUBSAMPLE,
        tol: float = 1e-6,
        scale: float | None = None,
        loo: bool = False,
        loo_cells: bool = False,
        standardize: bool = True,
    ) -> None:
        self.jitter = jitter
        self.maxiter = maxiter
        self.solver = solver
        self.subsample = subsample
        self.tol = tol
        self.scale = scale
        self.loo = loo
        self.loo_cells = loo_cells
        self.standardize = standardize

    # ------------------------------------------------------------------ fit
    def fit(self, X, Y, C=None, *, kernel=None, init=None) -> MultiTraitGBLUP:
        """Fit on ``Y`` divided by each trait's SD (``standardize``, the default), then put
        every fitted quantity back in the traits' units: the jitter (a share of the mean
        variance over all traits) and the covariance floors are then the same share of every
        trait's variance.  On each trait's own scale they were not: a trait in kg beside one
        in t moved the first's test r from 0.41 to 0.37-0.40, and one of scale 1e-6 beside
        one of 1e6 got a genetic variance of 1e-4 of its true one (a checking helper, session
        41).  ``standardize=False`` fits ``Y`` as given (the default CNN's multi-trait start,
        whose traits are standardised already).  ``optimizer_["nll"]`` is the -log L of the
        standardised traits (``loglik_gain_`` is the same in any units).

        ``kernel``: an n x n relationship matrix of the training lines to use instead of
        the genomic one (e.g. the CNN-GP's kernel, :func:`snpcnn.training._multitrait_start`);
        exact solver only.  The fit then has dual weights ``dual_`` (n x T: ``g_hat(new) =
        kernel(new, train) @ dual_``) and no marker effects, so :meth:`predict` is refused.
        ``init``: ``(Sg, Se)`` to start the ML search from (e.g. a fit on another kernel of
        the same lines) instead of the default start.  The likelihood can have local optima,
        so the search may end elsewhere: on a simulated two-trait set with the CNN-GP's
        kernel, -log L 174.2 from MT-GBLUP's estimate against 179.7 from the default start
        (on wheat, MT-GBLUP reached one optimum from 4 starts)."""
        Y = np.asarray(Y, dtype=np.float64)
        for name in (*_PER_TRAIT, "trait_sd_"):
            if hasattr(self, name):  # an earlier fit's: never rescaled twice (a reviewer)
                delattr(self, name)
        if not self.standardize or Y.ndim != 2:
            return self._fit(X, Y, C, kernel, init)
        with np.errstate(all="ignore"):
            sd = np.nanstd(Y, axis=0)
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        if init is not None:
            init = (np.asarray(init[0]) / np.outer(sd, sd), np.asarray(init[1]) / np.outer(sd, sd))
        self._fit(X, Y / sd, C, kernel, init)
        # back to the traits' units
        self.trait_sd_ = sd
        self.coef_ = [c * sd[j] for j, c in enumerate(self.coef_)]
        self.Sg_ = self.Sg_ * np.outer(sd, sd)
        self.Se_ = self.Se_ * np.outer(sd, sd)
        for name in _PER_TRAIT:
            if hasattr(self, name):
                setattr(self, name, getattr(self, name) * sd)
        if hasattr(self, "alpha_"):  # V^-1 r in the standardised units (V and r scale alike)
            del self.alpha_
        return self

    def _fit(self, X, Y, C, kernel, init) -> MultiTraitGBLUP:
        from snpcnn.baselines._common import _check_dosage_range
        from snpcnn.baselines.kernels_at_scale import column_stats, is_lazy, pieces

        if not is_lazy(X):
            X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise InputError("multi-trait GBLUP: Y must be n x T with one row per genotype row")
        n, t = Y.shape
        if t < 2:
            raise InputError("multi-trait GBLUP needs at least 2 traits (environments)")
        if n < 3:
            raise InputError(
                f"multi-trait GBLUP needs at least 3 training lines, got n_samples={n}"
            )
        obs = ~np.isnan(Y)
        if self.solver not in SOLVERS:
            raise InputError(
                f"multi-trait GBLUP: solver must be one of {', '.join(SOLVERS)}, "
                f"got {self.solver!r}"
            )
        cells = int(obs.sum())
        iterative = self.solver == "iterative" or (
            self.solver == "auto" and cells > EXACT_MAX_CELLS
        )
        if kernel is not None:
            kernel = np.asarray(kernel, dtype=np.float64)
            if kernel.shape != (n, n):
                raise InputError(
                    f"multi-trait GBLUP: kernel must be {n} x {n} (the training lines), got "
                    f"{kernel.shape}"
                )
            if iterative:
                raise InputError(
                    "multi-trait GBLUP: a given kernel needs the exact solver "
                    f"({cells:,} observed cells; it takes up to {EXACT_MAX_CELLS:,})"
                )
        if not iterative and cells > MAX_CELLS:
            raise InputError(
                f"multi-trait GBLUP: {cells:,} observed training cells; the exact solver "
                f"solves a dense system and is limited to {MAX_CELLS:,}; use "
                "solver='iterative' (the default 'auto' does above "
                f"{EXACT_MAX_CELLS:,})"
            )
        C = None if C is None else np.asarray(C, dtype=np.float64).reshape(n, -1)
        stats = column_stats(X)
        if kernel is None:  # the relationship matrix needs columns that vary
            if self.scale is None:  # ... and VanRaden's scale 0..2 dosages
                _check_dosage_range(stats.lo, stats.hi, "multi-trait GBLUP")
            if not stats.varying:
                raise InputError(
                    "multi-trait GBLUP: every SNP is monomorphic in the training rows (all "
                    "dosages equal per column); nothing to fit"
                )
        mean = stats.mean
        self.p_ = mean / 2.0
        self.scale_ = (
            2.0 * float(np.sum(self.p_ * (1.0 - self.p_)))
            if self.scale is None
            else float(self.scale)
        )
        if self.scale_ <= 0 and kernel is None:
            raise InputError("multi-trait GBLUP: every SNP is monomorphic in the training rows")
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
        flat = [j + 1 for j in range(t) if np.nanstd(R[obs[:, j], j]) == 0]
        if flat:
            raise InputError(
                f"multi-trait GBLUP: trait {flat[0]} is constant in the training rows (after "
                "its fixed effects); leave it out"
            )
        # 2. covariance matrices by ML: on the rotated complete lines where every line is
        # complete, else on every observed cell (of at most ESTIMATE_CELLS, lines at random)
        seen = np.flatnonzero(obs.any(axis=1))
        if len(seen) < MIN_COMPLETE_ROWS:
            raise InputError(
                f"multi-trait GBLUP: only {len(seen)} training lines have an observed trait; "
                f"at least {MIN_COMPLETE_ROWS} are needed to estimate the genetic correlations"
            )
        self.n_traits_ = t
        self.complete_ = bool(obs[seen].all())
        if self.complete_:
            est_rows = seen
        else:
            order = np.random.default_rng(0).permutation(seen)
            keep = np.cumsum(obs[order].sum(axis=1)) <= ESTIMATE_CELLS
            est_rows = np.sort(order[keep]) if not keep.all() else seen
        self.n_estimate_lines_ = len(est_rows)
        self.n_estimate_cells_ = int(obs[est_rows].sum())
        if iterative:
            if self.loo:
                raise InputError(
                    f"multi-trait GBLUP: leave-one-line-out residuals need the exact solver "
                    f"({cells:,} observed cells; it takes up to {EXACT_MAX_CELLS:,})"
                )
            return self._fit_iterative(X, R, obs, mean, est_rows)
        self.solver_ = "exact"
        # Z Z' over column blocks, Z = X - 2p (or the kernel given)
        G = pieces(X, None, mean).lin / self.scale_ if kernel is None else kernel
        self.Sg_, self.Se_ = self._estimate_on(G[np.ix_(est_rows, est_rows)], R[est_rows], init)
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
        factor = linalg.cho_factor(V, lower=True, overwrite_a=True)
        del V
        self.alpha_ = linalg.cho_solve(factor, r)
        self.cells_ = cells_i
        if self.loo:
            Vi = _inverse(factor[0])
            self.loo_residuals_ = _leave_line_out(Vi, self.alpha_, cells_i, n)
            if self.loo_cells:  # one cell hidden, its line's other traits seen (CV2's case)
                self.loo_cell_residuals_ = _leave_cell_out(
                    Vi, self.alpha_, r, cells_i, G, self.Sg_, n
                )
            del Vi
        del factor
        # the dual weights per line and trait, mixed by Sg: g_hat(new) = G(new, train) U
        U = np.zeros((n, t))
        start = 0
        for b in range(t):
            idx = cells_i[b]
            U[idx] += self.alpha_[start : start + len(idx), None] * self.Sg_[:, b][None, :]
            start += len(idx)
        self.dual_ = U
        if kernel is None:
            self.effects_ = _transposed_matrix(X, mean, U) / self.scale_
        elif hasattr(self, "effects_"):
            del self.effects_  # a refit on a kernel: no marker effects
        return self

    def _fit_iterative(self, X, R, obs, mean, lines) -> MultiTraitGBLUP:
        """Steps 2-3 without an n x n matrix: ``Sg`` and ``Se`` by ML on a random subsample of
        at most ``subsample`` of ``lines`` (their G from column blocks), then the marker
        effects by block-preconditioned CG on the SNP-BLUP equations of the same model."""
        from snpcnn.baselines.large_n import subsample_gram, subsample_rows

        if int(self.subsample) < MIN_COMPLETE_ROWS:
            raise InputError(
                f"multi-trait GBLUP: subsample must be at least {MIN_COMPLETE_ROWS} lines (the "
                f"covariance estimate needs them), got {self.subsample!r}"
            )
        rows = lines[subsample_rows(len(lines), int(self.subsample))]
        G = subsample_gram(X, rows, mean) / self.scale_
        self.Sg_, self.Se_ = self._estimate_on(G, R[rows])
        self.n_estimate_lines_ = len(rows)
        self.n_estimate_cells_ = int(obs[rows].sum())
        del G
        # the exact path's jitter (jitter x the mean diagonal of V over the observed cells) as
        # residual variance: the same system, and a residual covariance that ML put on the
        # boundary (singular Se, common on small data) no longer makes the per-line precisions
        # blow up (a checking helper: CG then "converged" 3.3 away from the exact BLUP)
        Se = self.Se_
        if self.jitter:
            from snpcnn.baselines.large_n import _block, row_blocks

            n, m = X.shape
            gdiag = np.zeros(n)
            for sl in row_blocks(n, m, 8):
                gdiag[sl] = np.sum(np.square(_block(X, sl, np.float64, "X") - mean), axis=1)
            gdiag /= self.scale_
            dv = np.concatenate(
                [self.Sg_[j, j] * gdiag[obs[:, j]] + self.Se_[j, j] for j in range(obs.shape[1])]
            )
            Se = Se + float(self.jitter) * float(np.mean(dv)) * np.eye(len(Se))
        self.effects_, self.cg_ = _snp_blup(
            X, mean, R, obs, self.Sg_, Se, self.scale_, _cg_tolerance(self.tol, Se)
        )
        self.solver_ = "iterative"
        self.n_subsample_ = len(rows)
        return self

    @staticmethod
    def _design(C, n):
        return np.ones((n, 1)) if C is None else np.column_stack([np.ones(n), C])

    def _estimate_on(
        self, G: np.ndarray, R: np.ndarray, init=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``Sg``, ``Se`` by ML on the lines of ``G`` and ``R`` (NaN = not observed).  Also
        ``loglik_gain_``: the maximised log-likelihood minus that of the same model with
        zero genetic and residual correlations (each trait's own ML variances; the
        likelihood-ratio statistic is twice it, with T(T-1) degrees of freedom)."""
        if not np.isnan(R).any():
            d, U = _eigh(G)  # one eigendecomposition for both fits
            _, _, nll0 = _own_ml(G, R, {np.arange(len(R)).tobytes(): (d, U)})
            Sg, Se = self._estimate(R, d, U, init)
        else:
            sg0, se0, nll0 = _own_ml(G, R)
            Sg, Se = self._estimate_cells(G, R, (sg0, se0), init)
        self.loglik_gain_ = float(nll0 - self.optimizer_["nll"])
        return Sg, Se

    def _estimate_cells(
        self, G: np.ndarray, R: np.ndarray, own: tuple, init=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """ML on every observed cell: ``r ~ N(0, V)``, ``V = [Sg (x) G + Se (x) I]`` restricted
        to the observed cells (trait-major), with the exact gradient ``d(nll)/dSg_ab =
        sum(B_ab * G_ab) / 2`` and ``d(nll)/dSe_ab = sum of B_ab over the cell pairs of one
        line / 2``, ``B = V^-1 - V^-1 r r' V^-1`` (block ``ab``).  Started at zero
        correlations and each trait's own ML variance components."""
        t = R.shape[1]
        obs = ~np.isnan(R)
        cells = [np.flatnonzero(obs[:, j]) for j in range(t)]
        off = np.concatenate([[0], np.cumsum([len(c) for c in cells])])
        c = int(off[-1])
        r = np.concatenate([R[cells[j], j] for j in range(t)])
        pairs = [(a, b) for a in range(t) for b in range(a, t)]
        Gb = {(a, b): G[np.ix_(cells[a], cells[b])] for a, b in pairs}
        same = {}
        for a, b in pairs:
            _, ia, ib = np.intersect1d(cells[a], cells[b], assume_unique=True, return_indices=True)
            same[(a, b)] = (ia, ib)
        # start: each trait's own ML variance components (its observed lines, rotated by the
        # eigenvectors of their G), correlations zero; the joint fit then mostly moves the
        # correlations (fewer evaluations than a start at half the variance each)
        sg0, se0 = own
        x0 = (
            _init_theta(init)
            if init is not None
            else np.concatenate([_theta_from(np.diag(sg0)), _theta_from(np.diag(se0))])
        )
        k = t * (t + 1) // 2
        eye = np.eye(t)

        def nll(theta):
            Lg, Le = _chol_from(theta[:k], t), _chol_from(theta[k:], t)
            Sg, Se = Lg @ Lg.T, Le @ Le.T + 1e-9 * eye
            V = np.empty((c, c))
            for a, b in pairs:
                blk = Sg[a, b] * Gb[(a, b)]
                ia, ib = same[(a, b)]
                blk[ia, ib] += Se[a, b]
                V[off[a] : off[a + 1], off[b] : off[b + 1]] = blk
                if a != b:
                    V[off[b] : off[b + 1], off[a] : off[a + 1]] = blk.T
            try:
                L = linalg.cholesky(V, lower=True, overwrite_a=True, check_finite=False)
            except linalg.LinAlgError:
                return 1e300, np.zeros_like(theta)
            alpha = linalg.cho_solve((L, True), r, check_finite=False)
            value = float(np.sum(np.log(np.diag(L)))) + 0.5 * float(r @ alpha)
            # V^-1 in the lower triangle only (its upper triangle stays zero): block (b, a),
            # b >= a, is read there and transposed; a diagonal block counts its off-diagonal
            # entries twice
            Vi, info = linalg.lapack.dpotri(L, lower=1, overwrite_c=1)
            if info:
                return 1e300, np.zeros_like(theta)
            dG, dE = np.zeros((t, t)), np.zeros((t, t))
            for a, b in pairs:
                al_a, al_b = alpha[off[a] : off[a + 1]], alpha[off[b] : off[b + 1]]
                Vba = Vi[off[b] : off[b + 1], off[a] : off[a + 1]]  # lower: b >= a
                Gab = Gb[(a, b)]
                ia, ib = same[(a, b)]
                if a == b:
                    tr_g = 2.0 * float(np.einsum("ij,ij->", Vba, Gab)) - float(
                        np.diagonal(Vba) @ np.diagonal(Gab)
                    )
                    tr_e = float(np.trace(Vba))
                else:
                    tr_g = float(np.einsum("ji,ij->", Vba, Gab))
                    tr_e = float(np.sum(Vba[ib, ia]))
                dG[a, b] = dG[b, a] = 0.5 * (tr_g - float(al_a @ Gab @ al_b))
                dE[a, b] = dE[b, a] = 0.5 * (tr_e - float(al_a[ia] @ al_b[ib]))
            return value, np.concatenate([_chol_grad(dG, Lg), _chol_grad(dE, Le)])

        return self._maximise(nll, x0, t, ftol=1e-10, gtol=1e-6)

    def _maximise(self, nll, x0, t: int, ftol: float, gtol: float):
        """``Sg``, ``Se`` at the minimum of ``nll`` (value and gradient in the Cholesky
        parameters, ``Sg``'s first) by L-BFGS from ``x0``; ``optimizer_`` says how it went."""
        k = t * (t + 1) // 2
        res = optimize.minimize(
            nll,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.maxiter, "maxfun": 20_000, "ftol": ftol, "gtol": gtol},
        )
        Lg, Le = _chol_from(res.x[:k], t), _chol_from(res.x[k:], t)
        self.optimizer_ = {
            "success": bool(res.success),
            "nll": float(res.fun),
            "nit": res.nit,
            "nfev": res.nfev,
        }
        return Lg @ Lg.T, Le @ Le.T

    def _estimate(
        self, R: np.ndarray, d: np.ndarray, U: np.ndarray, init=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """ML on complete lines rotated by ``G = U diag(d) U'``."""
        t = R.shape[1]
        Ys = U.T @ R  # rows independent: cov = d_k Sg + Se
        S = np.cov(R, rowvar=False) + 1e-9 * np.eye(t)
        x0 = (
            _init_theta(init)
            if init is not None
            else np.concatenate([_theta_from(0.5 * S), _theta_from(0.5 * S)])
        )
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

        return self._maximise(nll, x0, t, ftol=1e-14, gtol=1e-8)

    # -------------------------------------------------------------- predict
    def genomic_values(self, X_new) -> np.ndarray:
        if not hasattr(self, "effects_"):
            if hasattr(self, "dual_"):
                raise InputError(
                    "multi-trait GBLUP fitted on a given kernel: predict new lines as "
                    "kernel(new, train) @ dual_"
                )
            raise InputError("multi-trait GBLUP: call fit() before predict()")
        from snpcnn.baselines._common import check_columns
        from snpcnn.baselines.kernels_at_scale import _columns, _steps, is_lazy, n_rows_cols

        if not is_lazy(X_new):
            X_new = np.asarray(X_new, dtype=np.float64)
        n, m = n_rows_cols(X_new)
        check_columns(m, len(self.p_), type(self).__name__)
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
