"""REML for one-kernel mixed models ``y = F b + g + e``, ``g ~ N(0, sigma_g2 K)``, after one
eigendecomposition of ``K``; shared by GBLUP, RKHS, GBLUP-AD and EG-BLUP."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize

from snpcnn.baselines._common import _FixedEffects
from snpcnn.errors import InputError


class _RemlFit(NamedTuple):
    loglik: float
    beta: np.ndarray
    sigma_g2: float
    delta: float
    log_delta: float
    hinv_resid: np.ndarray  # H^-1 (y - F beta), H = K + delta I
    at_bound: bool
    n_iter: int
    converged: bool
    # exact leave-one-out residuals at this delta, fixed effects re-estimated without the row:
    # (P y)_i / P_ii, P = H^-1 - H^-1 F (F' H^-1 F)^-1 F' H^-1 (P y = hinv_resid)
    loo_resid: np.ndarray


#: ``_reml`` runs on the least-squares residual of y on the fixed effects where y'y exceeds
#: the residual's sum of squares by more than this factor (mean beyond ~100 SDs)
FIXED_DOMINANCE = 1e4


def _reml(
    U: np.ndarray, lam: np.ndarray, y: np.ndarray, F: np.ndarray, lo: float, hi: float, n_grid: int
) -> _RemlFit:
    """REML fit of ``y = F b + g + e``, ``g ~ N(0, sigma_g2 K)``, ``K = U diag(lam) U'``.

    ``U`` (n x r) has orthonormal columns and ``lam`` (r,) the eigenvalues kept (>= 0); the
    orthogonal complement of ``U`` has eigenvalue 0.  ``sigma_g2`` is profiled out and the
    restricted log-likelihood is maximised over ``log(delta)``, ``delta = sigma_e2 /
    sigma_g2``, in ``[lo, hi]``: a grid of ``n_grid`` points, then Brent's bounded method
    between the neighbours of the best grid point.  Each evaluation costs O(n q^2) after the
    one eigendecomposition the caller made.
    """
    n, q = F.shape
    # a trait dominated by its fixed effects (a large mean next to a small spread, e.g.
    # 1e6 +- 1): y'H^-1 y - (F'H^-1 y)' b below would cancel catastrophically (h2 and the
    # log-likelihood garbage), so REML then runs on y's least-squares residual on F, which
    # changes nothing in exact arithmetic (P F = 0); the least-squares coefficients are
    # added back to b.  Ordinary traits (mean within ~100 SDs) keep the direct formula.
    b_ls = None
    coef_ls = np.linalg.lstsq(F, y, rcond=None)[0]
    resid_ls = y - F @ coef_ls
    if float(y @ y) > FIXED_DOMINANCE * float(resid_ls @ resid_ls):
        y, b_ls = resid_ls, coef_ls
    # projections onto the eigenbasis (r dims) and its orthogonal complement
    Uy, UF = U.T @ y, U.T @ F
    y_perp, F_perp = y - U @ Uy, F - U @ UF
    yy_perp, Fy_perp, FF_perp = y_perp @ y_perp, F_perp.T @ y_perp, F_perp.T @ F_perp
    n_null = n - U.shape[1]
    logdet_FF = np.linalg.slogdet(F.T @ F)[1]

    def terms(log_delta: float):
        delta = math.exp(log_delta)
        d = 1.0 / (lam + delta)
        FHF = UF.T @ (d[:, None] * UF) + FF_perp / delta
        FHy = UF.T @ (d * Uy) + Fy_perp / delta
        yHy = Uy @ (d * Uy) + yy_perp / delta
        L = np.linalg.cholesky(FHF)
        beta = np.linalg.solve(FHF, FHy)
        yPy = max(yHy - FHy @ beta, 1e-300)
        logdet_H = np.sum(np.log(lam + delta)) + n_null * log_delta
        logdet_FHF = 2.0 * np.sum(np.log(np.diag(L)))
        df = n - q
        ll = -0.5 * (
            df * (math.log(2 * math.pi * yPy / df) + 1.0) + logdet_H + logdet_FHF - logdet_FF
        )
        return ll, beta, yPy / df, delta

    grid = np.linspace(lo, hi, n_grid)
    values = np.array([terms(t)[0] for t in grid])
    k = int(np.argmax(values))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(
        lambda t: -terms(t)[0], bounds=(a, b), method="bounded", options={"xatol": 1e-9}
    )
    t_best = float(res.x) if -res.fun >= values[k] else float(grid[k])
    ll, beta, sigma_g2, delta = terms(t_best)
    step = (hi - lo) / (n_grid - 1)
    r = y - F @ beta
    Ur = U.T @ r
    hinv_r = U @ (Ur / (lam + delta)) + (r - U @ Ur) / delta
    if b_ls is not None:  # fixed effects of the trait itself (REML ran on its residual)
        beta = beta + b_ls
    return _RemlFit(
        loglik=float(ll),
        beta=beta,
        sigma_g2=float(sigma_g2),
        delta=float(delta),
        log_delta=t_best,
        hinv_resid=hinv_r,
        at_bound=bool(t_best - lo < step or hi - t_best < step),
        n_iter=int(res.nfev),
        converged=bool(res.success),
        loo_resid=_loo(U, lam, delta, F, UF, hinv_r),
    )


def _loo(
    U: np.ndarray, lam: np.ndarray, delta: float, F: np.ndarray, UF: np.ndarray, Py: np.ndarray
) -> np.ndarray:
    """Leave-one-out residuals ``(P y)_i / P_ii`` of the mixed model at ``delta`` (the
    prediction of row i from the others, its fixed effects re-estimated by GLS without it),
    from the eigendecomposition already made: O(n r + n q^2)."""
    d = 1.0 / (lam + delta)
    u2 = U * U
    h_diag = u2 @ d + (1.0 - u2.sum(axis=1)) / delta  # diag(H^-1)
    HiF = U @ (d[:, None] * UF) + (F - U @ UF) / delta  # H^-1 F
    FHF = F.T @ HiF
    p_diag = h_diag - np.einsum("ij,ij->i", HiF @ np.linalg.inv(FHF), HiF)
    return Py / np.maximum(p_diag, 1e-300)


def _best_kernel(
    keys: Any, build: Any, y: np.ndarray, F: np.ndarray, lo: float, hi: float, n_grid: int
) -> tuple[float, _RemlFit, dict[float, float]]:
    """REML over a grid of candidate kernels: the one with the highest log-likelihood.

    For each ``key`` in ``keys`` the kernel ``build(key)`` (n x n, symmetric, positive
    semi-definite) is eigendecomposed once (negative rounding-error eigenvalues clipped to 0)
    and :func:`_reml` maximises the likelihood over ``delta``.  The same ``y`` and ``F`` enter
    every fit, so the maximised restricted log-likelihoods are comparable across kernels; the
    first key with the highest one wins.  Returns that key (as float), its fit and the
    log-likelihood of every key.  Used for RKHS's bandwidths and for the variance share of the
    second kernel in GBLUP-AD and EG-BLUP.
    """
    best: tuple[float, _RemlFit] | None = None
    by_key: dict[float, float] = {}
    for key in keys:
        lam, U = np.linalg.eigh(build(key))
        fit = _reml(U, np.clip(lam, 0.0, None), y, F, lo, hi, n_grid)
        by_key[float(key)] = fit.loglik
        if best is None or fit.loglik > best[1].loglik:
            best = (float(key), fit)
    assert best is not None  # keys is never empty (checked by the callers)
    return best[0], best[1], by_key


#: largest |log(delta)| accepted: delta and 1 / delta stay far from float64 overflow
LOG_DELTA_LIMIT = 100.0


def _reml_bounds(log_delta_bounds: Any, n_grid: int) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in log_delta_bounds)
    except (TypeError, ValueError):
        raise InputError(
            f"log_delta_bounds must be two numbers (low, high), got {log_delta_bounds!r}"
        ) from None
    if not lo < hi:
        raise InputError(f"log_delta_bounds must be (low, high) with low < high, got {(lo, hi)}")
    if not (-LOG_DELTA_LIMIT <= lo and hi <= LOG_DELTA_LIMIT):
        raise InputError(
            f"log_delta_bounds must lie within [-{LOG_DELTA_LIMIT:g}, {LOG_DELTA_LIMIT:g}] "
            f"(delta = exp(bound)), got {(lo, hi)}; the default is (-10, 10)"
        )
    if isinstance(n_grid, bool) or not isinstance(n_grid, (int, np.integer)):
        raise InputError(f"n_grid must be an integer (at least 3), got {n_grid!r}")
    if n_grid < 3:
        raise InputError(f"n_grid must be at least 3, got {n_grid}")
    return lo, hi


def _store_reml(model: Any, reml: _RemlFit, fe: _FixedEffects, lo: float, hi: float) -> None:
    """The attributes GBLUP and RKHS share: variance components, fixed effects, notes."""
    model.notes_ = list(fe.notes)
    model.at_bound_ = reml.at_bound
    if model.at_bound_:
        model.notes_.append(
            f"REML optimum at the edge of log_delta_bounds ({lo}, {hi}): "
            f"h2 = {1 / (1 + reml.delta):.4g}"
        )
    model.beta_ = reml.beta
    model.fixed_effect_names_ = fe.names
    model._fe = fe
    model.sigma_g2_ = reml.sigma_g2
    model.sigma_e2_ = reml.delta * reml.sigma_g2
    model.delta_ = reml.delta
    model.h2_ = float(1.0 / (1.0 + reml.delta))
    model.loglik_ = reml.loglik
    model.n_iter_ = reml.n_iter
    model.converged_ = reml.converged
