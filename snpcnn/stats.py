"""Marginal (single-SNP) association scan: one simple linear regression per SNP.

For every SNP ``j`` the model ``y = a + C g + beta_j x_j + e`` is fitted by least
squares, where ``C`` are optional covariates.  By the Frisch-Waugh-Lovell theorem
``beta_j`` equals the slope of the residual of ``y`` on the residual of ``x_j``
after both are projected off ``[1, C]``, so the whole scan is a handful of
matrix products over column chunks of the genotype matrix.  The t statistic has
``n - 2 - k`` degrees of freedom (``k`` covariate columns); p-values are exact
two-sided Student-t tail probabilities (:data:`scipy.stats.t`), and
``neglog10p`` is computed from the log tail so that it stays finite when ``p``
underflows to 0.

The scan uses exactly the rows it is given (a training fold, say): SNP means for
imputing missing dosages, centring and covariate projection are all computed on
those rows only, so calling it inside a cross-validation fold leaks nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes, check_codes

__all__ = ["marginal_association", "select_snps", "ASSOC_COLUMNS"]

ASSOC_COLUMNS = ("beta", "se", "t", "p", "neglog10p", "n")

# Columns converted to float64 at a time: at most _CHUNK_COLS, and fewer on many rows, so
# that the temporary memory (about n_rows * columns * 8 bytes * 3) stays near _CHUNK_BYTES
# whatever the numbers of samples and SNPs (2,048 columns on every row grew with the
# samples: explain with a phenotype file took 1.6 GB at 16,000 samples; session 44).
_CHUNK_COLS = 2048
_CHUNK_BYTES = 256 * 1024 * 1024


def chunk_cols(n_rows: int) -> int:
    """Columns per float64 block of :func:`marginal_association` on ``n_rows`` rows."""
    return int(max(16, min(_CHUNK_COLS, _CHUNK_BYTES // max(1, 24 * int(n_rows)))))


def _as_matrix(X) -> tuple[np.ndarray, pd.DataFrame | None]:
    if isinstance(X, Genotypes):
        return X.dosages, X.variants
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise InputError(
            f"marginal_association expects a 2-D samples x SNPs matrix, got shape {arr.shape}"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"genotype matrix must be numeric, got dtype {arr.dtype}")
    return arr, None


def _float_chunk(block: np.ndarray) -> np.ndarray:
    """float64 copy of a column block with missing values (-1 in ints, NaN) mean-imputed."""
    if np.issubdtype(block.dtype, np.integer):
        x = block.astype(np.float64)
        missing = block < 0
    else:
        x = np.array(block, dtype=np.float64)
        missing = np.isnan(x)
    if missing.any():
        x[missing] = 0.0
        called = (~missing).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = x.sum(axis=0) / called
        mean = np.where(called > 0, mean, 0.0)
        x[missing] = np.broadcast_to(mean, x.shape)[missing]
    return x


def _t_logsf_tail(t: np.ndarray, df: int) -> np.ndarray:
    """log P(T > t) for huge t, where scipy's tail underflows.

    ``P(T > t) = I_x(a, b) / 2`` with ``a = df/2, b = 1/2, x = df / (df + t^2)``,
    and ``I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 2F1(a+b, 1; a+1; x)``; the
    hypergeometric series has positive terms shrinking by at most ``x`` each, so it
    is summed until the next term is below double precision.
    """
    a, b = df / 2.0, 0.5
    logx = np.log(df) - np.log(df + np.asarray(t, dtype=np.float64) ** 2)
    x = np.exp(logx)
    term = np.ones_like(x)
    total = np.ones_like(x)
    for k in range(100_000):
        term = term * (a + b + k) / (a + 1.0 + k) * x
        total += term
        if (term <= 1e-17 * total).all():
            break
    return (
        a * logx + b * np.log1p(-x) - np.log(a) - special.betaln(a, b) + np.log(total) - np.log(2)
    )


def marginal_association(
    X,
    y,
    covariates=None,
    rows=None,
) -> pd.DataFrame:
    """Per-SNP simple linear regression of ``y`` on each SNP (vectorized).

    Parameters
    ----------
    X : Genotypes, or array of shape (n_samples, n_snps)
        int8 dosages (missing = -1) or floats (missing = NaN).  Missing values
        are replaced by the SNP's mean over the rows used.
    y : array-like of shape (n_samples,) or (len(rows),)
        The phenotype: one value per row of ``X``, or with ``rows`` one per selected
        row (where its length is ``len(rows)``); the values used must be finite (drop
        or impute missing phenotypes first, so that the rows used are exactly the rows
        you meant).
    covariates : array-like of shape (n_samples, k) or (len(rows), k), optional
        Covariates (e.g. sex, principal components) projected out of ``y`` and of
        every SNP before the regression; an intercept is always included.  With
        ``rows``, one row per row of ``X`` or per selected row, as ``y``.
    rows : array of int or bool, optional
        Use only these rows of ``X`` (e.g. a training fold).

    Returns
    -------
    DataFrame
        One row per SNP with ``beta`` (effect per unit of dosage), ``se``, ``t``,
        ``p`` (two-sided), ``neglog10p`` and ``n`` (rows used); when ``X`` is a
        :class:`Genotypes`, the variant columns ``chrom, pos, id`` come first.
        Monomorphic SNPs (no variance among the rows used, after projection)
        get ``beta = 0``, ``t = 0``, ``p = 1``, ``neglog10p = 0`` and
        ``se = NaN``.  A perfect fit gives ``t = inf``, ``p = 0``.

    Examples
    --------
    >>> X = np.array([[0, 1], [1, 1], [2, 1], [1, 1]], dtype=np.int8)
    >>> res = marginal_association(X, [0.1, 1.0, 2.2, 0.9])
    >>> res["p"].round(4).tolist()
    [0.0101, 1.0]
    """
    mat, variants = _as_matrix(X)
    if rows is not None:
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (mat.shape[0],):
                raise InputError(
                    f"boolean rows mask has length {rows.shape[0]}, expected {mat.shape[0]}"
                )
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64)
    n = mat.shape[0] if rows is None else len(rows)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if rows is not None and len(yv) != n and len(yv) == mat.shape[0]:
        yv = yv[rows]  # one value per genotype row: take the selected rows'
    if len(yv) != n:
        expected = f"{n}" if rows is None else f"{n} (one per selected row) or {mat.shape[0]}"
        raise InputError(
            f"phenotype has {len(yv)} values but {expected} were expected (one per genotype "
            "row, in the genotypes' sample order; align phenotypes to genotypes by sample id)"
        )
    if not np.isfinite(yv).all():
        bad = int(np.flatnonzero(~np.isfinite(yv))[0])
        raise InputError(
            f"phenotype value at row {bad} is missing or not finite; drop those samples first"
        )
    basis = [np.ones((n, 1))]
    if covariates is not None:
        cov = np.asarray(covariates, dtype=np.float64)
        if cov.ndim == 1:
            cov = cov[:, None]
        if rows is not None and cov.shape[0] != n and cov.shape[0] == mat.shape[0]:
            cov = cov[rows]
        if cov.shape[0] != n:
            raise InputError(f"covariates have {cov.shape[0]} rows, expected {n} (one per sample)")
        if not np.isfinite(cov).all():
            r, c = np.argwhere(~np.isfinite(cov))[0]
            raise InputError(
                f"covariate column {c} is missing or not finite at row {r}; impute or drop it"
            )
        basis.append(cov)
    Cmat = np.hstack(basis)
    # Orthonormal basis of the covariate space (rank-revealing: drops collinear columns).
    U, s, _ = np.linalg.svd(Cmat, full_matrices=False)
    Q = U[:, s > s[0] * max(n, Cmat.shape[1]) * np.finfo(float).eps]
    k_eff = Q.shape[1]  # intercept + independent covariates
    df = n - k_eff - 1
    if df < 1:
        raise InputError(
            f"{n} samples are too few for a regression with {k_eff - 1} covariates; "
            "need at least covariates + 3 samples"
        )
    yr = yv - Q @ (Q.T @ yv)
    syy = float(yr @ yr)

    m = mat.shape[1]
    beta = np.zeros(m)
    sxx = np.zeros(m)
    sxy = np.zeros(m)
    width = chunk_cols(n)
    for start in range(0, m, width):
        block = mat[:, start : start + width]
        if rows is not None:
            block = block[rows]
        block = np.asarray(block)
        check_codes(mat, block)  # a damaged cache (session 43)
        x = _float_chunk(block)
        x -= Q @ (Q.T @ x)
        sxx[start : start + x.shape[1]] = np.einsum("ij,ij->j", x, x)
        sxy[start : start + x.shape[1]] = yr @ x

    # Monomorphic (or fully explained by covariates): variance at round-off level.
    scale = np.maximum(1.0, n)
    poly = sxx > 1e-10 * scale
    beta[poly] = sxy[poly] / sxx[poly]
    rss = np.where(poly, syy - beta * sxy, np.nan)
    rss = np.maximum(rss, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(poly, np.sqrt(rss / df / sxx), np.nan)
        t = np.where(poly, beta / se, 0.0)
    t = np.where(poly & (se == 0) & (beta != 0), np.copysign(np.inf, beta), t)
    t = np.where(poly & (se == 0) & (beta == 0), 0.0, t)
    abst = np.abs(t)
    p = np.minimum(2.0 * sps.t.sf(abst, df), 1.0)
    logp = np.log(2.0) + sps.t.logsf(abst, df)
    tiny = ~np.isfinite(logp) & np.isfinite(abst)
    if tiny.any():
        logp[tiny] = np.log(2.0) + _t_logsf_tail(abst[tiny], df)
    neglog10p = np.maximum(-logp / np.log(10.0), 0.0)
    out = pd.DataFrame(
        {"beta": beta, "se": se, "t": t, "p": p, "neglog10p": neglog10p, "n": np.full(m, n)}
    )
    if variants is not None:
        out = pd.concat([variants[["chrom", "pos", "id"]].reset_index(drop=True), out], axis=1)
    return out


def select_snps(
    X,
    y,
    k: int | None = None,
    p_max: float | None = None,
    covariates=None,
    rows=None,
) -> np.ndarray:
    """Indices of the SNPs to keep by marginal association (for preselection in a fold).

    Parameters
    ----------
    X, y, covariates, rows
        As in :func:`marginal_association` (pass the training rows only).
    k : int, optional
        Keep the ``k`` SNPs with the smallest p-values (ties broken by SNP order).
    p_max : float, optional
        Keep SNPs with ``p <= p_max``.  With both, the ``k`` best among those.

    Returns
    -------
    array of int
        Column indices into ``X``, in genome (column) order.
    """
    if k is None and p_max is None:
        raise InputError("select_snps needs k (top-k SNPs) or p_max (p-value threshold)")
    if k is not None and k < 1:
        raise InputError(f"Invalid value for argument `k`. Expected k >= 1. Received k={k}.")
    res = marginal_association(X, y, covariates=covariates, rows=rows)
    score = res["neglog10p"].to_numpy()
    idx = np.arange(len(score))
    if p_max is not None:
        idx = idx[res["p"].to_numpy() <= p_max]
    if k is not None and len(idx) > k:
        order = np.argsort(-score[idx], kind="stable")[:k]
        idx = idx[order]
    return np.sort(idx)
