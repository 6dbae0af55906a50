"""Shared parts of the baselines: input checks, fixed effects, the spectrum of ``Z``, and the
:class:`Baseline` base class."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import DataConversionWarning, NotFittedError

from snpcnn.errors import InputError, warn_at_caller

try:
    from sklearn.utils.validation import _check_feature_names
except ImportError:  # scikit-learn < 1.6: a method of BaseEstimator

    def _check_feature_names(estimator: Any, X: Any, *, reset: bool) -> None:
        estimator._check_feature_names(X, reset=reset)


# Eigenvalues below this fraction of the largest are set to exactly zero.
_EIG_RTOL = 1e-10
# Relative tolerance for dropping collinear covariate columns.
_COLLINEAR_RTOL = 1e-8


# ---------------------------------------------------------------------------- helpers
def not_2d(what: str, shape: Any) -> InputError:
    """The error for an array that is not samples x SNPs (a 1-D row gets the reshape)."""
    shape = tuple(shape)
    hint = f"; Reshape your data: {what}.reshape(1, -1) for one sample" if len(shape) == 1 else ""
    return InputError(f"{what} must be a 2-D samples x SNPs array, got shape {shape}{hint}")


def check_columns(m: int, fitted: int, who: str = "the model") -> None:
    """Refuse new rows whose SNP count differs from the fit's (worded as scikit-learn's)."""
    if int(m) != int(fitted):
        raise InputError(
            f"X has {m} features, but {who} is expecting {fitted} features as input: pass the "
            f"{fitted} SNP columns it was fitted on, in the same order"
        )


def _refuse_sparse_or_complex(A: Any, what: str) -> None:
    if _is_sparse(A):
        raise InputError(
            f"{what} is a sparse matrix: sparse input is not supported; pass a dense array "
            f"({what}.toarray())"
        )
    dtype = getattr(A, "dtype", None)
    if dtype is None:  # a list or another array-like: look at its values
        dtype = np.asarray(A).dtype
    if getattr(dtype, "kind", "") == "c":
        raise InputError(
            f"{what} holds complex numbers: Complex data not supported; pass real values"
        )


def _is_sparse(A: Any) -> bool:
    return hasattr(A, "toarray") and hasattr(A, "nnz")


def _as_array(X: Any) -> Any:
    """A DataFrame, a list or another array-like as an ndarray in its own dtype, so that the
    range checks see integer codes (an int8 frame, a list of ints) as integers; arrays,
    sparse matrices and lazy or streamed rows are returned as they are."""
    if (
        isinstance(X, np.ndarray)
        or _is_sparse(X)
        or hasattr(X, "column_blocks")  # lazy rows (DosageRows, EncodedRows)
        or hasattr(X, "take_columns")  # the LASSO's streamed rows
        # rows the large-n solvers read block by block (FlatRows, DominanceRows): never
        # one array (a DataFrame has dtypes, not a dtype)
        or (hasattr(X, "shape") and hasattr(X, "dtype"))
    ):
        return X
    A = np.asarray(X)
    dtypes = getattr(X, "dtypes", None)
    if A.dtype == object and dtypes is not None and len(dtypes):
        # pandas' nullable integer columns (Int8, ...) come out as objects
        if all(getattr(d, "kind", None) in ("i", "u") for d in dtypes):
            try:
                A = np.asarray(X, dtype=np.int64)
            except (TypeError, ValueError):  # a missing value (pd.NA): NaN, refused as NaN
                A = X.to_numpy(dtype=np.float64, na_value=np.nan)
    return A


def _n_rows(X: Any) -> int:
    """The number of rows of an array, array-like or lazy rows, after refusing sparse and
    complex input (read before the solver is chosen, so before :func:`_as_matrix`)."""
    _refuse_sparse_or_complex(X, "X")
    shape = getattr(X, "shape", None)
    return int(shape[0] if shape is not None and len(shape) else np.asarray(X).shape[0])


def _as_matrix(X: Any, what: str) -> np.ndarray:
    _refuse_sparse_or_complex(X, what)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise not_2d(what, X.shape)
    if X.shape[1] == 0:
        raise InputError(
            f"{what} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: "
            "pass at least one SNP column"
        )
    if not np.isfinite(X).all():
        raise InputError(
            f"{what} contains NaN or infinite values; impute missing dosages with the "
            "training-fold mean before calling fit/predict"
        )
    return X


def _as_vector(y: Any, n: int) -> np.ndarray:
    if y is None:
        raise InputError("fit requires y to be passed, but the target y is None")
    _refuse_sparse_or_complex(y, "y")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        warn_at_caller(
            "A column-vector y was passed when a 1d array was expected; it is used as y[:, 0] "
            "(pass y.ravel() to silence this)",
            DataConversionWarning,
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"y must be a 1-D array of trait values, got shape {y.shape}")
    if len(y) != n:
        raise InputError(f"y has {len(y)} values but X has {n} rows")
    if not np.isfinite(y).all():
        raise InputError("y contains NaN or infinite values; drop samples with a missing trait")
    return y


def _check_polymorphic(X: np.ndarray) -> None:
    if not (np.ptp(X, axis=0) > 0).any():
        raise InputError(
            "every SNP is monomorphic in the training data (all dosages equal per column); "
            "nothing to fit"
        )


def _covariate_names(C: Any, k: int) -> list[str]:
    cols = getattr(C, "columns", None)
    if cols is not None and len(cols) == k:
        return [str(c) for c in cols]
    return [f"C{j}" for j in range(k)]


class _FixedEffects:
    """The fixed-effect design ``[1, C]``, with constant/collinear covariates dropped."""

    def fit(self, C: Any, n: int) -> _FixedEffects:
        self.notes: list[str] = []
        if C is None:
            self.k_in = None
            self.keep: list[int] = []
            self.names = ["intercept"]
            return self
        names = _covariate_names(C, np.shape(C)[1] if np.ndim(C) == 2 else 1)
        C = np.asarray(C, dtype=np.float64)
        if C.ndim == 1:
            C = C[:, None]
        if C.ndim != 2 or C.shape[0] != n:
            raise InputError(f"covariates C must have shape ({n}, k), got {C.shape}")
        if not np.isfinite(C).all():
            raise InputError("covariates C contain NaN or infinite values; fill them in first")
        self.k_in = C.shape[1]
        F = np.ones((n, 1))
        keep = []
        for j in range(C.shape[1]):
            col = C[:, j]
            if np.ptp(col) == 0:
                self.notes.append(f"covariate {names[j]} is constant in the training data; dropped")
                continue
            # residual of the column after projecting on the columns kept so far
            coef, *_ = np.linalg.lstsq(F, col, rcond=None)
            resid = col - F @ coef
            if np.linalg.norm(resid) <= _COLLINEAR_RTOL * np.linalg.norm(col - col.mean()):
                self.notes.append(
                    f"covariate {names[j]} is collinear with the intercept and earlier "
                    "covariates in the training data; dropped"
                )
                continue
            keep.append(j)
            F = np.column_stack([F, col])
        self.keep = keep
        self.names = ["intercept"] + [names[j] for j in keep]
        return self

    def design(self, C: Any, n: int) -> np.ndarray:
        if self.k_in is None:
            if C is not None and np.size(C) > 0:
                raise InputError("covariates given to predict, but the model was fitted without")
            return np.ones((n, 1))
        if C is None:
            raise InputError(
                f"the model was fitted with {self.k_in} covariate column(s); pass C_new too"
            )
        C = np.asarray(C, dtype=np.float64)
        if C.ndim == 1:
            C = C[:, None]
        if C.shape != (n, self.k_in):
            raise InputError(f"C_new must have shape ({n}, {self.k_in}), got {C.shape}")
        if not np.isfinite(C).all():
            raise InputError("covariates C_new contain NaN or infinite values; fill them in first")
        return np.column_stack([np.ones(n), C[:, self.keep]])


def _spectrum(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors and squared singular values of ``Z`` (n x m), nonzero ones only.

    Returns ``U`` (n x r, orthonormal columns) and ``s2`` (r,) with ``Z Z' = U diag(s2) U'``.
    Uses the smaller of the n x n and m x m cross-product matrices.
    """
    n, m = Z.shape
    if n <= m:
        s2, U = np.linalg.eigh(Z @ Z.T)
    else:
        s2, V = np.linalg.eigh(Z.T @ Z)
        U = None
    top = s2[-1] if len(s2) else 0.0
    keep = s2 > _EIG_RTOL * max(top, 0.0)
    s2 = s2[keep]
    if U is None:
        U = (Z @ V[:, keep]) / np.sqrt(s2)
    else:
        U = U[:, keep]
    return U, s2


