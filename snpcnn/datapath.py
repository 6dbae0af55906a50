"""The CNN's data path when a fold does not fit in memory: cache -> fold statistics -> batches.

Read top to bottom; each step uses only the one before it.

1. **The cache.**  A :class:`~snpcnn.genotypes.Genotypes` holds int8 dosages (-1 = missing),
   memory-mapped from the cache that ``snpcnn convert`` writes (or read into memory from a
   small VCF/PLINK file).  Nothing below copies the whole matrix to float.
2. **Fold statistics.**  :func:`fold_statistics` fits the fold's
   :class:`~snpcnn.preprocess.GenotypePreprocessor` on the training rows: genotype counts
   (MAF, call rate, monomorphic SNPs, mean dosages for imputation and centring), SDs for
   ``standardize`` and the marginal scan for ``--preselect-*``, each in chunked passes
   (row chunks of about 64 MB; the scan in column blocks of at most 256 MB of float32).
   It is the very same fit the in-memory path runs.
3. **Encoded rows, per batch.**  :class:`EncodedRows` stands for the float32 matrix
   ``pre.transform(genotypes, rows)`` without building it: ``x[i]`` is another
   :class:`EncodedRows` (a row subset), and a batch is encoded when it is needed, with
   exactly the arithmetic of ``pre.transform``.
4. **Passes for the CNN's closed-form parts.**  The ridge start needs the Gram matrix
   ``X X'`` (n x n, float64), accumulated over column blocks (:func:`centered_gram`,
   :func:`fit_ridge_streamed`); the screen's pair statistics are computed column block by
   column block (:func:`screen_windows_streamed`).
5. **Training and prediction.**  :func:`trainer` wraps a Keras model so that it takes
   genotype *row numbers* as input and gathers + encodes each batch inside the training
   step; ``model.fit`` then shuffles and batches the row numbers exactly as it would
   shuffle and batch the float matrix, so the streamed network sees the same batches in
   the same order with the same seed.  :func:`predict_rows` predicts in the same batches.
6. **Baselines.**  :class:`DosageRows` is the baselines' imputed dosage matrix, lazy, for
   the large-n GBLUP / ridge solver (:mod:`snpcnn.baselines.large_n`), which reads it in
   row and column blocks.

When :mod:`snpcnn.cv` streams: :func:`stream_wanted` (an encoded training matrix above
:data:`STREAM_BYTES`, or ``SNPCNN_STREAM=1``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes, read_done
from snpcnn.preprocess import GenotypePreprocessor

__all__ = [
    "STREAM_BYTES",
    "STREAM_ENV",
    "DosageRows",
    "EncodedRows",
    "centered_gram",
    "fit_ridge_streamed",
    "ridge_fit",
    "fold_statistics",
    "predict_rows",
    "screen_windows_streamed",
    "stream_wanted",
    "trainer",
    "model_input",
]

#: An encoded training matrix (float32, rows x SNPs x channels) larger than this many bytes
#: is streamed instead of built.  In memory the CNN path and the baselines peak at roughly
#: 15x the encoded matrix on top of about 1 GB for TensorFlow (float64 copies, centred
#: copies, the screen's standardised copy): 5.5 GB at 2,000 x 50,000 with 3 folds (254 MiB
#: per training part, just below the switch, so it stays in memory with every baseline),
#: while 2,000 x 200,000 streams in 2.5 GB (docs/bench/stream.md).  The switch was not lower
#: because streamed folds skipped the n x n kernel baselines; since sessions 30-31 every
#: baseline runs on them (column-block sums), so a lower switch is open: at 2,000 x 20,000
#: streaming took 1.39 GB against 2.20 GB, not slower, the same predictions to 1e-7
#: (docs/bench/stream.md), but it has not been measured with the kernel baselines at sizes
#: just below the switch (session 45: a checking helper found peak RSS at 2,000 x 50,000
#: above that at 2,000 x 200,000).
STREAM_BYTES = 256 * 1024**2
#: ``SNPCNN_STREAM=1`` streams every fold, ``SNPCNN_STREAM=0`` never streams.
STREAM_ENV = "SNPCNN_STREAM"
#: Largest float block (bytes) one pass materialises at a time.
BLOCK_BYTES = 64 * 1024**2


def stream_wanted(n_rows: int, n_snps: int, channels: int = 1) -> bool:
    """Whether a training part of ``n_rows`` x ``n_snps`` x ``channels`` is streamed."""
    flag = os.environ.get(STREAM_ENV, "").strip()
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return False
    if flag:
        raise InputError(f"{STREAM_ENV} must be 1 (always stream) or 0 (never); got {flag!r}")
    return n_rows * n_snps * channels * 4 > STREAM_BYTES


#: the baselines that run on streamed folds: GBLUP and ridge by the large-n solver, the
#: LASSO, the CNN-GP, MLP-GP, RKHS, GBLUP-AD, EG-BLUP and the multi-trait GBLUP from
#: column-block passes: every baseline
STREAMED_BASELINES = (
    "mlpgp",
    "gblup",
    "ridge",
    "rrblup",
    "lasso",
    "cnngp",
    "rkhs",
    "gblupad",
    "egblup",
    "mtgblup",
)
_SAID: set = set()


def say_once(key: Any, message: str) -> None:
    """Log ``message`` on the console once per ``key`` (e.g. once per data set)."""
    import logging

    if (key, message) not in _SAID:
        _SAID.add((key, message))
        logging.getLogger("snpcnn.cv").warning(message)


def streamed_baselines(names) -> tuple[list[str], list[str]]:
    """(the baselines that run on a streamed fold, those skipped)."""
    kept = [b for b in names if b.replace("-", "").replace("_", "") in STREAMED_BASELINES]
    return kept, [b for b in names if b not in kept]


# ----------------------------------------------------------------- 2. fold statistics
def fold_statistics(
    genotypes: Genotypes,
    rows: np.ndarray,
    settings: dict[str, Any],
    y: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> GenotypePreprocessor:
    """The fold's preprocessing, fitted on ``rows`` in chunked passes over the int8 matrix.

    Counts per SNP come from :meth:`Genotypes.counts` (row chunks of about 64 MB), SDs from
    row batches of 4,096, the preselection scan from column blocks (all in
    :meth:`GenotypePreprocessor.fit`): no pass holds more than one chunk in float.
    """
    return GenotypePreprocessor(**settings).fit(genotypes, rows, y=y, covariates=covariates)


# ------------------------------------------------------------------- 3. encoded rows
class EncodedRows:
    """``pre.transform(genotypes, rows)`` as a lazy float32 (rows x SNPs x channels) matrix.

    ``x[key]`` (a slice, integer positions or a boolean mask) is the lazy row subset;
    :meth:`encode` builds the float32 array of these rows (one batch at a time, please);
    :meth:`columns` builds a column block of all rows.
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, genotypes: Genotypes, pre: GenotypePreprocessor, rows: np.ndarray):
        self.genotypes = genotypes
        self.pre = pre
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), *pre.input_shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> EncodedRows:
        return EncodedRows(self.genotypes, self.pre, self.rows[key])

    def __repr__(self) -> str:
        return f"EncodedRows(shape={self.shape})"

    @property
    def n_features(self) -> int:
        """Columns of the flattened input (SNPs x channels)."""
        return int(self.shape[1] * self.shape[2])

    def encode(self) -> np.ndarray:
        """The float32 model input of these rows (exactly ``pre.transform``)."""
        return self.pre.transform(self.genotypes, self.rows)

    def batches(self, batch_rows: int) -> Iterator[np.ndarray]:
        """Encoded consecutive row batches of ``batch_rows`` rows."""
        for start in range(0, len(self), batch_rows):
            yield self[start : start + batch_rows].encode()

    def block_rows(self, itemsize: int = 4) -> int:
        """Rows per batch so that one float batch stays near :data:`BLOCK_BYTES`."""
        return max(1, BLOCK_BYTES // max(1, itemsize * self.n_features))

    def _encoded(self, snps) -> np.ndarray:
        """The flattened input of the kept SNPs ``snps`` (a slice or positions into
        ``pre.snp_index_``) for these rows (float32, rows x SNPs * channels)."""
        pre = self.pre
        block = _read(self.genotypes.dosages, self.rows, np.atleast_1d(pre.snp_index_[snps]))
        sub = {
            "fill": pre.fill_[snps],
            "center": None if pre.center_ is None else pre.center_[snps],
            "scale": None if pre.scale_ is None else pre.scale_[snps],
        }
        from snpcnn.genotypes import encode

        return encode(block, pre.encoding, **sub).reshape(len(self), -1)

    def columns(self, c0: int, c1: int) -> np.ndarray:
        """Columns ``c0:c1`` of the flattened input (float32, rows x (c1 - c0))."""
        c = self.shape[2]
        s0, s1 = c0 // c, -(-c1 // c)
        return self._encoded(slice(s0, s1))[:, c0 - s0 * c : c1 - s0 * c]

    def take_columns(self, cols: np.ndarray) -> np.ndarray:
        """Columns ``cols`` (sorted or not) of the flattened input (float32, rows x
        len(cols)): the values of :meth:`columns` (and of ``pre.transform``), read from the
        SNPs that hold them only."""
        c = self.shape[2]
        cols = np.asarray(cols, dtype=np.int64)
        snps = np.unique(cols // c)
        return self._encoded(snps)[:, np.searchsorted(snps, cols // c) * c + cols % c]

    def column_blocks(self, itemsize: int = 8, align: int = 1) -> Iterator[tuple[int, int]]:
        """``(c0, c1)`` column ranges of about :data:`BLOCK_BYTES` (multiples of ``align``)."""
        return _column_blocks(len(self), self.n_features, itemsize, align)

    @property
    def has_codes(self) -> bool:
        """Whether each input value is a function of its SNP and int8 dosage alone (the
        one-channel dosage encoding), so :meth:`codes` and :meth:`code_values` hold the
        input in a quarter of its float32 size."""
        return self.pre.encoding == "dosage" and self.shape[2] == 1

    def codes(self) -> np.ndarray:
        """The int8 dosages (-1 = missing) of these rows at the kept SNPs (rows x SNPs)."""
        return np.ascontiguousarray(_read(self.genotypes.dosages, self.rows, self.pre.snp_index_))

    def code_values(self, code: int) -> np.ndarray:
        """The model input (float32, one value per kept SNP) of dosage ``code`` (-1: missing)
        at every SNP: what :meth:`encode` gives a row that holds ``code`` everywhere."""
        from snpcnn.genotypes import encode

        pre = self.pre
        block = np.full((1, len(pre.snp_index_)), code, dtype=np.int8)
        return encode(block, pre.encoding, fill=pre.fill_, center=pre.center_, scale=pre.scale_)[
            0, :, 0
        ]


def _column_blocks(n: int, p: int, itemsize: int, align: int) -> Iterator[tuple[int, int]]:
    step = max(1, BLOCK_BYTES // max(1, itemsize * n))
    step = max(align, step - step % align)
    for c0 in range(0, p, step):
        yield c0, min(p, c0 + step)


def _read(dosages, rows: np.ndarray, snps: np.ndarray) -> np.ndarray:
    """``dosages[rows][:, snps]`` (int8, rows x SNPs), read as rows x the span of ``snps``
    (a row index and a slice: much faster than indexing both axes with arrays on a
    memory-mapped matrix), then narrowed to ``snps`` where the span holds other columns."""
    if len(snps) == 0:
        return np.zeros((len(rows), 0), dtype=np.int8)
    lo, hi = int(snps.min()), int(snps.max()) + 1
    if hi - lo > 4 * len(snps):  # a few scattered SNPs: read only those
        return read_done(dosages, np.asarray(dosages[rows[:, None], snps[None, :]]))
    block = read_done(dosages, np.asarray(dosages[rows, lo:hi]))
    if hi - lo == len(snps) and np.all(np.diff(snps) == 1):
        return block
    return block[:, snps - lo]


class DosageRows:
    """``pre.dosage_matrix(genotypes, rows)`` (what the baselines get: training-mean imputed,
    unscaled dosages of the kept SNPs, float32) as a lazy rows x SNPs matrix.

    Enough of an array for the large-n GBLUP / ridge solver
    (:mod:`snpcnn.baselines.large_n`): ``shape``, ``dtype``, ``len``, ``X[rows]`` (lazy),
    ``X[rows, cols]`` and ``np.asarray(X)`` (built, so only ever on one block of rows); and
    for the LASSO (:class:`snpcnn.baselines.lasso.StreamedColumns`), the column reads of
    :class:`EncodedRows`: ``n_features``, ``column_blocks``, ``columns``, ``take_columns``.
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, genotypes: Genotypes, pre: GenotypePreprocessor, rows: np.ndarray):
        self.genotypes = genotypes
        self.pre = pre
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), pre.n_snps)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, cols = key
            return self[rows]._columns(cols)
        return DosageRows(self.genotypes, self.pre, self.rows[key])

    @property
    def n_features(self) -> int:
        return int(self.shape[1])

    def column_blocks(self, itemsize: int = 8, align: int = 1) -> Iterator[tuple[int, int]]:
        """``(c0, c1)`` column ranges of about :data:`BLOCK_BYTES` (multiples of ``align``)."""
        return _column_blocks(len(self), self.n_features, itemsize, align)

    def columns(self, c0: int, c1: int) -> np.ndarray:
        """Columns ``c0:c1`` (float32, rows x (c1 - c0))."""
        return self._columns(slice(c0, c1))

    def take_columns(self, cols: np.ndarray) -> np.ndarray:
        """Columns ``cols`` (sorted or not; float32, rows x len(cols))."""
        return self._columns(np.asarray(cols, dtype=np.int64))

    def _columns(self, cols) -> np.ndarray:
        snps = np.arange(self.shape[1])[cols]
        block = _read(self.genotypes.dosages, self.rows, np.atleast_1d(self.pre.snp_index_[snps]))
        # C order, as the baselines' float32 products have always seen it (_read may return a
        # column-indexed block in Fortran order, and the large-n solver's float32 sums, hence
        # its results, depend on the layout)
        x = np.ascontiguousarray(block).astype(np.float32)
        miss = block < 0
        if miss.any():
            x[miss] = np.broadcast_to(self.pre.fill_[snps], x.shape)[miss]
        return x

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        x = self._columns(slice(None))
        return x if dtype is None else x.astype(dtype, copy=False)


# --------------------------------------------------- 4. passes for the closed-form parts
def _projected(B: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """``B - Q Q' B``: a column block with the fixed effects (basis ``Q``) projected out."""
    return B - Q @ (Q.T @ B)


def centered_gram(x: EncodedRows, Q: np.ndarray | None = None) -> np.ndarray:
    """``Xt Xt'`` (n x n, float64), ``Xt = X - Q Q' X`` the flattened input with the fixed
    effects projected out (default: the intercept, i.e. centred on these rows), summed over
    column blocks: one float64 block of about 64 MB at a time."""
    n = len(x)
    Q = np.full((n, 1), 1.0 / np.sqrt(n)) if Q is None else Q
    K = np.zeros((n, n))
    for c0, c1 in x.column_blocks():
        B = _projected(x.columns(c0, c1).astype(np.float64), Q)
        K += B @ B.T
    return K


def ridge_fit(x: EncodedRows, y: np.ndarray, C=None, penalty: str = "loo", alpha=None):
    """``RidgeRegression(penalty=penalty).fit(X, y, C)`` (or ``alphas=[alpha]``) of the
    flattened input ``X`` of ``x``, from two column-block passes: the Gram matrix, then the
    marker effects.  Returns the fitted :class:`~snpcnn.baselines.RidgeRegression`, with
    ``fitted_`` (``X coef + F beta`` of the training rows) added.

    Same model, same penalty choice (grid + exact leave-one-out, or REML) and the same
    exact leave-one-out residuals as the in-memory fit; the Gram matrix is a sum over
    column blocks instead of one matrix product, so the numbers agree to float64
    rounding (relative 1e-12), not bit for bit.
    """
    from snpcnn.baselines._common import _EIG_RTOL, _as_vector, _FixedEffects
    from snpcnn.baselines.ridge import RidgeRegression, _loo_path

    n, m = len(x), x.n_features
    if n > m:
        raise InputError(
            f"streamed ridge: {n:,} training rows > {m:,} SNP columns is not supported yet "
            f"(it needs the SNP x SNP Gram matrix); set {STREAM_ENV}=0"
        )
    ridge = RidgeRegression(alphas=None if alpha is None else [float(alpha)], penalty=penalty)
    y = _as_vector(y, n)
    fe = _FixedEffects().fit(C, n)
    F = fe.design(C, n)
    Q, _ = np.linalg.qr(F)
    s2, U = np.linalg.eigh(centered_gram(x, Q))
    top = s2[-1] if len(s2) else 0.0
    keep = s2 > _EIG_RTOL * max(top, 0.0)
    s2, U = s2[keep], U[:, keep]
    if penalty == "reml" and alpha is None:
        alphas = ridge._reml_alpha(U, s2, y, F, n)
    else:
        alphas = ridge._alpha_grid(float(s2.sum()) / n if len(s2) else 1.0)
    yt = y - Q @ (Q.T @ y)
    mse, loo, Uy = _loo_path(U, s2, Q, yt, alphas)
    best = ridge._store_alpha(alphas, mse, loo, fe)
    v = U @ (Uy / (s2 + best))
    coef = np.empty(m)
    xcoef = np.zeros(n)
    for c0, c1 in x.column_blocks():  # second pass: coef = Xt' v, and X coef
        B = x.columns(c0, c1).astype(np.float64)
        coef[c0:c1] = _projected(B, Q).T @ v
        xcoef += B @ coef[c0:c1]
    b, *_ = np.linalg.lstsq(F, y - xcoef, rcond=None)
    ridge.coef_, ridge.beta_, ridge.intercept_ = coef, b, float(b[0])
    ridge.n_features_in_, ridge.n_train_, ridge.solver_ = m, n, "exact (streamed)"
    ridge.fitted_ = xcoef + F @ b
    return ridge


def fit_ridge_streamed(x: EncodedRows, y: np.ndarray, dominance=False, penalty="loo", alphas=None):
    """The CNN's ridge start (:func:`snpcnn.training._fit_ridge`) by :func:`ridge_fit`."""
    from snpcnn.training import _RidgeStart

    if dominance:
        raise InputError(
            "the dominance block of the ridge start ([linear] dominance = true) is not "
            f"streamed yet; set {STREAM_ENV}=0 or use an architecture without it"
        )
    n_out = y.shape[1]
    coef = np.zeros((x.n_features, n_out))
    bias = np.zeros(n_out)
    shift = np.zeros(y.shape, dtype=np.float32)
    for j in range(n_out):
        ok = ~np.isnan(y[:, j])
        yj = y[ok, j].astype(np.float64)
        alpha = None if alphas is None else alphas[j]
        ridge = ridge_fit(x[ok], yj, penalty=penalty, alpha=alpha)
        coef[:, j], bias[j] = ridge.coef_, ridge.beta_[0]
        shift[ok, j] = ridge.loo_residuals_ - (yj - ridge.fitted_)
    return _RidgeStart(coef.astype(np.float32), bias.astype(np.float32), shift)


class FlatRows:
    """The flattened model input (rows x features, float32) of an array or of
    :class:`EncodedRows`, indexable by rows: what the large-n ridge solver reads."""

    dtype = np.dtype(np.float32)

    def __init__(self, x) -> None:
        self.x = x
        n_feat = x.n_features if isinstance(x, EncodedRows) else int(np.prod(x.shape[1:]))
        self.shape = (len(x), n_feat)

    def __len__(self) -> int:
        return self.shape[0]

    def subset(self, rows: np.ndarray) -> FlatRows:
        """A lazy row subset (arrays: rows gathered once)."""
        return FlatRows(self.x[rows])

    def columns(self, c0: int, c1: int) -> np.ndarray:
        """Columns ``c0:c1`` of every row (float32; streamed rows encode only those columns)."""
        if isinstance(self.x, EncodedRows):
            return self.x.columns(c0, c1)
        return np.asarray(self.x.reshape(len(self.x), -1)[:, c0:c1], dtype=np.float32)

    def __getitem__(self, key) -> np.ndarray:
        part = self.x[key]
        if isinstance(part, EncodedRows):
            part = part.encode()
        return np.asarray(part, dtype=np.float32).reshape(len(part), -1)


class ArrayColumns:
    """An in-memory model input (rows x ..., float32) seen through the column interface of
    :class:`EncodedRows` (``n_features``, ``column_blocks``, ``columns``, ``take_columns``,
    lazy row subsets), so that the column-block solvers (the LASSO's
    :class:`snpcnn.baselines.lasso.StreamedColumns`) read it without a float64 copy."""

    def __init__(self, x: np.ndarray, rows: np.ndarray | None = None) -> None:
        self.x = x.reshape(len(x), -1)
        self.rows = rows
        self.n_features = self.x.shape[1]

    def __len__(self) -> int:
        return len(self.x) if self.rows is None else len(self.rows)

    def __getitem__(self, rows) -> ArrayColumns:
        rows = np.arange(len(self))[rows]
        return ArrayColumns(self.x, rows if self.rows is None else self.rows[rows])

    def column_blocks(self, itemsize: int = 8, align: int = 1) -> Iterator[tuple[int, int]]:
        return _column_blocks(len(self), self.n_features, itemsize, align)

    def columns(self, c0: int, c1: int) -> np.ndarray:
        part = self.x[:, c0:c1]
        return np.asarray(part if self.rows is None else part[self.rows], dtype=np.float32)

    def take_columns(self, cols: np.ndarray) -> np.ndarray:
        part = self.x[:, np.asarray(cols, dtype=np.int64)]
        return np.asarray(part if self.rows is None else part[self.rows], dtype=np.float32)


#: training rows above which the CNN's ridge start is solved by the large-n solver
#: (:mod:`snpcnn.baselines.large_n`), the size where the GBLUP and ridge baselines switch
START_LARGE_N = None  # None: snpcnn.baselines.large_n.LARGE_N
#: parts of the out-of-fold residuals that stand in for the leave-one-out residuals there
START_OOF_PARTS = 5
#: streamed rows whose float32 input is at most this size are encoded once for the large-n
#: start (its conjugate gradient reads every row about a hundred times per solve)
START_DENSE_BYTES = 1024**3


def start_is_large(x) -> bool:
    """Whether a ridge start on the rows ``x`` (array or :class:`EncodedRows`) takes the
    large-n path: more than ``LARGE_N`` rows *and* SNP columns (below either, the exact
    fit costs at most ``min(n, p)^2 max(n, p)``, linear in the larger), or streamed rows
    outnumbering the columns (the streamed exact fit needs ``n <= p``)."""
    from snpcnn.baselines import large_n

    limit = large_n.LARGE_N if START_LARGE_N is None else START_LARGE_N
    n, p = len(x), FlatRows(x).shape[1]
    return min(n, p) > limit or (isinstance(x, EncodedRows) and n > p)


def fit_ridge_large(x, y: np.ndarray, penalty: str = "loo", alphas=None):
    """The CNN's ridge start (:func:`snpcnn.training._fit_ridge`) for many training rows.

    The model is the same ridge (RR-BLUP) on the flattened input, solved like the large-n
    GBLUP and ridge baselines: the penalty by REML (or leave-one-out) on a random
    subsample of :data:`~snpcnn.baselines.large_n.SUBSAMPLE` rows, the marker effects by
    preconditioned conjugate gradient on every row, so no n x n (or SNP x SNP) matrix is
    formed or decomposed and the cost grows linearly with the rows.  With ``penalty =
    "reml"`` it predicts what the large-n GBLUP baseline predicts (to the CG tolerance).

    The exact leave-one-out residuals the convolutions train on would need every row's
    leverage; here ``shift`` makes them see ``START_OOF_PARTS``-fold out-of-fold residuals
    instead (the same penalty, each part predicted by a CG fit on the other parts).
    Works for arrays and :class:`EncodedRows` alike (read in row blocks; streamed rows up
    to :data:`START_DENSE_BYTES` of float32 are encoded once, as one array).
    """
    from snpcnn.baselines import RidgeRegression, large_n
    from snpcnn.training import _RidgeStart

    if isinstance(x, EncodedRows) and len(x) * x.n_features * 4 <= START_DENSE_BYTES:
        x = x.encode()  # one float32 copy instead of an encoding pass per CG iteration
    flat = FlatRows(x)
    n_out = y.shape[1]
    coef = np.zeros((flat.shape[1], n_out))
    bias = np.zeros(n_out)
    shift = np.zeros(y.shape, dtype=np.float32)
    for j in range(n_out):
        ok = ~np.isnan(y[:, j])
        rows = np.flatnonzero(ok)
        xj = flat if ok.all() else flat.subset(rows)
        yj = y[ok, j].astype(np.float64)
        if alphas is not None:
            ridge = RidgeRegression(alphas=[float(alphas[j])], solver="iterative")
        else:
            ridge = RidgeRegression(penalty=penalty, solver="iterative")
        ridge.fit(xj, yj)
        coef[:, j], bias[j] = ridge.coef_, ridge.intercept_
        fitted = ridge.predict(xj)
        oof = np.empty(len(yj))
        rng = np.random.default_rng(np.random.SeedSequence([len(yj), 15485863, j]))
        part = rng.permutation(np.arange(len(yj)) % START_OOF_PARTS)
        for k in range(START_OOF_PARTS):  # the same penalty: CG only, no REML again
            tr, te = np.flatnonzero(part != k), np.flatnonzero(part == k)
            xs, ys, fe, F, mo = large_n.prepare(xj.subset(tr), yj[tr], None, "ridge start")
            fit = large_n.finish(xs, ys, F, fe, mo, float(ridge.alpha_), ridge.cg_tol, tr[:0])
            te_x = xj.subset(te)
            oof[te] = large_n.linear_predict(te_x, te_x.shape[1], mo.mean, fit.coef) + fit.beta[0]
        shift[ok, j] = fitted - oof
    return _RidgeStart(coef.astype(np.float32), bias.astype(np.float32), shift)


def ridge_predict(start, x: EncodedRows) -> np.ndarray:
    """``start.predict`` over row blocks of ``x`` (float64, as the in-memory predict)."""
    out = [start.predict(b) for b in x.batches(x.block_rows(8))]
    return np.concatenate(out) if out else np.zeros((0, start.coef.shape[1]))


def screen_windows_streamed(x: EncodedRows, r: np.ndarray, n_windows: int, width: int):
    """:func:`snpcnn.training.screen_windows` over column blocks of ``x``: the same scores
    (the same column chunks, the same float32 arithmetic), the same windows."""
    from snpcnn.training import _pair_scores, _per_snp, _pick_windows, screen_chunk, screen_targets

    n, p = len(x), x.n_features
    c = int(x.shape[2])  # channels per SNP: pairs are the same channel of SNPs d apart
    width = min(width, p // c)
    score = np.zeros((p, width))
    targets = screen_targets(r, n)
    chunk = screen_chunk(n)  # the column chunks of snpcnn.training.screen_windows
    step = chunk * max(1, BLOCK_BYTES // (4 * n * chunk))
    for b0 in range(0, p, step):
        # the pairs (j, j + d) reach (width - 1) SNPs further
        b1 = min(p, b0 + step + (width - 1) * c)
        z = x.columns(b0, b1)
        z -= z.mean(axis=0)  # in place: one n x block copy less (the same float32 values)
        sd = z.std(axis=0)
        z /= np.where(sd > 0, sd, 1.0)
        for ok, t in targets:
            zo = z if ok.all() else z[ok]  # no copy when every row has the target
            for d in range(width):
                off = d * c
                for c0 in range(b0, min(b0 + step, p - off), chunk):
                    c1 = min(c0 + chunk, p - off)
                    a0, a1 = c0 - b0, c1 - b0
                    corr = _pair_scores(zo, t, a0, a1, off)
                    score[c0:c1, d] += corr.astype(np.float64) ** 2
    return _pick_windows(_per_snp(score, c), n_windows, width)


# ------------------------------------------------------- 5. training and prediction
def model_input(x):
    """What ``model.fit``/``evaluate`` receive: the array itself, or the row numbers."""
    if isinstance(x, EncodedRows):
        return x.rows[:, None]
    return x


def trainer(model, x):
    """The model that trains on ``model_input(x)``: ``model`` itself for an array; for
    :class:`EncodedRows`, a wrapper (compiled like ``model``, sharing its weights and
    optimizer) whose first layer gathers and encodes the batch's rows."""
    if not isinstance(x, EncodedRows):
        return model
    key = (id(x.genotypes), id(x.pre))
    cached = model.__dict__.get("_snpcnn_streamed")
    if cached is not None and cached.key == key:
        return cached.outer
    import keras

    from snpcnn.models import compile_model
    from snpcnn.models.heads import head_of

    # row numbers (JAX computes in 32-bit integers unless x64 is switched on)
    dtype = "int32" if keras.backend.backend() == "jax" else "int64"
    inp = keras.Input(shape=(1,), dtype=dtype, name="rows")
    outer = keras.Model(inp, model(_gather_layer(x)(inp)), name=f"{model.name}_streamed")
    compile_model(
        outer, head_of(model), optimizer=model.optimizer, jit_compile=bool(model.jit_compile)
    )
    # kept on the model, untracked (Keras would make the wrapper a sublayer of the model it
    # wraps), in a plain object that Keras' .keras saving skips: model and wrapper form one
    # cycle that is freed with the model
    object.__setattr__(model, "_snpcnn_streamed", _Wrapper(key, outer))
    return outer


class _Wrapper:
    """A model's streamed wrapper and the data it was built for (see :func:`trainer`)."""

    __slots__ = ("key", "outer")

    def __init__(self, key, outer):
        self.key, self.outer = key, outer


def _gather_layer(x: EncodedRows):
    """The layer that turns a batch's row numbers into their encoded genotypes, on the host:
    ``tf.numpy_function`` on TensorFlow, ``jax.pure_callback`` on JAX (inside the compiled
    step; the callback's output is data, so no gradient flows through it)."""
    import keras

    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise InputError(
            f"streamed training needs Keras's TensorFlow or JAX backend (Keras backend is "
            f"{backend}); set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax"
        )
    genotypes, pre, shape = x.genotypes, x.pre, tuple(x.shape[1:])

    def encode(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows).reshape(-1).astype(np.int64, copy=False)
        return pre.transform_block(genotypes.batch(rows))

    if backend == "jax":
        import jax

        def gather(rows):
            spec = jax.ShapeDtypeStruct((rows.shape[0], *shape), np.float32)
            return jax.pure_callback(encode, spec, rows, vmap_method="sequential")

    else:
        import tensorflow as tf

        def gather(rows):
            out = tf.numpy_function(encode, [rows], tf.float32, stateful=False)
            out.set_shape((None, *shape))
            return out

    class GatherRows(keras.layers.Layer):
        """Row numbers (batch x 1) -> their encoded genotypes (batch x SNPs x channels)."""

        def call(self, rows):
            return gather(rows)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], *shape)

    return GatherRows(name="gather_rows")


def predict_rows(model, x, batch_size: int = 256) -> np.ndarray:
    """``predict_array(model, x, batch_size)`` for an array or :class:`EncodedRows`; the
    streamed rows are encoded batch by batch, in the same batches, of at most
    ``x.block_rows()`` rows (about :data:`BLOCK_BYTES` of float32 input: at 200,000 SNPs a
    256-row batch is 205 MB, encoded and then copied again by the framework)."""
    from snpcnn.backend import predict_array

    if not isinstance(x, EncodedRows):
        return predict_array(model, x, batch_size)
    batch_size = max(1, min(int(batch_size), x.block_rows()))
    parts = [predict_array(model, b, batch_size) for b in x.batches(batch_size)]
    if not parts:
        return predict_array(model, np.zeros((0, *x.shape[1:]), np.float32), batch_size)
    return np.concatenate(parts)


# ------------------------------------------------ the GBLUP-AD start for many training rows
#: relative residual at which the large-n GBLUP-AD start's conjugate gradient stops
DOMINANCE_CG_TOL = 1e-6


class DominanceRows:
    """The features of GBLUP-AD on the CNN's input, by rows: ``[c_a Z, c_d W]`` with ``Z``
    the centred input and ``W`` its dominance codes (:func:`snpcnn.training._dominance_block`
    with the training rows' column moments), scaled so that ``F F'`` is GBLUP-AD's kernel
    ``(1 - w) G + w D`` (``G``, ``D`` with mean diagonal 1).  Indexable by row slices like
    :class:`FlatRows`, so the large-n ridge solver fits GBLUP-AD as a ridge on these features
    without an n x n matrix (one float32 block at a time)."""

    dtype = np.dtype(np.float32)

    def __init__(self, flat: FlatRows, mean, a, b, c_a: float, c_d: float) -> None:
        self.flat, self.mean, self.a, self.b = flat, mean, a, b
        self.c_a, self.c_d = float(c_a), float(c_d)
        self.p = flat.shape[1]
        self.shape = (flat.shape[0], 2 * self.p)

    def __len__(self) -> int:
        return self.shape[0]

    def subset(self, rows: np.ndarray) -> DominanceRows:
        return DominanceRows(self.flat.subset(rows), self.mean, self.a, self.b, self.c_a, self.c_d)

    def __getitem__(self, key) -> np.ndarray:
        xc = self.flat[key].astype(np.float64) - self.mean
        w = xc * xc - self.a - self.b * xc
        return np.concatenate([self.c_a * xc, self.c_d * w], axis=1).astype(np.float32)


def dominance_moments(flat: FlatRows):
    """Column means of the input and the centred moments the dominance codes need: ``(mean,
    a, b, s_a, s_d)``, ``a``/``b`` as in :func:`snpcnn.training._dominance_block` over all
    the rows, ``s_a``/``s_d`` the mean diagonals of ``Z Z'`` and ``W W'`` (two row passes)."""
    from snpcnn.baselines.large_n import row_blocks

    n, p = flat.shape
    total = np.zeros(p)
    for sl in row_blocks(n, p):
        total += flat[sl].sum(axis=0, dtype=np.float64)
    mean = total / n
    m2, m3, m4 = np.zeros(p), np.zeros(p), np.zeros(p)
    for sl in row_blocks(n, p, 8):
        xc = flat[sl].astype(np.float64) - mean
        sq = xc * xc
        m2 += sq.sum(axis=0)
        m3 += (sq * xc).sum(axis=0)
        m4 += (sq * sq).sum(axis=0)
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    a = m2
    b = np.where(m2 > 1e-12, m3 / np.where(m2 > 1e-12, m2, 1.0), 0.0)
    # E[W^2] with W = xc^2 - a - b xc, E[xc] = 0
    ew2 = (m4 - a * a) - 2.0 * b * m3 + b * b * m2
    return mean, a, b, float(m2.sum()), float(np.maximum(ew2, 0.0).sum())


def fit_dominance_large(x, y: np.ndarray, share: float, delta: float):
    """The GBLUP-AD start (:func:`snpcnn.training._fit_dominance_start`) on many training rows:
    its dominance share ``share`` and variance ratio ``delta`` from REML on a subsample (the
    caller), the marker effects by the large-n ridge solver on every row
    (:class:`DominanceRows`), and, as for :func:`fit_ridge_large`, ``START_OOF_PARTS``-fold
    out-of-fold residuals in place of the exact leave-one-out ones.  Returns the
    :class:`snpcnn.training._DominanceStart`, or None where the input has no dominance codes."""
    from snpcnn.baselines import large_n
    from snpcnn.training import _DominanceStart

    if isinstance(x, EncodedRows) and len(x) * x.n_features * 4 <= START_DENSE_BYTES:
        x = x.encode()
    flat = FlatRows(x)
    mean, a, b, s_a, s_d = dominance_moments(flat)
    if not s_d > 1e-9 or not s_a > 0:
        return None
    rows = DominanceRows(flat, mean, a, b, np.sqrt((1.0 - share) / s_a), np.sqrt(share / s_d))
    yv = np.asarray(y, dtype=np.float64).reshape(-1)

    def solve(part: DominanceRows, target: np.ndarray):
        """Marker effects at penalty delta (CG) and the intercept of ``part``."""
        X_, y_, fe, F, mo = large_n.prepare(part, target, None, "GBLUP-AD start")
        fit = large_n.finish(X_, y_, F, fe, mo, float(delta), DOMINANCE_CG_TOL, np.arange(0))
        return fit.coef, float(fit.beta[0]) - float(mo.mean @ fit.coef)

    def predict(part: DominanceRows, coef: np.ndarray, intercept: float) -> np.ndarray:
        return (
            large_n.linear_predict(part, part.shape[1], np.zeros(part.shape[1]), coef) + intercept
        )

    coef, intercept = solve(rows, yv)
    fitted = predict(rows, coef, intercept)
    oof = np.empty(len(yv))
    rng = np.random.default_rng(np.random.SeedSequence([len(yv), 15485863, 1]))
    part = rng.permutation(np.arange(len(yv)) % START_OOF_PARTS)
    for k in range(START_OOF_PARTS):  # the same penalty, share and codes: CG only
        tr, te = np.flatnonzero(part != k), np.flatnonzero(part == k)
        oof[te] = predict(rows.subset(te), *solve(rows.subset(tr), yv[tr]))
    p = flat.shape[1]
    u_a, u_d = rows.c_a * coef[:p], rows.c_d * coef[p:]
    # the prediction F coef + intercept, expanded in x as in _fit_dominance_start:
    # x @ lin + x^2 @ quad + const
    return _DominanceStart(
        lin=u_a - (2.0 * mean + b) * u_d,
        quad=u_d,
        const=intercept - float(mean @ u_a) + float((mean * mean + b * mean - a) @ u_d),
        share=float(share),
        delta=float(delta),
        fitted=fitted.reshape(-1, 1),
        shift=(fitted - oof).reshape(-1, 1).astype(np.float32),
        coef=np.zeros((p, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )
