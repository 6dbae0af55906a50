"""Genomic-prediction baselines: GBLUP (REML), ridge regression (RR-BLUP), RKHS
(Gaussian-kernel GBLUP), GBLUP-AD (additive + dominance, Vitezica et al. 2013) and EG-BLUP
(additive + additive-by-additive epistasis, G o G); and CNN-GP, the infinite-width limit of a
convolutional network (a convolutional model, fitted like the kernel baselines by REML); and
LASSO, the sparse linear model (penalty by inner cross-validation).

All of them follow one small contract so that the cross-validation engine can treat them (and the
CNNs) alike::

    model = make_baseline("gblup")          # or GBLUP(), RidgeRegression()
    model.fit(X_train, y_train, C_train)    # returns the model
    y_hat = model.predict(X_test, C_test)

* ``X`` is a float array (samples x SNPs) of dosages whose missing values the caller has
  already replaced by the *training-fold* mean dosage.
* ``y`` is a 1-D float array without NaN.
* ``C`` (optional) holds covariates (samples x k) used as unpenalised fixed effects.  An
  intercept is always added here; do not include one.  Covariate columns that are constant or
  collinear with the intercept and earlier columns in the training data are dropped (recorded
  in ``notes_``).

Everything data-dependent (allele frequencies, centring, variance components, the penalty) is
estimated from the arrays passed to ``fit``; ``predict`` only applies it.
"""

# ruff: noqa: F401  (private names are re-exported for the modules and tests that import them)
from __future__ import annotations

from typing import Any

from snpcnn.baselines._common import (
    _COLLINEAR_RTOL,
    _EIG_RTOL,
    Baseline,
    _as_matrix,
    _as_vector,
    _check_polymorphic,
    _covariate_names,
    _FixedEffects,
    _spectrum,
    _training_data,
)
from snpcnn.baselines.cnn_gp import CNNGP, MLPGP
from snpcnn.baselines.gblup import (
    EGBLUP,
    GBLUP,
    GBLUPAD,
    _TwoKernelBLUP,
    dominance_codes,
    dominance_fill,
    dominance_grm,
    vanraden_grm,
)
from snpcnn.baselines.kernels_at_scale import EXACT_MAX_N, LANDMARKS, nystrom_note
from snpcnn.baselines.large_n import LARGE_N, SOLVERS, SUBSAMPLE
from snpcnn.baselines.lasso import Lasso
from snpcnn.baselines.reml import _best_kernel, _reml, _reml_bounds, _RemlFit, _store_reml
from snpcnn.baselines.ridge import RidgeRegression
from snpcnn.baselines.rkhs import RKHS, _sq_distances
from snpcnn.errors import InputError

__all__ = [
    "Baseline",
    "GBLUP",
    "RidgeRegression",
    "RKHS",
    "GBLUPAD",
    "EGBLUP",
    "CNNGP",
    "MLPGP",
    "Lasso",
    "make_baseline",
    "BASELINES",
    "DEFAULT_BASELINES",
    "BASELINE_LABELS",
    "vanraden_grm",
    "dominance_codes",
    "dominance_fill",
    "dominance_grm",
    "LARGE_N",
    "SUBSAMPLE",
    "SOLVERS",
    "KERNEL_MAX_N",
    "drop_oversized",
]

#: Names accepted by :func:`make_baseline`.
BASELINES = ("gblup", "ridge", "rkhs", "gblup_ad", "egblup", "cnn_gp", "mlp_gp", "lasso")
#: The baselines run when none are named (``snpcnn fit``, ``cross_validate``, bench configs).
DEFAULT_BASELINES = ("gblup", "ridge", "rkhs")
#: The label each baseline's results carry (metrics.csv, results.csv, tables).
BASELINE_LABELS = {
    "gblup": "GBLUP",
    "ridge": "ridge",
    "rkhs": "RKHS",
    "gblup_ad": "GBLUP-AD",
    "egblup": "EG-BLUP",
    "cnn_gp": "CNN-GP",
    "mlp_gp": "MLP-GP",
    "lasso": "LASSO",
}

