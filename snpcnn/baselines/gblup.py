"""GBLUP (VanRaden relationship matrix, REML) and its non-additive relatives GBLUP-AD (additive +
dominance, Vitezica et al. 2013) and EG-BLUP (additive + additive-by-additive epistasis)."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines import large_n
from snpcnn.baselines._common import (
    Baseline,
    _as_matrix,
    _check_dosage_range,
    _FixedEffects,
    _n_rows,
    _spectrum,
    _training_data,
)
from snpcnn.baselines.kernels_at_scale import (
    LANDMARKS,
    NystromMixin,
    block_training_data,
    dominance_codes_of,
    n_rows_cols,
    pieces,
    transposed,
    use_blocks,
)
from snpcnn.baselines.reml import _best_kernel, _reml, _reml_bounds, _store_reml
from snpcnn.errors import InputError, check_real


def vanraden_grm(
    X: np.ndarray, p: np.ndarray | None = None, X_other: np.ndarray | None = None
) -> np.ndarray:
    """VanRaden (2008) method-1 genomic relationship matrix ``Z Z' / (2 sum p(1-p))``.

    Parameters
    ----------
    X : array (n x m)
        Dosages (0..2, missing already imputed).
    p : array (m,), optional
        Allele frequencies used for centring (``Z = X - 2p``); default ``X.mean(0) / 2``.
    X_other : array (n2 x m), optional
        If given, return the n2 x n relationships between ``X_other`` and ``X``.
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    scale = 2.0 * float(np.sum(p * (1.0 - p)))
    Z = X - 2.0 * p
    if X_other is None:
        return (Z @ Z.T) / scale
    return ((_as_matrix(X_other, "X_other") - 2.0 * p) @ Z.T) / scale


