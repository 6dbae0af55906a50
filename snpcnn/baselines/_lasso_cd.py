"""Coordinate descent with working sets for the LASSO / elastic net (numba, compiled once and
cached on disk).

The problem, on centred data::

    min_beta  ||r||^2 / (2n) + a1 ||beta||_1 + a2 ||beta||^2 / 2,    r = y - X beta

Outer loop: the optimality (KKT) violation of every coefficient is computed from one pass
over ``X' r``; where the largest is within ``tol`` the solve ends.  Otherwise a working set
(the nonzero coefficients plus the worst violators, at least twice as many as nonzero) is
solved by cyclic coordinate descent until its own largest violation is within ``tol / 4``.
Most of the work is then on a few columns, while the check keeps the result exact for every
column.  Deterministic: fixed column order, no parallel reductions.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _violation(g: float, b: float, a1: float, a2: float) -> float:
    """Distance of ``-g`` (the loss gradient) from the penalty's subdifferential at ``b``."""
    if b > 0.0:
        return abs(g + a1 + a2 * b)
    if b < 0.0:
        return abs(g - a1 + a2 * b)
    return max(0.0, abs(g) - a1)


@njit(cache=True)
def _col_dot(X, j, r):
    """``X[:, j] @ r`` with four partial sums (a fixed order: the same result on every run
    and machine, and the compiler can vectorise it)."""
    n = X.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    stop = n - n % 4
    for i in range(0, stop, 4):
        s0 += X[i, j] * r[i]
        s1 += X[i + 1, j] * r[i + 1]
        s2 += X[i + 2, j] * r[i + 2]
        s3 += X[i + 3, j] * r[i + 3]
    for i in range(stop, n):
        s0 += X[i, j] * r[i]
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def _solve_small(A, b):
    """``A^-1 b`` for a small square ``A`` (Gaussian elimination with partial pivoting, in
    place on copies); NaN where ``A`` is singular."""
    A = A.copy()
    x = b.copy()
    k = A.shape[0]
    for c in range(k):
        piv = c
        for i in range(c + 1, k):
            if abs(A[i, c]) > abs(A[piv, c]):
                piv = i
        if A[piv, c] == 0.0:
            x[:] = np.nan
            return x
        if piv != c:
            for j in range(k):
                A[c, j], A[piv, j] = A[piv, j], A[c, j]
            x[c], x[piv] = x[piv], x[c]
        for i in range(c + 1, k):
            f = A[i, c] / A[c, c]
            for j in range(c, k):
                A[i, j] -= f * A[c, j]
            x[i] -= f * x[c]
    for c in range(k - 1, -1, -1):
        acc = x[c]
        for j in range(c + 1, k):
            acc -= A[c, j] * x[j]
        x[c] = acc / A[c, c]
    return x


@njit(cache=True)
def _objective(r, beta, ws, a1, a2):
    """The objective up to the columns outside ``ws`` (constant while ``ws`` is solved)."""
    n = r.shape[0]
    val = 0.0
    for i in range(n):
        val += r[i] * r[i]
    val /= 2.0 * n
    for j in ws:
        val += a1 * abs(beta[j]) + 0.5 * a2 * beta[j] * beta[j]
    return val