def _check_dosage_range(lo: float, hi: float, who: str) -> None:
    """Dosage models (GBLUP, GBLUP-AD, EG-BLUP) take 0..2 dosages: ``lo``, ``hi`` are the
    input's smallest and largest values."""
    if lo < -1e-9 or hi > 2.0 + 1e-9:
        raise InputError(
            f"{who}: X holds values outside 0..2 (smallest {lo:g}, largest {hi:g}); pass "
            "dosages 0-2 with missing calls imputed (e.g. -1 codes replaced by the training "
            "mean dosage)"
        )


def _check_new_dosages(X_new: Any, who: str) -> None:
    """:func:`_check_dosage_range` for the ``X_new`` of predict where it is an in-memory
    array (lazy and streamed rows are read block by block, as the training rows were)."""
    if isinstance(X_new, np.ndarray) and X_new.size and np.issubdtype(X_new.dtype, np.number):
        _check_dosage_range(float(np.min(X_new)), float(np.max(X_new)), who)


def _check_integer_dosages(X: Any, who: str) -> None:
    """:func:`_check_dosage_range` for integer arrays, for a model that also takes float
    features (centred or scaled: the CNN's ridge start passes them to ridge): integers
    outside 0..2 are codes (-1 for a missing call), never dosages or features."""
    if isinstance(X, np.ndarray) and X.size and np.issubdtype(X.dtype, np.integer):
        _check_dosage_range(float(np.min(X)), float(np.max(X)), who)