class GBLUP(Baseline):
    """GBLUP with variance components estimated by REML.

    Model (training data): ``y = F b + g + e`` with ``F = [1, C]`` fixed effects,
    ``g ~ N(0, sigma_g2 G)``, ``e ~ N(0, sigma_e2 I)``, and ``G`` the VanRaden (2008)
    method-1 relationship matrix ``Z Z' / s`` with ``Z = X - 2p``, ``s = 2 sum p(1-p)``,
    ``p`` the training allele frequencies (``X.mean(0) / 2``).

    REML: with ``delta = sigma_e2 / sigma_g2`` and ``G = U diag(lambda) U'`` (nonzero
    eigenvalues; eigenvalues below 1e-10 of the largest are set to 0), ``sigma_g2`` is
    profiled out and the restricted log-likelihood is maximised over ``log(delta)`` in
    ``log_delta_bounds``: a grid of ``n_grid`` points, then Brent's bounded method between the
    neighbours of the best grid point.  Each evaluation costs O(n q^2) after one
    eigendecomposition, so the optimisation cannot get stuck in a poor local optimum found from
    a single start.  ``H = G + delta I`` is positive definite for every ``delta > 0``, so a
    singular ``G`` (always the case after centring) needs no ridge.

    Prediction: ``g_new = G_new,train H^-1 (y - F b)`` which equals
    ``G_new,train G^-1 g_hat_train``; it is computed through the marker effects
    ``u = Z' H^-1 (y - F b) / s`` (GBLUP is RR-BLUP with ``lambda = delta * s``), so
    ``predict(X_new) = (X_new - 2p) u + F_new b``.

    Parameters
    ----------
    log_delta_bounds : (float, float)
        Search interval for the natural log of ``delta = sigma_e2 / sigma_g2``.
    n_grid : int
        Grid points before the Brent refinement.
    jitter : float
        Added to the diagonal of ``G`` (``G + jitter I``); 0 by default (not needed).
    solver : {"auto", "exact", "iterative"}
        ``"exact"``: the eigendecomposition above.  ``"iterative"``: the large-n path of
        :mod:`snpcnn.baselines.large_n` (``delta`` by this same REML on a random subsample
        of ``subsample`` training rows, marker effects by preconditioned conjugate gradient
        over row blocks; no n x n matrix, no float copy of ``X``).  ``"auto"`` (default):
        exact up to :data:`~snpcnn.baselines.large_n.LARGE_N` training rows, iterative above.
    subsample : int
        Rows of the REML subsample on the iterative path (default 3000; a fixed seed).
    cg_tol : float
        Relative residual at which conjugate gradient stops (iterative path).

    Attributes
    ----------
    sigma_g2_, sigma_e2_ : float
        REML variance components (``sigma_g2_`` on the scale of ``G``).
    h2_ : float
        ``sigma_g2 / (sigma_g2 + sigma_e2)``.
    delta_ : float
        ``sigma_e2 / sigma_g2``.
    beta_ : array
        Fixed effects (GLS), intercept first, then the kept covariate columns.
    loglik_ : float
        Maximised REML log-likelihood of the ``n - q`` error contrasts ``K'y`` (``K'K = I``,
        ``K'F = 0``): ``-1/2 [(n-q) log 2 pi + log|V| + log|F'V^-1 F| - log|F'F| + y'Py]``.
    n_iter_ : int
        Likelihood evaluations by the Brent step (the grid adds ``n_grid``).
    converged_ : bool
        Whether the Brent step converged.
    at_bound_ : bool
        True if the optimum lies on a bound of ``log_delta_bounds`` (h2 near 0 or 1).
    coef_ : array (m,)
        Marker effects ``u``.
    allele_freq_ : array (m,)
        Training allele frequencies ``p``.
    scale_ : float
        ``2 sum p(1-p)``.
    notes_ : list of str
        Covariates dropped, optimum on a bound, the large-n solver used.
    solver_ : str
        ``"exact"`` or ``"iterative"``: the path this fit took.  On the iterative path the
        REML attributes (``sigma_g2_``, ``loglik_``, ...) are those of the subsample,
        ``reml_rows_`` its row indices and ``cg_iterations_`` the CG iterations.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, :20].sum(1) + rng.normal(size=60)
    >>> m = GBLUP().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "GBLUP"
    dosages_only = True

    def __init__(
        self,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        jitter: float = 0.0,
        solver: str = "auto",
        subsample: int = large_n.SUBSAMPLE,
        cg_tol: float = 1e-6,
    ) -> None:
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid
        self.jitter = jitter
        self.solver = solver
        self.subsample = subsample
        self.cg_tol = cg_tol

    def fit(self, X: Any, y: Any, C: Any = None) -> GBLUP:
        """Estimate variance components by REML and the marker effects from training data.

        Parameters
        ----------
        X : array (n x m)
            Training dosages, missing values already imputed with training means.
        y : array (n,)
            Training trait values, no NaN.
        C : array (n x k), optional
            Training covariates (fixed effects; an intercept is always added).

        Returns
        -------
        self
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        check_real("jitter", self.jitter, 0.0)
        X = self._fit_rows(X)
        check_real("cg_tol", self.cg_tol, 0.0, 1.0, open_low=True)  # before the costly part
        if large_n.use_iterative(self.solver, _n_rows(X), "GBLUP"):
            return self._fit_large(X, y, C, lo, hi)
        X, y, fe, F = _training_data(X, y, C, "GBLUP")
        _check_dosage_range(float(X.min()), float(X.max()), "GBLUP")
        n, m = X.shape
        p = X.mean(axis=0) / 2.0
        scale = 2.0 * float(np.sum(p * (1.0 - p)))
        Z = X - 2.0 * p
        del X
        if self.jitter > 0:
            # the jitter lifts the null space of G too: use the full eigenbasis
            lam, U = np.linalg.eigh(Z @ Z.T / scale)
            lam = np.clip(lam, 0.0, None) + self.jitter
        else:
            U, lam = _spectrum(Z)
            lam = lam / scale

        reml = _reml(U, lam, y, F, lo, hi, self.n_grid)
        _store_reml(self, reml, fe, lo, hi)
        # BLUP of the genetic values through the marker effects
        self.coef_ = (Z.T @ reml.hinv_resid) / scale
        self.allele_freq_ = p
        self.scale_ = scale
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def _fit_large(self, X: Any, y: Any, C: Any, lo: float, hi: float) -> GBLUP:
        """The iterative path: REML on a subsample, marker effects by CG on all rows."""
        X, y, fe, F, mo = large_n.prepare(X, y, C, "GBLUP")
        p = mo.mean / 2.0
        scale = 2.0 * float(np.sum(p * (1.0 - p)))
        rows = large_n.subsample_rows(mo.n, self.subsample)
        K = large_n.subsample_gram(X, rows, mo.mean) / scale
        # a small system is solved directly; with twice the rows in SNPs, from this Gram matrix
        gram = K * scale if large_n.exact_size(mo.n, mo.m, rows) and mo.m >= 2 * mo.n else None
        if self.jitter > 0:
            lam, U = np.linalg.eigh(K)
            lam = np.clip(lam, 0.0, None) + self.jitter
        else:
            U, lam = large_n.gram_spectrum(K)
        del K
        # the subsample's fixed effects, with columns collinear there dropped
        F_s = _FixedEffects().fit(F[rows, 1:] if F.shape[1] > 1 else None, len(rows))
        F_s = F_s.design(F[rows, 1:] if F.shape[1] > 1 else None, len(rows))
        reml = _reml(U, lam, y[rows], F_s, lo, hi, self.n_grid)
        _store_reml(self, reml, fe, lo, hi)
        fit = large_n.finish(X, y, F, fe, mo, reml.delta * scale, self.cg_tol, rows, gram)
        del gram
        self.notes_.append(large_n.solver_note(fit, mo.n, "delta by REML"))
        self.beta_ = fit.beta
        self.coef_ = fit.coef
        self.allele_freq_ = p
        self.scale_ = scale
        self.n_features_in_ = mo.m
        self.n_train_ = mo.n
        self.solver_ = "iterative"
        self.reml_rows_ = rows
        self.cg_iterations_ = fit.cg.n_iter
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: genomic value ``(X_new - 2p) u`` plus fixed effects.

        Parameters
        ----------
        X_new : array (n_new x m)
            Dosages, missing values imputed with the *training* means.
        C_new : array (n_new x k), optional
            Covariates, same columns as in ``fit``.
        """
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values ``g_new`` alone (no fixed effects), computed over
        row blocks of ``X_new`` (int8 or float; no float64 copy of the whole matrix)."""
        X_new = self._new_rows(X_new)  # names and 0..2, as at fit (session 43)
        return large_n.linear_predict(
            X_new, self.n_features_in_, 2.0 * self.allele_freq_, self.coef_, type(self).__name__
        )


