"""The kernel baselines (RKHS, GBLUP-AD, EG-BLUP, CNN-GP, MLP-GP) at scale.

Two limits, two tools:

* **Genotypes without a float copy** (streamed folds, :class:`snpcnn.datapath.DosageRows`, or
  an array whose float64 copy would exceed :data:`INMEMORY_BYTES`): the linear, dominance and
  distance kernels are sums over SNPs, so :func:`pieces` accumulates them over column blocks
  of about :data:`BLOCK_BYTES` (float64), and the fit never holds more than one block of the
  genotypes in float.  The kernels are those of the in-memory fit up to the order of the sums
  (float rounding).
* **Many training rows** (above :data:`EXACT_MAX_N`, where every candidate kernel's n x n
  eigendecomposition costs O(n^3) time and n^2 memory): the Nystrom approximation
  (Williams and Seeger 2001) ``K ~ C W^-1 C'`` through :data:`LANDMARKS` landmark
  individuals, a random subsample of the training rows (fixed seed): ``C`` the kernel
  between every training row and the landmarks, ``W`` that among the landmarks.  The
  kernel's own choices (RKHS's bandwidth, GBLUP-AD's dominance share, EG-BLUP's epistatic
  share, the CNN-GP's depth) and its centring come from the exact fit on the landmarks
  (their REML), as the large-n GBLUP takes ``delta`` from a subsample; the variance
  components then come from REML on **all** training rows with the rank-``LANDMARKS``
  kernel (exact REML for that kernel, through the eigenvectors of ``C W^-1 C'``).  Time
  O(n m (p + m)), memory O(n m), ``m`` = landmarks; predictions need only the landmarks.
  With ``landmarks >= n`` the approximation is the exact kernel.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from snpcnn.baselines._common import (
    _EIG_RTOL,
    _check_polymorphic,
    _targets_and_design,
    check_columns,
    not_2d,
)
from snpcnn.baselines.large_n import row_blocks, subsample_rows
from snpcnn.baselines.reml import _reml, _RemlFit, _store_reml
from snpcnn.errors import InputError

#: training rows up to which ``solver="auto"`` eigendecomposes the exact n x n kernels;
#: above, the Nystrom path
EXACT_MAX_N = 6000
#: landmark individuals of the Nystrom approximation (as many as the large-n GBLUP's REML
#: subsample): more landmarks, a closer kernel (docs/bench/rkhs_nystrom.md), n x LANDMARKS
#: float64 of memory
LANDMARKS = 3000
#: accepted values of the kernel baselines' ``solver``
KERNEL_SOLVERS = ("auto", "exact", "nystrom")
#: an in-memory input whose float64 copy is larger than this takes the column-block path
INMEMORY_BYTES = 256 * 2**20
#: target size of one float64 column block (bytes)
BLOCK_BYTES = 64 * 2**20
#: elements of one row block of a kernel against the landmarks (float64: 32 MB); the kernel
#: is computed block by block, so a model's temporaries (the CNN-GP's arc-cosine maps)
#: grow with the block, not with the training rows
CROSS_BLOCK_ELEMENTS = 2**22

_FINITE = (
    "contains NaN or infinite values; impute missing dosages with the training-fold mean "
    "before calling fit/predict"
)


def is_lazy(X: Any) -> bool:
    """Rows read by columns on demand (:class:`snpcnn.datapath.DosageRows`), not an array."""
    return (
        not isinstance(X, np.ndarray)
        and callable(getattr(X, "columns", None))  # not a DataFrame's column index
        and hasattr(X, "column_blocks")
        and hasattr(X, "shape")
    )


def use_blocks(X: Any) -> bool:
    """Whether ``X`` is read in column blocks: lazy rows, or an array whose float64 copy would
    exceed :data:`INMEMORY_BYTES`."""
    if is_lazy(X):
        return True
    return isinstance(X, np.ndarray) and X.ndim == 2 and X.size * 8 > INMEMORY_BYTES


def n_rows_cols(X: Any) -> tuple[int, int]:
    """``(rows, SNPs)`` of an array or of lazy rows, checked to be two-dimensional."""
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.asarray(X).shape
    if len(shape) != 2:
        raise not_2d("X", shape)
    return int(shape[0]), int(shape[1])


def _columns(X: Any, c0: int, c1: int, what: str) -> np.ndarray:
    if is_lazy(X):
        B = np.asarray(X.columns(c0, c1), dtype=np.float64)
    else:
        B = np.asarray(X[:, c0:c1], dtype=np.float64)
    if not np.isfinite(B).all():
        raise InputError(f"{what} {_FINITE}")
    return B


def _steps(n: int, m: int) -> tuple[range, int]:
    step = max(1, BLOCK_BYTES // (8 * max(1, n)))
    return range(0, m, step), step


class ColumnStats(NamedTuple):
    mean: np.ndarray  # column means (float64)
    varying: bool  # whether any column varies
    het: bool  # whether any call is heterozygous (a dosage of exactly 1)
    lo: float  # the smallest value
    hi: float  # the largest value


def column_stats(X: Any, what: str = "X") -> ColumnStats:
    """Column means of ``X`` and a few checks, over column blocks."""
    n, m = n_rows_cols(X)
    mean = np.empty(m)
    varying = het = False
    lo, hi = np.inf, -np.inf
    starts, step = _steps(n, m)
    for c0 in starts:
        c1 = min(m, c0 + step)
        B = _columns(X, c0, c1, what)
        mean[c0:c1] = B.mean(axis=0)
        if n and not varying:
            varying = bool((np.ptp(B, axis=0) > 0).any())
        het = het or bool((B == 1.0).any())
        if B.size:
            lo, hi = min(lo, float(B.min())), max(hi, float(B.max()))
    return ColumnStats(mean, varying, het, lo, hi)


def block_training_data(X: Any, y: Any, C: Any, who: str) -> tuple:
    """For a fit from column blocks: ``(n, m, y, fixed effects, F, ColumnStats)``, the
    checks of the in-memory fit included."""
    n, m = n_rows_cols(X)
    y, fe, F = _targets_and_design(y, C, n, who)
    stats = column_stats(X)
    if not stats.varying:
        _check_polymorphic(np.zeros((2, 1)))  # the in-memory fit's message
    return n, m, y, fe, F, stats


def dominance_codes_of(
    X: np.ndarray, p: np.ndarray, fill: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vitezica et al. (2013) genotypic dominance codes (:func:`snpcnn.baselines.gblup.
    dominance_codes`) of a float block with frequencies ``p``, and the code given to its
    unknown calls.  A dosage that is not a whole number is an unknown (mean-imputed) call: it
    gets ``fill``, per SNP, or where ``fill`` is None the mean code of the block's whole-number
    calls (0 for a SNP with none), as a missing dosage gets the mean dosage.  Returns
    ``(codes, fill)``."""
    W = X * ((1.0 + 2.0 * p) - X) - 2.0 * p * p
    unknown = X != np.rint(X)
    if fill is None:
        known = (~unknown).sum(axis=0)
        total = np.where(unknown, 0.0, W).sum(axis=0)
        fill = np.divide(total, known, out=np.zeros(X.shape[1]), where=known > 0)
    if unknown.any():
        np.copyto(W, np.broadcast_to(fill, W.shape), where=unknown)
    return W, fill


class Pieces(NamedTuple):
    """Sums over SNPs between the rows of ``A`` and ``B`` (``Z = X - mean``, ``W`` the
    dominance codes with ``p = mean / 2``)."""

    lin: np.ndarray  # Z_A Z_B'
    sq_a: np.ndarray  # row sums of squares of Z_A
    sq_b: np.ndarray  # ... of Z_B
    dom: np.ndarray | None  # W_A W_B' (dominance=True)


def pieces(
    A: Any,
    B: Any,
    mean: np.ndarray,
    dominance: bool = False,
    dom_fill: np.ndarray | None = None,
) -> Pieces:
    """:class:`Pieces` between the rows of ``A`` and ``B`` (``None``: ``A`` with itself),
    accumulated over column blocks (one float64 block of each at a time).  ``dom_fill``: the
    dominance code of an unknown call per SNP (:func:`dominance_codes_of`; None: from the
    whole-number calls of ``A``)."""
    same = B is None
    n_a, m = n_rows_cols(A)
    n_b = n_a if same else n_rows_cols(B)[0]
    if not same:
        check_columns(m, n_rows_cols(B)[1])
    lin = np.zeros((n_a, n_b))
    sq_a = np.zeros(n_a)
    sq_b = sq_a if same else np.zeros(n_b)
    dom = np.zeros((n_a, n_b)) if dominance else None
    starts, step = _steps(max(n_a, n_b), m)
    for c0 in starts:
        c1 = min(m, c0 + step)
        mu = mean[c0:c1]
        Xa = _columns(A, c0, c1, "X" if same else "X_new")
        Za = Xa - mu
        sq_a += np.einsum("ij,ij->i", Za, Za)
        if same:
            lin += Za @ Za.T
            if dominance:
                Wa = dominance_codes_of(Xa, mu / 2.0, _part(dom_fill, c0, c1))[0]
                dom += Wa @ Wa.T
            continue
        Xb = _columns(B, c0, c1, "X")
        Zb = Xb - mu
        sq_b += np.einsum("ij,ij->i", Zb, Zb)
        lin += Za @ Zb.T
        if dominance:
            Wa, fill = dominance_codes_of(Xa, mu / 2.0, _part(dom_fill, c0, c1))
            dom += Wa @ dominance_codes_of(Xb, mu / 2.0, fill)[0].T
    return Pieces(lin, sq_a, sq_b, dom)


