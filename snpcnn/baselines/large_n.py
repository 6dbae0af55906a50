"""Large-n solvers for GBLUP and ridge: no n x n matrix of all training rows (above
:data:`LARGE_N` of them: below, :func:`solve_exact` may form one), no float copy of the
whole genotype matrix.

GBLUP and ridge are the same linear model in two parametrisations.  With ``Z`` the centred
dosages, ``F = [1, C]`` the fixed effects and ``S = I - Q Q'`` the projection that absorbs
them (``Q`` an orthonormal basis of ``F``), the marker effects solve the SNP-BLUP /
ridge system

    (Z' S Z + lambda I) beta = Z' S y

(GBLUP: ``lambda = delta * s``, ``delta = sigma_e2 / sigma_g2`` on the scale of the
VanRaden ``G = Z Z' / s``; ridge: ``lambda = alpha``).  The exact path eigendecomposes an
n x n matrix (O(n^2 m + n^3) time, several float64 n x m copies).  Past
:data:`LARGE_N` training rows the models use instead:

* **Marker effects by preconditioned conjugate gradient** on the system above.  Each
  iteration is one pass over the rows of ``X`` in blocks of about :data:`BLOCK_BYTES`: a
  block (int8, float32 or float64 in the input) is converted to float32 and used twice,
  ``u_b = Z_b v`` and ``Z_b' u_b``, so the matrix product ``Z' S Z v`` never needs more than
  one float block.  The preconditioner is the diagonal of ``Z' S Z + lambda I`` (Jacobi),
  from the same first pass that gives the column means, ``Z' Q`` and ``Z' S y``.
* **The variance ratio from a random subsample** of at most ``subsample`` training rows
  (default :data:`SUBSAMPLE`, drawn with a fixed seed): GBLUP runs its exact REML there
  (``delta``), ridge its exact leave-one-out over the penalty grid (``alpha``).  Both are
  properties of the population (``delta`` of the heritability, ``alpha`` of the per-marker
  effect variance), not of n, so a few thousand rows estimate them well; the marker effects
  then use every training row.  The subsample's n_sub x n_sub Gram matrix is built over
  column blocks of ``X`` (float32), so it needs no float copy of the subsample either.

Memory: the int8 (or float) input, one float32 block, and O(m) vectors; no n x n matrix of
the full training set.  Time: O(n m) per CG iteration plus O(n_sub^2 m + n_sub^3) for the
variance ratio.  :data:`LARGE_N` and the accuracy against the exact path are measured in
``benchmarks/bench_large_n.py`` (docs/bench/large_n.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from snpcnn.baselines._common import (
    _EIG_RTOL,
    _FixedEffects,
    _targets_and_design,
    check_columns,
    not_2d,
)
from snpcnn.errors import InputError

__all__ = [
    "LARGE_N",
    "SUBSAMPLE",
    "BLOCK_BYTES",
    "SOLVERS",
    "use_iterative",
    "row_blocks",
    "linear_predict",
]

#: Training rows above which ``solver="auto"`` uses the large-n path (measured:
#: docs/bench/large_n.md).
LARGE_N = 3000
#: Default size of the random subsample the variance ratio is estimated on.
SUBSAMPLE = 3000
#: Target size of one float32 row block (bytes).
BLOCK_BYTES = 64 * 2**20
#: Accepted values of the ``solver`` parameter.
SOLVERS = ("auto", "exact", "iterative")


def use_iterative(solver: str, n: int, who: str) -> bool:
    """Whether a fit on ``n`` training rows takes the large-n path."""
    if solver not in SOLVERS:
        raise InputError(f"{who}: solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    return solver == "iterative" or (solver == "auto" and n > LARGE_N)


def _shape(X: Any, what: str) -> tuple[Any, int, int]:
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X, dtype=np.float64)
    if len(X.shape) != 2:
        raise not_2d(what, X.shape)
    # bool (0/1 presence/absence) is accepted, as fit accepts it
    if X.dtype == object:  # numbers held as Python objects (a pandas object column)
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{what} must hold numbers (dosages), got dtype object") from None
    if not (
        np.issubdtype(X.dtype, np.integer)
        or np.issubdtype(X.dtype, np.floating)
        or X.dtype == np.bool_
    ):
        raise InputError(f"{what} must hold numbers (dosages), got dtype {X.dtype}")
    return X, int(X.shape[0]), int(X.shape[1])


def row_blocks(n: int, m: int, itemsize: int = 4) -> Iterator[slice]:
    """Slices of about :data:`BLOCK_BYTES` (at ``itemsize`` bytes per value) over n rows."""
    step = max(1, min(n, BLOCK_BYTES // max(1, itemsize * m)))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _block(X: Any, rows: Any, dtype: Any, what: str) -> np.ndarray:
    B = np.asarray(X[rows], dtype=dtype)
    if np.issubdtype(X.dtype, np.floating) and not np.isfinite(B).all():
        raise InputError(
            f"{what} contains NaN or infinite values; impute missing dosages with the "
            "training-fold mean before calling fit/predict"
        )
    return B


def linear_predict(
    X_new: Any, n_features: int, center: np.ndarray, coef: np.ndarray, who: str = "the model"
) -> np.ndarray:
    """``(X_new - center) @ coef`` over row blocks (float64 per block), input checked."""
    X_new, n, m = _shape(X_new, "X_new")
    check_columns(m, n_features, who)
    out = np.empty(n)
    offset = float(center @ coef)
    for sl in row_blocks(n, m, 8):
        out[sl] = _block(X_new, sl, np.float64, "X_new") @ coef - offset
    return out


class _Moments(NamedTuple):
    """One pass over the training rows: everything CG and the fixed effects need."""

    n: int
    m: int
    mean: np.ndarray  # column means (m,)
    ZQ: np.ndarray  # Z' Q (m x q), Z = X - mean
    Zy: np.ndarray  # Z' S y (m,)
    diag: np.ndarray  # diag(Z' S Z) (m,)
    Q: np.ndarray  # orthonormal basis of F (n x q)
    y_abs: np.ndarray  # S y (n,)


def _moments(X: Any, y: np.ndarray, F: np.ndarray) -> _Moments:
    n, m = X.shape
    Q, _ = np.linalg.qr(F)
    y_abs = y - Q @ (Q.T @ y)
    sx = np.zeros(m)
    sxx = np.zeros(m)
    XQ = np.zeros((m, Q.shape[1]))
    Xy = np.zeros(m)
    for sl in row_blocks(n, m):
        B = _block(X, sl, np.float32, "X")
        sx += B.sum(axis=0, dtype=np.float64)
        sxx += np.square(B).sum(axis=0, dtype=np.float64)
        XQ += B.T @ Q[sl].astype(np.float32)
        Xy += B.T @ y_abs[sl].astype(np.float32)
    mean = sx / n
    ZQ = XQ - np.outer(mean, Q.sum(axis=0))
    Zy = Xy - mean * y_abs.sum()
    diag = sxx - n * mean * mean - np.sum(ZQ * ZQ, axis=1)
    return _Moments(n, m, mean, ZQ, Zy, np.maximum(diag, 0.0), Q, y_abs)


def _gram_matvec(X: Any, mo: _Moments, v: np.ndarray) -> np.ndarray:
    """``Z' S Z v`` in one pass over the row blocks of ``X``."""
    v32 = v.astype(np.float32)
    c = float(mo.mean @ v)
    acc = np.zeros(mo.m)
    total = 0.0
    for sl in row_blocks(mo.n, mo.m):
        B = _block(X, sl, np.float32, "X")
        u = (B @ v32).astype(np.float64) - c
        total += float(u.sum())
        acc += B.T @ u.astype(np.float32)
    return acc - mo.mean * total - mo.ZQ @ (mo.ZQ.T @ v)