def dominance_codes(
    X: np.ndarray, p: np.ndarray | None = None, fill: np.ndarray | None = None
) -> np.ndarray:
    """Vitezica et al. (2013) genotypic dominance codes ``W`` of dosages ``X`` (n x m).

    With ``p`` the frequency of the counted allele (default ``X.mean(0) / 2``) and ``q = 1 -
    p``, the genotypes 0 / 1 / 2 (copies of the counted allele) are coded ``-2p^2 / 2pq /
    -2q^2``.  These codes are the quadratic polynomial

        w(x) = -x^2 + (1 + 2p) x - 2p^2  =  [x(2 - x) - 2pq] - (1 - 2p)(x - 2p),

    the heterozygosity indicator ``x(2 - x)``, centred, minus its regression on the additive
    code ``x - 2p`` (so under Hardy-Weinberg proportions ``w`` has mean 0 and is uncorrelated
    with ``x``).

    A dosage that is not a whole number is read as an unknown call (a missing call imputed
    with the training mean, as snpcnn's pipelines do): its genotype is not known, so it gets
    the SNP's mean code, ``fill`` (per SNP; default the mean code of ``X``'s whole-number
    calls, 0 for a SNP with none), just as its dosage got the mean dosage.  The polynomial at
    the mean dosage, ``w(2p) = 2pq``, would code it as a heterozygote: on inbred lines, which
    have no dominance codes of their own, the missing calls would then be the only dominance
    signal.  A mean dosage that happens to be a whole number (``p = 0.5`` exactly) cannot be
    told from a heterozygote and is coded as one; snpcnn's pipelines fill such a SNP's
    missing calls with the next float32 above 1 for that reason
    (:class:`snpcnn.preprocess.GenotypePreprocessor`).
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    return dominance_codes_of(X, p, fill)[0]


def dominance_fill(X: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    """The code :func:`dominance_codes` gives an unknown (non-whole-number) call of each SNP:
    the mean code of ``X``'s whole-number calls (0 for a SNP with none)."""
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    return dominance_codes_of(X, p)[1]