def transposed(
    X: Any, mean: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Z' v`` and ``W' v`` (SNPs,) over column blocks (``Z``, ``W`` as in :class:`Pieces`),
    and the dominance code of an unknown call per SNP (from ``X``'s whole-number calls)."""
    n, m = n_rows_cols(X)
    za, wd, fill = np.empty(m), np.empty(m), np.empty(m)
    starts, step = _steps(n, m)
    for c0 in starts:
        c1 = min(m, c0 + step)
        Xb = _columns(X, c0, c1, "X")
        mu = mean[c0:c1]
        za[c0:c1] = (Xb - mu).T @ v
        W, fill[c0:c1] = dominance_codes_of(Xb, mu / 2.0)
        wd[c0:c1] = W.T @ v
    return za, wd, fill


def _part(values: np.ndarray | None, c0: int, c1: int) -> np.ndarray | None:
    return None if values is None else values[c0:c1]


class NystromFit(NamedTuple):
    reml: _RemlFit
    weights: np.ndarray  # one per landmark: g_new = K(new, landmarks) @ weights
    rank: int


def nystrom_reml(
    K: np.ndarray, rows: np.ndarray, y: np.ndarray, F: np.ndarray, lo: float, hi: float, n_grid: int
) -> NystromFit:
    """REML with the Nystrom kernel ``C W^-1 C'``: ``K`` is ``C`` (training rows x landmarks,
    float64, overwritten), ``rows`` the landmarks' rows in it (``W = K[rows]``)."""
    W = K[rows].copy()
    W += W.T
    W /= 2.0
    lam_w, Q = np.linalg.eigh(W)
    del W
    keep = lam_w > _EIG_RTOL * max(float(lam_w[-1]), 0.0)
    T = Q[:, keep] / np.sqrt(lam_w[keep])  # W^-1/2 on W's range (landmarks x r)
    r = T.shape[1]
    n, m = K.shape
    for sl in row_blocks(n, m, 8):
        K[sl, :r] = K[sl] @ T
    phi = K[:, :r]  # K ~ phi phi'
    lam, V = np.linalg.eigh(phi.T @ phi)
    nz = lam > _EIG_RTOL * max(float(lam[-1]), 0.0)
    # U = phi V S^-1 (orthonormal columns: K ~ U diag(lam) U'), written over phi block by block
    M = V[:, nz] / np.sqrt(lam[nz])
    rank = int(nz.sum())
    for sl in row_blocks(n, r, 8):
        phi[sl, :rank] = phi[sl] @ M
    U = phi[:, :rank]
    reml = _reml(U, lam[nz], y, F, lo, hi, n_grid)
    # g_new = C_new T phi' H^-1 (y - F b), phi' = V S U': one weight per landmark
    weights = T @ (V[:, nz] @ (np.sqrt(lam[nz]) * (U.T @ reml.hinv_resid)))
    return NystromFit(reml, weights, rank)


class NystromMixin:
    """The Nystrom path of a kernel baseline (module docstring).

    The class has the parameters ``solver`` (:data:`KERNEL_SOLVERS`), ``landmarks``,
    ``n_grid``, and an exact fit whose ``kernel(X_new)`` gives the kernel between new rows
    and its training rows (:meth:`_cross_kernel` may compute it otherwise).  A Nystrom fit
    keeps ``landmark_model_`` (the exact fit on the landmarks), ``landmark_weights_`` and
    ``landmark_rows_``; ``solver_`` says which path a fit took.
    """

    #: a word that the exact fit's notes about its grid contain (kept in the Nystrom notes)
    _grid_word = "grid"
    #: what the exact fit on the landmarks chooses, for the note
    _landmark_choice = "its settings"

    def _wants_nystrom(self, n: int) -> bool:
        if self.solver not in KERNEL_SOLVERS:
            raise InputError(
                f"{self.name}: solver must be one of {', '.join(KERNEL_SOLVERS)}, "
                f"got {self.solver!r}"
            )
        return self.solver == "nystrom" or (self.solver == "auto" and n > EXACT_MAX_N)

    def _is_nystrom(self) -> bool:
        return getattr(self, "solver_", "exact") == "nystrom"

    def _refuse_nystrom_kernel(self) -> None:
        """``kernel()`` of a Nystrom fit: it has no training rows to compute it against."""
        if self._is_nystrom():
            raise InputError(
                f"{self.name}: a Nystrom fit keeps no training rows, only its landmarks; use "
                "genomic_values() or predict(), or fit with solver='exact'"
            )

    def _blocked_train(self, X_new: Any) -> Any:
        """The training rows to read against ``X_new`` by column blocks (lazy rows kept by
        the fit, or ``X_train_`` where ``X_new`` is lazy or large), or None where the
        in-memory path applies.  A Nystrom fit has no training rows: use its predictions."""
        self._refuse_nystrom_kernel()
        train = getattr(self, "train_rows_", None)
        if train is None and not use_blocks(X_new):
            return None
        m = n_rows_cols(X_new)[1]
        self._check_columns(m)
        return self.X_train_ if train is None else train

    def _exact_twin(self) -> Any:
        return type(self)(**{**self.get_params(deep=False), "solver": "exact"})

    def _cross_kernel(self, sub: Any, X: Any, landmarks: Any) -> np.ndarray:
        """The kernel between the rows of ``X`` and the landmarks (rows x landmarks)."""
        return sub.kernel(X)

    def _fit_nystrom(
        self, X: Any, y: Any, C: Any, lo: float, hi: float, landmark_model: Any = None
    ) -> Any:
        """The Nystrom fit (module docstring); returns the exact fit on the landmarks
        (``landmark_model``: that fit, made already by the caller on the same rows, is used
        instead of fitting it again)."""
        n, m = n_rows_cols(X)
        y, fe, F = _targets_and_design(y, C, n, self.name)
        k = int(self.landmarks)
        if k < 10:
            raise InputError(f"{self.name}: landmarks must be at least 10, got {self.landmarks!r}")
        rows = subsample_rows(n, k)
        L = X[rows]  # an array's rows (a copy in its dtype), or lazy rows (still lazy)
        if landmark_model is not None and landmark_model.n_train_ != len(rows):
            raise InputError(
                f"{self.name}: the landmark model was fitted on {landmark_model.n_train_} rows, "
                f"the landmarks are {len(rows)}"
            )
        sub = landmark_model or self._exact_twin().fit(
            L, y[rows], None if C is None else np.asarray(C)[rows]
        )
        K = self._blocked_cross_kernel(sub, X, L, n, len(rows))
        fit = nystrom_reml(K, rows, y, F, lo, hi, self.n_grid)
        del K
        _store_reml(self, fit.reml, fe, lo, hi)
        self.notes_ = [x for x in sub.notes_ if self._grid_word in x] + self.notes_
        self.notes_.append(
            f"Nystrom approximation: the kernel through {len(rows):,} landmark individuals "
            f"of the {n:,} training rows (rank {fit.rank}); {self._landmark_choice} by REML "
            "on the landmarks, variance components by REML on all rows"
        )
        self.landmark_model_ = sub
        self.landmark_weights_ = fit.weights
        self.landmark_rows_ = rows
        self.dual_coef_ = fit.reml.hinv_resid
        self.loo_residuals_ = fit.reml.loo_resid  # of the rank-landmarks kernel model
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "nystrom"
        return sub

    def _blocked_cross_kernel(self, sub: Any, X: Any, L: Any, n: int, k: int) -> np.ndarray:
        """The n x k kernel against the landmarks, row block by row block."""
        K = np.empty((n, k))
        for sl in _cross_rows(n, k):
            K[sl] = self._cross_kernel(sub, X[sl], L)
        return K

    def _nystrom_values(self, X_new: Any) -> np.ndarray:
        """``g_new = K(X_new, landmarks) @ landmark_weights_``, row block by row block."""
        self._check_fitted()
        n_new, m = n_rows_cols(X_new)
        self._check_columns(m)
        w = self.landmark_weights_
        out = np.empty(n_new)
        for sl in _cross_rows(n_new, len(w)):
            out[sl] = self._cross_kernel(self.landmark_model_, X_new[sl], None) @ w
        return out


def _cross_rows(n: int, k: int):
    """Row slices of about :data:`CROSS_BLOCK_ELEMENTS` of an n x k kernel."""
    step = max(1, CROSS_BLOCK_ELEMENTS // max(1, k))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def nystrom_note(label: str, n_train: int) -> str:
    """The run note for a kernel baseline that takes the Nystrom path."""
    return (
        f"{label} above {EXACT_MAX_N:,} training rows ({n_train:,}): the Nystrom "
        f"approximation of its kernel through {LANDMARKS:,} landmark individuals (its "
        "kernel settings by REML on them, variance components by REML on all rows; "
        "docs/baselines.md)"
    )