#: Training rows above which the kernel baselines (RKHS, GBLUP-AD, EG-BLUP, CNN-GP, MLP-GP)
#: take the Nystrom approximation (:mod:`snpcnn.baselines.kernels_at_scale`); GBLUP and ridge
#: switch to the large-n solver at :data:`LARGE_N`.  Nothing is skipped any more.
KERNEL_MAX_N = EXACT_MAX_N
_KERNEL_BASELINES = ("rkhs", "gblupad", "egblup", "cnngp", "mlpgp")


def drop_oversized(baselines: Any, n_train: int) -> tuple[list[str], list[str]]:
    """The baselines that run on ``n_train`` training rows, and one note per baseline that
    changes its method there.

    Every baseline runs.  Above :data:`KERNEL_MAX_N` training rows the kernel models (RKHS,
    GBLUP-AD, EG-BLUP, CNN-GP, MLP-GP) take the Nystrom approximation of their kernel (one
    note each says so); GBLUP and ridge take the large-n solver, which their own notes name.
    """
    notes: list[str] = []
    for b in baselines:
        key = str(b).strip().lower().replace("-", "").replace("_", "")
        if key in _KERNEL_BASELINES and n_train > KERNEL_MAX_N:
            notes.append(
                nystrom_note(BASELINE_LABELS.get(str(b).lower().replace("-", "_"), str(b)), n_train)
            )
    return list(baselines), notes


_REGISTRY = {
    "gblup": GBLUP,
    "ridge": RidgeRegression,
    "rrblup": RidgeRegression,
    "rkhs": RKHS,
    "gblupad": GBLUPAD,
    "egblup": EGBLUP,
    "cnngp": CNNGP,
    "mlpgp": MLPGP,
    "lasso": Lasso,
}


#: a name as typed, normalised (case, "-" and "_" dropped) -> its key in BASELINE_LABELS
_CANONICAL = {k.replace("_", ""): k for k in BASELINE_LABELS} | {
    "rrblup": "ridge",
    "mtgblup": "mtgblup",
}


def canonical_baseline(name: str) -> str:
    """The canonical key of a baseline name as typed (``"GBLUP-AD"``, ``"eg_blup"`` ->
    ``"gblup_ad"``, ``"egblup"``), so that labels and checks see one spelling; a name that
    is not a single-trait baseline comes back lower-cased."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    return _CANONICAL.get(key, str(name).strip().lower())


def make_baseline(name: str, **params: Any) -> Baseline:
    """A baseline model by name: ``"gblup"``, ``"ridge"`` (alias ``"rrblup"``), ``"rkhs"``,
    ``"gblup_ad"``, ``"egblup"``, ``"cnn_gp"``, ``"mlp_gp"`` or ``"lasso"`` (any case; ``-``
    and ``_`` are ignored).  The multi-trait GBLUP (``"mtgblup"``) takes several traits at
    once, so it is named in ``cross_validate(baselines=...)`` or ``snpcnn fit --baselines``
    and built there (:class:`snpcnn.multitrait.MultiTraitGBLUP`), not here.

    GBLUP and ridge get ``solver="auto"`` unless ``params`` say otherwise: exact up to
    :data:`~snpcnn.baselines.large_n.LARGE_N` training rows, the large-n solver above.

    Examples
    --------
    >>> make_baseline("gblup").name
    'GBLUP'
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in _REGISTRY:
        if key == "mtgblup":
            raise InputError(
                "mtgblup (the multi-trait GBLUP) fits several traits at once: name it in "
                "cross_validate(baselines=...) or snpcnn fit --baselines, or use "
                "snpcnn.multitrait.MultiTraitGBLUP"
            )
        raise InputError(
            f"unknown baseline '{name}'; valid names: {', '.join(BASELINES)}, and mtgblup "
            "(the multi-trait GBLUP, for several traits)"
        )
    if key in ("gblup", "ridge", "rrblup"):
        params.setdefault("solver", "auto")
    try:
        return _REGISTRY[key](**params)
    except TypeError as exc:
        raise InputError(f"invalid parameter for baseline '{name}': {exc}") from None