def dominance_grm(
    X: np.ndarray, p: np.ndarray | None = None, X_other: np.ndarray | None = None
) -> np.ndarray:
    """Vitezica et al. (2013) dominance relationship matrix ``D = W W' / sum (2pq)^2``.

    ``W`` are the :func:`dominance_codes` with the frequencies ``p`` (default ``X.mean(0) /
    2``).  If ``X_other`` is given, return the n2 x n block between ``X_other`` and ``X``
    (codes of both with the same ``p``, and ``X``'s code for an unknown call), as for
    :func:`vanraden_grm`.
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    scale = float(np.sum((2.0 * p * (1.0 - p)) ** 2))
    W, fill = dominance_codes_of(X, p)
    if X_other is None:
        return (W @ W.T) / scale
    return (dominance_codes(X_other, p, fill) @ W.T) / scale


class _TwoKernelBLUP(NystromMixin, Baseline):
    """Shared part of :class:`GBLUPAD` and :class:`EGBLUP`.

    ``y = F b + g1 + g2 + e`` with ``g1 ~ N(0, sigma_1 K1)``, ``g2 ~ N(0, sigma_2 K2)``, both
    kernels scaled to mean diagonal 1.  With ``w = sigma_2 / (sigma_1 + sigma_2)`` and
    ``sigma_g2 = sigma_1 + sigma_2`` this is one-kernel REML with ``K_w = (1 - w) K1 + w K2``;
    ``w`` is profiled on the grid ``shares`` (one eigendecomposition each, through
    :func:`_best_kernel`) and the ``w`` with the highest REML log-likelihood is kept.

    At scale (:mod:`snpcnn.baselines.kernels_at_scale`): lazy rows (streamed folds) and
    inputs whose float64 copy would exceed 256 MiB build both kernels over column blocks;
    above 6,000 training rows (``solver="auto"``) the Nystrom approximation through
    ``landmarks`` individuals, the share chosen by REML on the landmarks.
    """

    _fitted_attr = "dual_coef_"
    dosages_only = True
    DEFAULT_SHARES = (0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)
    _component = "second"  # what share_ measures, for notes and errors
    _grid_word = "share"

    def __init__(
        self,
        shares: Any = DEFAULT_SHARES,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        solver: str = "auto",
        landmarks: int = LANDMARKS,
    ) -> None:
        self.shares = shares
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid
        self.solver = solver
        self.landmarks = landmarks

    @property
    def _landmark_choice(self) -> str:
        return f"the {self._component} share"

    def _checked_shares(self) -> np.ndarray:
        w = np.atleast_1d(np.asarray(self.shares, dtype=np.float64))
        if w.ndim != 1 or len(w) == 0 or not (np.isfinite(w) & (w >= 0) & (w <= 1)).all():
            raise InputError(f"shares must be numbers between 0 and 1, got {self.shares!r}")
        return w

    def _fit_shares(
        self,
        K1: np.ndarray,
        K2: np.ndarray,
        y: np.ndarray,
        F: np.ndarray,
        fe: _FixedEffects,
        lo: float,
        hi: float,
        shares: np.ndarray,
    ) -> float:
        """Normalise ``K1``, ``K2`` in place, run REML over ``shares``, store the results.

        Returns the chosen share.
        """
        m1, m2 = float(np.mean(np.diag(K1))), float(np.mean(np.diag(K2)))
        if not (m1 > 0 and m2 > 0):
            raise InputError(
                f"{self.name}: a relationship matrix of the training data has no positive "
                "diagonal (all its codes are 0); nothing to fit"
            )
        K1 /= m1
        K2 /= m2
        w, reml, by_share = _best_kernel(
            shares, lambda s: (1.0 - s) * K1 + s * K2, y, F, lo, hi, self.n_grid
        )
        _store_reml(self, reml, fe, lo, hi)
        if len(shares) > 1 and w == shares.max() and w < 1:
            self.notes_.append(
                f"chosen {self._component} share {w:g} is the largest of the grid; "
                "the REML optimum may lie above it"
            )
        self.mean_diag_ = (m1, m2)
        self.loglik_by_share_ = by_share
        self.dual_coef_ = reml.hinv_resid
        self.shares_ = shares
        return w

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: ``K_new,train H^-1 (y - F b) + F_new b``."""
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_

    def genomic_values(self, X_new: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class GBLUPAD(_TwoKernelBLUP):
    """GBLUP with additive and dominance effects (GBLUP-AD), variance components by REML.

    Model (training data): ``y = F b + a + d + e`` with ``a ~ N(0, sigma_a2 G~)``, ``d ~ N(0,
    sigma_d2 D~)``, ``e ~ N(0, sigma_e2 I)``.  ``G`` is the VanRaden relationship matrix of
    :class:`GBLUP` and ``D = W W' / sum (2pq)^2`` the dominance relationship matrix of
    Vitezica et al. (2013), genotypic parametrisation (:func:`dominance_codes`: per SNP the
    genotypes 0 / 1 / 2 are coded ``-2p^2 / 2pq / -2q^2`` with ``p`` the training frequency
    of the counted allele; a non-whole-number, mean-imputed dosage is an unknown call and gets
    the SNP's mean code over the training rows' whole-number calls, ``dominance_fill_``).
    ``G~ = G / mean(diag G)`` and ``D~ = D / mean(diag D)``.

    REML: with the dominance share ``w = sigma_d2 / (sigma_a2 + sigma_d2)`` the covariance is
    ``sigma_g2 K_w + sigma_e2 I``, ``K_w = (1 - w) G~ + w D~``.  For each ``w`` in ``shares``
    one eigendecomposition of ``K_w`` and the one-kernel REML of :class:`GBLUP`; the ``w``
    with the highest REML log-likelihood is kept (same ``y`` and ``F``, so comparable).
    ``shares=(0,)`` is GBLUP.  Only the training data enter.

    Prediction: ``g_new = K_new,train H^-1 (y - F b)`` (``H = K_w + delta I``) through marker
    effects, so no training genotypes are kept: ``g_new = (X_new - 2p) u_a + W_new u_d`` with
    ``u_a = (1 - w) Z' H^-1 (y - F b) / (s mean(diag G))`` and ``u_d = w W' H^-1 (y - F b) /
    (sum (2pq)^2 mean(diag D))``.

    Parameters
    ----------
    shares : sequence of float
        Dominance shares ``w`` to try, each in [0, 1].
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.

    Attributes
    ----------
    dominance_share_ : float
        The chosen ``w``.
    loglik_by_share_ : dict
        REML log-likelihood of each ``w``.
    sigma_a2_, sigma_d2_ : float
        ``(1 - w) sigma_g2`` and ``w sigma_g2`` (on the scales of ``G~`` and ``D~``).
    additive_coef_, dominance_coef_ : array (m,)
        ``u_a`` and ``u_d``.
    allele_freq_ : array (m,)
        Training frequencies ``p`` of the counted allele.
    dominance_fill_ : array (m,)
        The dominance code of an unknown (mean-imputed) call, per SNP: the mean code of the
        training rows' whole-number calls.
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    mean_diag_ : (float, float)
        ``mean(diag G)``, ``mean(diag D)`` of the training data.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, n_iter_, converged_, at_bound_, notes_
        As for :class:`GBLUP`, for the chosen ``w`` (``h2_`` is the share of the additive plus
        dominance variance on the scale of ``K_w``, whose diagonal averages 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.5, size=(60, 200)).astype(float)
    >>> y = (X[:, :10] == 1).sum(1) + rng.normal(size=60)
    >>> m = GBLUPAD().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "GBLUP-AD"
    _component = "dominance"

    def fit(self, X: Any, y: Any, C: Any = None) -> GBLUPAD:
        """Choose the dominance share and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`; ``X`` may also be lazy rows
        (:class:`snpcnn.datapath.DosageRows`), read in column blocks.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        shares = self._checked_shares()
        X = self._fit_rows(X)
        if self._wants_nystrom(n_rows_cols(X)[0]):
            return self._fit_large(X, y, C, lo, hi)
        blocks = use_blocks(X)
        if blocks:
            n, m, y, fe, F, (mean, _, het, lo_x, hi_x) = block_training_data(X, y, C, "GBLUP-AD")
            _check_dosage_range(lo_x, hi_x, "GBLUP-AD")
            p = mean / 2.0
            P = pieces(X, None, mean, dominance=True)
            G_raw, D_raw = P.lin, P.dom
            del P
            no_het = not het
        else:
            X, y, fe, F = _training_data(X, y, C, "GBLUP-AD")
            _check_dosage_range(float(X.min()), float(X.max()), "GBLUP-AD")
            n, m = X.shape
            p = X.mean(axis=0) / 2.0
            no_het = not np.any(X == 1.0)
            W, fill = dominance_codes_of(X, p)
            Z = X - 2.0 * p
            del X
            G_raw, D_raw = Z @ Z.T, W @ W.T
        scale_g = 2.0 * float(np.sum(p * (1.0 - p)))
        scale_d = float(np.sum((2.0 * p * (1.0 - p)) ** 2))
        G_raw /= scale_g
        D_raw /= scale_d
        w = self._fit_shares(G_raw, D_raw, y, F, fe, lo, hi, shares)
        del G_raw, D_raw
        self.no_heterozygotes_ = bool(no_het)  # dominance not identifiable (cv.py's note)
        if no_het:
            self.notes_.append(
                "no heterozygous calls in the training data (inbred lines?): the dominance "
                "codes are then a linear function of the dosages and dominance cannot be told "
                "apart from additive effects"
            )
        mg, md = self.mean_diag_
        self.dominance_share_ = w
        self.sigma_a2_ = (1.0 - w) * self.sigma_g2_
        self.sigma_d2_ = w * self.sigma_g2_
        if blocks:
            za, wd, fill = transposed(X, 2.0 * p, self.dual_coef_)
        else:
            za, wd = Z.T @ self.dual_coef_, W.T @ self.dual_coef_
        self.additive_coef_ = za * ((1.0 - w) / (scale_g * mg))
        self.dominance_coef_ = wd * (w / (scale_d * md))
        self.allele_freq_ = p
        self.dominance_fill_ = fill
        self.scale_ = scale_g
        self.dominance_scale_ = scale_d
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def _cross_kernel(self, sub: Any, X: Any, landmarks: Any) -> np.ndarray:
        """``K_w`` between the rows of ``X`` and the landmarks, with the landmark fit's
        frequencies, share and scales."""
        P = pieces(X, landmarks, 2.0 * sub.allele_freq_, True, sub.dominance_fill_)
        w = sub.dominance_share_
        mg, md = sub.mean_diag_
        K = P.lin
        K *= (1.0 - w) / (sub.scale_ * mg)
        K += (w / (sub.dominance_scale_ * md)) * P.dom
        return K

    def _fit_large(self, X: Any, y: Any, C: Any, lo: float, hi: float) -> GBLUPAD:
        """The Nystrom fit; its landmark weights become marker effects (as the exact fit's
        dual coefficients do), so predictions need no genotypes of the training rows."""
        sub = self._fit_nystrom(X, y, C, lo, hi)
        w = sub.dominance_share_
        mg, md = sub.mean_diag_
        p = sub.allele_freq_
        L = X[self.landmark_rows_]
        za, wd, _ = transposed(L, 2.0 * p, self.landmark_weights_)
        self.additive_coef_ = za * ((1.0 - w) / (sub.scale_ * mg))
        self.dominance_coef_ = wd * (w / (sub.dominance_scale_ * md))
        self.dominance_share_ = w
        self.sigma_a2_ = (1.0 - w) * self.sigma_g2_
        self.sigma_d2_ = w * self.sigma_g2_
        self.loglik_by_share_ = sub.loglik_by_share_
        self.shares_ = sub.shares_
        self.mean_diag_ = sub.mean_diag_
        self.allele_freq_ = p
        self.dominance_fill_ = sub.dominance_fill_
        self.scale_ = sub.scale_
        self.dominance_scale_ = sub.dominance_scale_
        self.landmark_model_ = None  # the marker effects replace it
        return self

    def additive_values(self, X_new: Any) -> np.ndarray:
        """The predicted additive values ``(X_new - 2p) u_a``."""
        return self._values(X_new, additive=True, dominance=False)

    def dominance_values(self, X_new: Any) -> np.ndarray:
        """The predicted dominance deviations ``W_new u_d`` (codes with training ``p``)."""
        return self._values(X_new, additive=False, dominance=True)

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values (additive plus dominance, no fixed effects)."""
        return self._values(X_new, additive=True, dominance=True)

    def _values(self, X_new: Any, additive: bool, dominance: bool) -> np.ndarray:
        """Row blocks of lazy or large ``X_new`` (float64 per block), else the whole matrix."""
        X_new = self._new_rows(X_new)
        p = self.allele_freq_
        if use_blocks(X_new):
            n_new, m = n_rows_cols(X_new)
            self._check_columns(m)
            blocks = large_n.row_blocks(n_new, m, 8)

            def read(sl: slice) -> np.ndarray:
                return large_n._block(X_new, sl, np.float64, "X_new")
        else:
            X_full = self._check_new(X_new)
            n_new, blocks = len(X_full), [slice(None)]

            def read(sl: slice) -> np.ndarray:
                return X_full

        out = np.zeros(n_new)
        for sl in blocks:
            B = read(sl)
            if additive:
                out[sl] += (B - 2.0 * p) @ self.additive_coef_
            if dominance:
                out[sl] += dominance_codes(B, p, self.dominance_fill_) @ self.dominance_coef_
        return out


class EGBLUP(_TwoKernelBLUP):
    """Epistatic GBLUP (EG-BLUP): additive plus additive-by-additive effects, REML.

    Model (training data): ``y = F b + a + aa + e`` with ``a ~ N(0, sigma_a2 G~)`` and ``aa ~
    N(0, sigma_aa2 (G o G)~)``, where ``G`` is the VanRaden relationship matrix of
    :class:`GBLUP`, ``G o G`` its elementwise (Hadamard) square (Henderson 1985; Jiang and
    Reif 2015), and ``~`` means scaled to mean diagonal 1.  ``G o G`` is the covariance of
    all pairwise products of the centred markers, so ``aa`` holds additive x additive
    interactions between (and within) loci.

    REML over the epistatic share ``w = sigma_aa2 / (sigma_a2 + sigma_aa2)`` exactly as in
    :class:`GBLUPAD`: ``K_w = (1 - w) G~ + w (G o G)~``, one eigendecomposition per ``w`` in
    ``shares``, the ``w`` with the highest REML log-likelihood kept.  ``shares=(0,)`` is
    GBLUP.

    Prediction: ``g_new = K_new,train H^-1 (y - F b) + F_new b`` with ``K_new,train = (1 - w)
    G_new~ + w (G_new o G_new)~`` and ``G_new = (X_new - 2p)(X_train - 2p)' / s``.  The
    cross kernel is not linear in markers, so the model keeps the training dosages as float32
    (``X_train_``, 4 n m bytes: 30 MB for 600 x 12,000 SNPs, 75 MB for 1,814 x 10,346),
    exact for integer dosages; a prediction costs O(n_new n m).

    Parameters
    ----------
    shares : sequence of float
        Epistatic shares ``w`` to try, each in [0, 1].
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.

    Attributes
    ----------
    epistatic_share_ : float
        The chosen ``w``.
    loglik_by_share_ : dict
        REML log-likelihood of each ``w``.
    sigma_a2_, sigma_aa2_ : float
        ``(1 - w) sigma_g2`` and ``w sigma_g2`` (on the scales of ``G~`` and ``(G o G)~``).
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    allele_freq_, scale_ : array (m,), float
        Training ``p`` and ``s = 2 sum p(1-p)``.
    mean_diag_ : (float, float)
        ``mean(diag G)``, ``mean(diag G o G)`` of the training data.
    X_train_ : array (n_train x m), float32
        The training dosages.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, n_iter_, converged_, at_bound_, notes_
        As for :class:`GBLUPAD`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.5, size=(60, 200)).astype(float)
    >>> y = (X[:, 0] - 1) * (X[:, 1] - 1) + rng.normal(size=60)
    >>> m = EGBLUP().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "EG-BLUP"
    _component = "epistatic"

    def fit(self, X: Any, y: Any, C: Any = None) -> EGBLUP:
        """Choose the epistatic share and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`; ``X`` may also be lazy rows
        (:class:`snpcnn.datapath.DosageRows`), read in column blocks.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        shares = self._checked_shares()
        X = self._fit_rows(X)
        if self._wants_nystrom(n_rows_cols(X)[0]):
            sub = self._fit_nystrom(X, y, C, lo, hi)
            for name in ("epistatic_share_", "loglik_by_share_", "shares_", "mean_diag_"):
                setattr(self, name, getattr(sub, name))
            self.sigma_a2_ = (1.0 - self.epistatic_share_) * self.sigma_g2_
            self.sigma_aa2_ = self.epistatic_share_ * self.sigma_g2_
            self.allele_freq_, self.scale_ = sub.allele_freq_, sub.scale_
            return self
        if use_blocks(X):
            n, m, y, fe, F, (mean, _, _, lo_x, hi_x) = block_training_data(X, y, C, "EG-BLUP")
            _check_dosage_range(lo_x, hi_x, "EG-BLUP")
            p = mean / 2.0
            G = pieces(X, None, mean).lin
            self.X_train_, self.train_rows_ = None, X
        else:
            X, y, fe, F = _training_data(X, y, C, "EG-BLUP")
            # fitted on the float32 values that predict() reads back from X_train_, so that
            # the training kernel and the prediction kernel agree for imputed (non-integer)
            # dosages too (exact for integer dosages either way)
            X = X.astype(np.float32).astype(np.float64)
            _check_dosage_range(float(X.min()), float(X.max()), "EG-BLUP")
            n, m = X.shape
            p = X.mean(axis=0) / 2.0
            Z = X - 2.0 * p
            G = Z @ Z.T
            del Z
            self.X_train_, self.train_rows_ = X.astype(np.float32), None
        scale = 2.0 * float(np.sum(p * (1.0 - p)))
        G /= scale
        w = self._fit_shares(G, G * G, y, F, fe, lo, hi, shares)
        self.epistatic_share_ = w
        self.sigma_a2_ = (1.0 - w) * self.sigma_g2_
        self.sigma_aa2_ = w * self.sigma_g2_
        self.allele_freq_ = p
        self.scale_ = scale
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def kernel(self, X_new: Any) -> np.ndarray:
        """``K_new,train = (1 - w) G_new~ + w (G_new o G_new)~`` (n_new x n_train)."""
        return self._kernel(self._new_rows(X_new))

    def _kernel(self, X_new: Any) -> np.ndarray:
        """:meth:`kernel` of checked rows (:meth:`_new_rows`)."""
        p = self.allele_freq_
        train = self._blocked_train(X_new)
        if train is not None:
            G = pieces(X_new, train, 2.0 * p).lin
            G /= self.scale_
        else:
            X_new = self._check_new(X_new)
            G = ((X_new - 2.0 * p) @ (self.X_train_.astype(np.float64) - 2.0 * p).T) / self.scale_
        w = self.epistatic_share_
        mg, mgg = self.mean_diag_
        return ((1.0 - w) / mg) * G + (w / mgg) * (G * G)

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values (additive plus epistatic, no fixed effects)."""
        X_new = self._new_rows(X_new)
        if self._is_nystrom():
            return self._nystrom_values(X_new)
        return self._kernel(X_new) @ self.dual_coef_