def solve_exact(X: Any, mo: _Moments, lam: float, gram: np.ndarray | None) -> CGResult | None:
    """The CG system solved directly, in float64, where it is small (at most
    :data:`LARGE_N` training rows, every one in the variance-ratio subsample): CG stopped
    at a relative residual of 1e-6 left the streamed GBLUP up to 3.5% of the predictions'
    SD from the in-memory one where REML put ``delta`` near its bound (an ill-conditioned
    system; a checking helper, session 44).

    With at least as many rows as SNPs, the m x m system ``(Z'SZ + lam I) beta = Z'S y``
    itself (``Z'SZ`` summed over row blocks in float64).  With more SNPs than rows, its n x
    n dual by the push-through identity ``(Z'SZ + lam I)^-1 Z'S y = Z'S (S Z Z' S + lam
    I)^-1 S y`` from ``gram = Z Z'`` (the subsample's Gram matrix), then one pass over the
    rows.  (The dual with fewer SNPs than rows has rank at most m, and the float32 Gram
    matrix's rounding then dominated its other directions at a small ``lam``: 8e-4 of the
    SD against CG's 6e-6; a reviewer, session 44.)  None where the matrix is not positive
    definite in floating point: the caller then runs CG.  ``gram`` (the float32
    Gram matrix of the variance ratio) is used where SNPs are at least twice the rows;
    below, ``Z Z'`` is formed in float64."""
    import scipy.linalg

    def solve(A: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        A = 0.5 * (A + A.T)
        A[np.diag_indices_from(A)] += lam
        try:
            return scipy.linalg.solve(A, b, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
            return None

    Q = mo.Q
    if mo.m <= mo.n:
        # Z'Z, Z'Q and Z'Sy in float64 here (the moments' float32 products cost 2e-5 of
        # the SD at 1,500 x 1,490)
        A = np.zeros((mo.m, mo.m))
        ZQ = np.zeros((mo.m, Q.shape[1]))
        Zy = np.zeros(mo.m)
        for sl in row_blocks(mo.n, mo.m, 8):
            Zb = _block(X, sl, np.float64, "X") - mo.mean
            A += Zb.T @ Zb
            ZQ += Zb.T @ Q[sl]
            Zy += Zb.T @ mo.y_abs[sl]
        A -= ZQ @ ZQ.T
        coef = solve(A, Zy)
        return None if coef is None else CGResult(coef, 0, True, 0.0, exact=True)
    if mo.m >= 2 * mo.n and gram is None:
        return None  # no float64 copy of a wide Z: CG
    if mo.m < 2 * mo.n:
        # SNPs at most twice the rows: the float32 Gram matrix's rounding dominated its
        # smallest directions (300 x 310: 1.9e-4 of the SD against CG's 4e-6; a reviewer),
        # so Z Z' in float64 from one float64 copy of Z (n <= 3,000, m < 6,000: <= 144 MB)
        Z = _block(X, slice(0, mo.n), np.float64, "X") - mo.mean
        gram = Z @ Z.T
        del Z
    KQ = gram @ Q
    KS = gram - Q @ KQ.T - KQ @ Q.T + Q @ (Q.T @ KQ) @ Q.T
    a = solve(KS, mo.y_abs)
    if a is None:
        return None
    v = a - Q @ (Q.T @ a)
    coef = np.zeros(mo.m)
    for sl in row_blocks(mo.n, mo.m, 8):
        coef += _block(X, sl, np.float64, "X").T @ v[sl]
    coef -= mo.mean * float(v.sum())
    return CGResult(coef, 0, True, 0.0, exact=True)


def exact_size(n: int, m: int, rows: np.ndarray) -> bool:
    """Whether :func:`solve_exact` takes the system: every training row in the subsample,
    and at most :data:`LARGE_N` of them (its matrices then hold at most 72 MB; a larger
    ``subsample`` keeps CG)."""
    return len(rows) == n and n <= LARGE_N


class CGResult(NamedTuple):
    coef: np.ndarray
    n_iter: int
    converged: bool
    rel_residual: float
    exact: bool = False  # solved directly (solve_exact), not by CG


def solve_cg(X: Any, mo: _Moments, lam: float, tol: float = 1e-6, max_iter: int = 1000) -> CGResult:
    """Jacobi-preconditioned CG for ``(Z' S Z + lam I) beta = Z' S y``."""
    b = mo.Zy
    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return CGResult(np.zeros(mo.m), 0, True, 0.0)
    dinv = 1.0 / (mo.diag + lam)
    x = np.zeros(mo.m)
    r = b.copy()
    z = dinv * r
    p = z.copy()
    rz = float(r @ z)
    rel = 1.0
    for it in range(1, max_iter + 1):
        Ap = _gram_matvec(X, mo, p) + lam * p
        alpha = rz / float(p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rel = float(np.linalg.norm(r)) / bnorm
        if rel < tol:
            return CGResult(x, it, True, rel)
        z = dinv * r
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return CGResult(x, max_iter, False, rel)


def _fitted(X: Any, mo: _Moments, coef: np.ndarray) -> np.ndarray:
    """``Z coef`` for the training rows (one pass)."""
    out = np.empty(mo.n)
    c = float(mo.mean @ coef)
    coef32 = coef.astype(np.float32)
    for sl in row_blocks(mo.n, mo.m):
        out[sl] = (_block(X, sl, np.float32, "X") @ coef32).astype(np.float64) - c
    return out


def subsample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    """A sorted random subset of ``min(n, size)`` of ``range(n)`` (fixed seed)."""
    if isinstance(size, (float, np.floating)) and float(size).is_integer():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise InputError(f"subsample must be a whole number of rows (>= 10), got {size!r}")
    if size < 10:
        raise InputError(f"the variance-ratio subsample must have at least 10 rows, got {size}")
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def subsample_gram(X: Any, rows: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``Z_s Z_s'`` (float64) of the rows ``rows`` of ``Z = X - mean``, over column blocks.

    Rows that are encoded on the fly (``X`` with ``subset`` and ``columns``, e.g.
    :class:`snpcnn.datapath.FlatRows` over the int8 cache) are encoded one column block at a
    time (the same float32 values), never as one subsample x SNPs float copy.
    """
    if hasattr(X, "subset") and hasattr(X, "columns"):
        Xs = X.subset(rows)

        def block(cols: slice) -> np.ndarray:
            return Xs.columns(cols.start, cols.stop)

        n_s, m = len(rows), X.shape[1]
    else:
        Xs = X[rows]

        def block(cols: slice) -> np.ndarray:
            return np.asarray(Xs[:, cols], dtype=np.float32)

        n_s, m = Xs.shape
    K = np.zeros((n_s, n_s))
    step = max(1, BLOCK_BYTES // (4 * max(1, n_s)))
    for start in range(0, m, step):
        cols = slice(start, min(m, start + step))
        B = block(cols) - mean[cols].astype(np.float32)
        if not np.isfinite(B).all():
            raise InputError(
                "X contains NaN or infinite values; impute missing dosages with the "
                "training-fold mean before calling fit/predict"
            )
        K += B @ B.T
    return K


def gram_spectrum(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzero eigenpairs ``(U, lam)`` of a symmetric PSD matrix (as ``_spectrum`` keeps)."""
    lam, U = np.linalg.eigh(K)
    top = lam[-1] if len(lam) else 0.0
    keep = lam > _EIG_RTOL * max(top, 0.0)
    return U[:, keep], lam[keep]


class LargeFit(NamedTuple):
    """What a large-n fit returns to GBLUP / ridge."""

    mean: np.ndarray
    coef: np.ndarray
    beta: np.ndarray  # fixed effects for y - Z coef (intercept absorbs the centring)
    fe: _FixedEffects
    cg: CGResult
    rows: np.ndarray  # the variance-ratio subsample


def prepare(
    X: Any, y: Any, C: Any, who: str
) -> tuple[Any, np.ndarray, _FixedEffects, np.ndarray, _Moments]:
    """Checked inputs and the one pass of moments for a large-n fit."""
    X, n, m = _shape(X, "X")
    y, fe, F = _targets_and_design(y, C, n, who)
    mo = _moments(X, y, F)
    if not (mo.diag > 0).any():
        raise InputError(
            "every SNP is monomorphic in the training data (all dosages equal per column); "
            "nothing to fit"
        )
    return X, y, fe, F, mo


def finish(
    X: Any,
    y: np.ndarray,
    F: np.ndarray,
    fe: _FixedEffects,
    mo: _Moments,
    lam: float,
    tol: float,
    rows: np.ndarray,
    gram: np.ndarray | None = None,
) -> LargeFit:
    """Marker effects at penalty ``lam`` (directly where the system is small:
    :func:`solve_exact`, with ``gram``, ``Z Z'`` of every training row, for the dual; else
    by CG), then the fixed effects (least squares)."""
    from snpcnn.errors import check_real

    tol = check_real("cg_tol", tol, 0.0, 1.0, open_low=True)
    cg = solve_exact(X, mo, lam, gram) if exact_size(mo.n, mo.m, rows) else None
    if cg is None:
        cg = solve_cg(X, mo, lam, tol=tol)
    g = _fitted(X, mo, cg.coef)
    beta, *_ = np.linalg.lstsq(F, y - g, rcond=None)
    return LargeFit(mo.mean, cg.coef, beta, fe, cg, rows)


def solver_note(fit: LargeFit, n: int, what: str) -> str:
    where = (
        f"on all {n} training rows"
        if len(fit.rows) == n
        else f"on a random subsample of {len(fit.rows)} of {n} training rows"
    )
    if fit.cg.exact:
        return f"large-n solver: {what} {where}; marker effects solved directly (no CG)"
    return (
        f"large-n solver: {what} {where}; marker effects by preconditioned conjugate "
        f"gradient ({fit.cg.n_iter} "
        f"iterations, relative residual {fit.cg.rel_residual:.1e}"
        + ("" if fit.cg.converged else ", NOT converged")
        + ")"
    )