@njit(cache=True)
def _epochs(X, r, beta, colsq, ws, a1, a2, tol, max_epochs):
    """Cyclic coordinate descent over the columns ``ws`` (in place on ``beta``, ``r``) until
    the largest violation seen in an epoch is within ``tol``, with Anderson extrapolation of
    every ``K`` + 1 iterates (kept where it lowers the objective; Bertrand and Massias 2021).
    Returns the epochs run."""
    n = X.shape[0]
    m = ws.shape[0]
    inv_n = 1.0 / n
    K = 5
    last = np.empty((K + 1, m))
    for epoch in range(max_epochs):
        worst = 0.0
        for j in ws:
            g = -_col_dot(X, j, r) * inv_n
            b = beta[j]
            v = _violation(g, b, a1, a2)
            if v > worst:
                worst = v
            lip = colsq[j] * inv_n
            if lip <= 0.0:
                continue
            z = b * lip - g
            if z > a1:
                new = (z - a1) / (lip + a2)
            elif z < -a1:
                new = (z + a1) / (lip + a2)
            else:
                new = 0.0
            d = new - b
            if d != 0.0:
                beta[j] = new
                for i in range(n):
                    r[i] -= d * X[i, j]
        if worst <= tol:
            return epoch + 1
        slot = epoch % (K + 1)
        for k in range(m):
            last[slot, k] = beta[ws[k]]
        if slot < K:
            continue
        # Anderson extrapolation of the last K + 1 iterates
        U = np.empty((K, m))
        for a in range(K):
            for k in range(m):
                U[a, k] = last[a + 1, k] - last[a, k]
        Cm = np.empty((K, K))
        scale = 0.0
        for a in range(K):
            for c in range(a + 1):
                acc = 0.0
                for k in range(m):
                    acc += U[a, k] * U[c, k]
                Cm[a, c] = acc
                Cm[c, a] = acc
            scale += Cm[a, a]
        if not scale > 0.0:
            continue
        for a in range(K):
            Cm[a, a] += 1e-10 * scale
        z = _solve_small(Cm, np.ones(K))
        zs = z.sum()
        if not (np.isfinite(zs) and abs(zs) > 0.0):
            continue
        cand = np.zeros(m)
        for a in range(K):
            cand += (z[a] / zs) * last[a + 1]
        before = _objective(r, beta, ws, a1, a2)
        r_new = r.copy()
        for k in range(m):
            d = cand[k] - beta[ws[k]]
            if d != 0.0:
                j = ws[k]
                for i in range(n):
                    r_new[i] -= d * X[i, j]
        saved = beta[ws].copy()
        for k in range(m):
            beta[ws[k]] = cand[k]
        if _objective(r_new, beta, ws, a1, a2) < before:
            r[:] = r_new
        else:
            for k in range(m):
                beta[ws[k]] = saved[k]
    return max_epochs


@njit(cache=True)
def _violations(X, r, beta, a1, a2, out):
    """Every column's optimality violation into ``out``; returns the largest."""
    n, p = X.shape
    worst = 0.0
    for j in range(p):
        out[j] = _violation(-_col_dot(X, j, r) / n, beta[j], a1, a2)
        if out[j] > worst:
            worst = out[j]
    return worst


@njit(cache=True)
def _violations_of(grad, beta, a1, a2, out):
    """Every column's optimality violation from its gradient into ``out``; the largest."""
    worst = 0.0
    for j in range(grad.shape[0]):
        out[j] = _violation(grad[j], beta[j], a1, a2)
        if out[j] > worst:
            worst = out[j]
    return worst


#: coordinate-descent epochs at most per working-set solve
MAX_EPOCHS = 10_000


def working_set(beta: np.ndarray, viol: np.ndarray) -> np.ndarray:
    """The columns of the next working set, sorted: every nonzero coefficient, then the worst
    violators, at least twice as many columns as nonzero coefficients (and 10)."""
    nonzero = beta != 0.0
    size = min(len(beta), max(10, 2 * int(nonzero.sum())))
    score = np.where(nonzero, np.inf, viol)
    return np.sort(np.argsort(-score, kind="stable")[:size])


def _solve(X, r, beta, colsq, a1, a2, tol, max_outer, max_epochs) -> float:
    """Solve the penalised problem from ``beta`` (``r`` = y - X beta on entry; both updated in
    place).  Returns the largest violation over every column at the end."""
    viol = np.empty(X.shape[1])
    worst = np.inf
    for _ in range(max_outer):
        worst = _violations(X, r, beta, a1, a2, viol)
        if worst <= tol:
            break
        _epochs(X, r, beta, colsq, working_set(beta, viol), a1, a2, tol / 4.0, max_epochs)
    return worst


def solve(
    X: np.ndarray,
    y: np.ndarray,
    alpha: float,
    l1_ratio: float,
    tol: float,
    beta: np.ndarray | None = None,
    colsq: np.ndarray | None = None,
    max_outer: int = 100,
    max_epochs: int = MAX_EPOCHS,
) -> tuple[np.ndarray, float]:
    """LASSO / elastic-net effects for the centred, column-major float64 ``X`` and ``y``
    (penalty ``alpha * (l1_ratio ||b||_1 + (1 - l1_ratio) ||b||^2 / 2)``), started from
    ``beta``; ``tol`` is the largest optimality violation allowed, on the gradient's scale.
    Returns (effects, their largest violation)."""
    b = np.zeros(X.shape[1]) if beta is None else np.array(beta, dtype=np.float64)
    if colsq is None:
        colsq = np.einsum("ij,ij->j", X, X)
    r = y - X @ b
    worst = _solve(
        X,
        r,
        b,
        colsq,
        float(alpha * l1_ratio),
        float(alpha * (1.0 - l1_ratio)),
        float(tol),
        int(max_outer),
        int(max_epochs),
    )
    return b, float(worst)