def _training_data(
    X: Any, y: Any, C: Any, who: str
) -> tuple[np.ndarray, np.ndarray, _FixedEffects, np.ndarray]:
    """Checked float X and y, the fixed effects fitted on C, and their design F."""
    X = _as_matrix(X, "X")
    y, fe, F = _targets_and_design(y, C, X.shape[0], who)
    _check_polymorphic(X)
    return X, y, fe, F


def _targets_and_design(
    y: Any, C: Any, n: int, who: str
) -> tuple[np.ndarray, _FixedEffects, np.ndarray]:
    """Checked y for ``n`` rows, the fixed effects fitted on C, and their design F."""
    y = _as_vector(y, n)
    fe = _FixedEffects().fit(C, n)
    F = fe.design(C, n)
    if n - F.shape[1] < 2:
        raise InputError(
            f"{who} needs at least {F.shape[1] + 2} training samples for its {F.shape[1]} "
            f"fixed effects (intercept and covariate columns), this training part has n_samples={n}: "
            "use fewer covariates (or covariate levels) or more samples per training part"
        )
    return y, fe, F


class NotFittedInputError(InputError, NotFittedError):
    """``predict`` before ``fit``: snpcnn's one-line error, and scikit-learn's
    ``NotFittedError`` for its tools."""


class Baseline(RegressorMixin, BaseEstimator):
    """Common base of the baselines: ``name``, ``fit(X, y, C=None) -> self``, ``predict``.

    A scikit-learn regressor: ``get_params``/``set_params`` read the constructor's arguments,
    so ``sklearn.base.clone``, ``cross_val_score``, ``GridSearchCV`` and pipelines take it, and
    ``score(X, y)`` is R^2 (scikit-learn's ``RegressorMixin``).  Covariates ``C`` are a fit
    argument that scikit-learn's tools do not pass to ``predict``; use snpcnn's own
    cross-validation (:func:`snpcnn.cv.cross_validate`) for fits with covariates.
    """

    name = "baseline"

    def fit(self, X: Any, y: Any, C: Any = None) -> Baseline:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    _fitted_attr = "coef_"  # set by fit; the kernel models set dual_coef_
    # GBLUP, GBLUP-AD and EG-BLUP refuse X outside 0..2 (their relationship matrices need
    # dosages); the others take any real features, but refuse integer codes outside 0..2
    dosages_only = False

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.dosages_only
        return tags

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise NotFittedInputError(
                f"this {self.name} model is not fitted yet; call fit(X, y) first"
            )

    def _feature_names(self, X: Any, reset: bool) -> None:
        """Record (fit) or check (predict) the column names of a DataFrame, as scikit-learn
        does (``feature_names_in_``, only where every name is a string): the SNPs are
        matched by position, so a frame in another column order gave silently wrong
        predictions (a checking helper, session 43).  Warns, as scikit-learn does, where
        only one of fit and predict had names."""
        try:
            _check_feature_names(self, X, reset=reset)
        except TypeError:
            # names of mixed types (str and int): scikit-learn refuses them; these models
            # took such frames by position before session 43 and still do, without names
            # (a review, session 43)
            if reset and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        except ValueError as e:
            # scikit-learn's own message, lists of names included (its estimator checks
            # match it word for word), and the fix
            msg = str(e)
            raise InputError(
                msg
                + ("" if msg.endswith("\n") else "; ")
                + f"pass the SNP columns {type(self).__name__} was fitted on, in the same order "
                "(X_new[model.feature_names_in_])"
            ) from None

    def _fit_rows(self, X: Any) -> Any:
        """``X`` of fit: column names recorded, a DataFrame or list as an array, and (for a
        model that takes any real feature) integer codes outside 0..2 refused: int8 -1 codes
        in a frame or a list were read as dosages of -1 (a checking helper, session 43).
        A dosage model checks the range of the converted float matrix itself."""
        if X is None:  # an IndexError "tuple index out of range" before (session 50)
            raise InputError(f"{self.name}: fit requires X (the dosages), got None")
        self._feature_names(X, reset=True)
        X = _as_array(X)
        if not self.dosages_only:
            _check_integer_dosages(X, self.name)
        return X

    def _new_rows(self, X_new: Any) -> Any:
        """``X_new`` of predict: fitted checked, column names checked against fit's, a
        DataFrame or list as an array, values checked as at fit (dosage models: 0..2;
        others: integer codes in 0..2)."""
        self._check_fitted()
        if X_new is None:
            raise InputError(f"{self.name}: predict requires X_new (the dosages), got None")
        # a sparse X_new gave numpy's "setting an array element with a sequence" (session 50)
        _refuse_sparse_or_complex(X_new, "X_new")
        self._feature_names(X_new, reset=False)
        X_new = _as_array(X_new)
        if self.dosages_only:
            _check_new_dosages(X_new, self.name)
        else:
            _check_integer_dosages(X_new, self.name)
        return X_new

    def _check_new(self, X_new: Any) -> np.ndarray:
        X_new = _as_matrix(X_new, "X_new")
        self._check_columns(X_new.shape[1])
        return X_new

    def _check_columns(self, m: int) -> None:
        check_columns(m, self.n_features_in_, type(self).__name__)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params})"
