"""Training one CNN on one training set: inner validation split, early stopping, collapse guard.

Nothing here sees a test fold.  The caller passes the training part of a fold;
early stopping and the collapse check use an inner validation split of it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snpcnn.backend import device_description, enable_determinism
from snpcnn.datapath import fit_ridge_large, model_input, predict_rows, start_is_large, trainer
from snpcnn.errors import InputError, opt
from snpcnn.fastfit import stepper_for
from snpcnn.metrics import TRAIN_COLLAPSE_RTOL, is_collapsed

__all__ = [
    "TRAIN_DEFAULTS",
    "TrainConfig",
    "TrainResult",
    "seeded",
    "train_cnn",
    "device_description",
    "inner_split",
]

log = logging.getLogger("snpcnn.training")


LINEAR_INITS = ("ridge", "ridge_loo", "zeros")

#: Training defaults of the CNN, shared by :func:`snpcnn.cv.cross_validate` and ``snpcnn fit``;
#: chosen with the default architecture by inner-validation Pearson r, then (linear_init,
#: conv_gate) by nested CV inside the training data (benchmarks/tuning/LOG.md,
#: docs/bench/default_cnn.md).
#: The ONE place for these defaults: :class:`TrainConfig`, ``snpcnn fit``,
#: :func:`snpcnn.cv.cross_validate` (which re-exports this dict), :mod:`snpcnn.config`, the
#: estimators and ``snpcnn benchmark`` (a ``[[models]]`` entry that leaves a key out) all
#: read them from here, so a benchmark config naming only ``preset = "snpcnn_default"``
#: reproduces ``snpcnn fit``.
TRAIN_DEFAULTS: dict[str, Any] = {
    "encoding": "dosage",
    "scaling": "center",
    "epochs": 200,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "patience": 40,
    "val_fraction": 0.1,
    "n_seeds": 1,
    "linear_init": "ridge_loo",
    "conv_gate": 0.05,
    "conv_folds": 5,
}


@dataclass
class TrainConfig:
    """Hyperparameters of one CNN fit (the architecture is a preset name, dict or file)."""

    model: Any = "snpcnn_default"
    epochs: int = TRAIN_DEFAULTS["epochs"]
    batch_size: int = TRAIN_DEFAULTS["batch_size"]
    learning_rate: float = TRAIN_DEFAULTS["learning_rate"]
    patience: int = TRAIN_DEFAULTS["patience"]
    val_fraction: float = TRAIN_DEFAULTS["val_fraction"]
    n_seeds: int = TRAIN_DEFAULTS["n_seeds"]
    collapse_retry: bool = True
    jit_compile: bool = False
    mixed_precision: bool = False
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # how a wide & deep model's linear SNP path starts: "ridge" = the RR-BLUP solution on
    # the inner training rows (closed form, penalty by leave-one-out), frozen, with the
    # output starting at exactly that prediction, so the convolutions learn only what the
    # additive model misses; "ridge_loo" = the RR-BLUP solution on every row (inner
    # validation included), with the convolutions trained on its exact leave-one-out
    # residuals and the output's weight on it held at 1; "zeros" = plain joint training
    # from zero.  Chosen by nested CV (benchmarks/tuning/LOG.md): "ridge_loo".
    linear_init: str = TRAIN_DEFAULTS["linear_init"]
    # with a ridge start: keep the convolutions' correction only if it lowers the
    # squared error on the inner validation rows significantly (one-sided paired t-test
    # at this level); 0 keeps any improvement of the validation loss
    conv_gate: float = TRAIN_DEFAULTS["conv_gate"]
    # with a ridge_loo start: 0 = one inner validation split (early stopping and the gate on
    # val_fraction of the rows); K >= 2 = cross-fitted convolutions: K networks, network k
    # trained on the other K-1 parts of the rows (early stopping on val_fraction of those)
    # and predicting part k, so every training row gets an out-of-fold correction; the
    # correction's weight (0..1) and the keep/drop gate (paired t-test at conv_gate) are
    # decided on all rows, and the model averages the K networks (docs/models.md)
    conv_folds: int = TRAIN_DEFAULTS["conv_folds"]

    def __post_init__(self) -> None:
        if int(self.conv_folds) != self.conv_folds or self.conv_folds < 0 or self.conv_folds == 1:
            raise InputError(
                f"{opt('conv_folds')} must be 0 or an integer >= 2, got {self.conv_folds!r}"
            )
        if not 0.0 <= float(self.conv_gate) <= 1.0:
            raise InputError(f"{opt('conv_gate')} must be between 0 and 1, got {self.conv_gate!r}")
        if self.linear_init not in LINEAR_INITS:
            raise InputError(
                f"linear_init must be one of {', '.join(LINEAR_INITS)}, got {self.linear_init!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not isinstance(d["model"], (str, dict)):
            d["model"] = getattr(d["model"], "__name__", str(d["model"]))
        return d


@dataclass
class TrainResult:
    model: Any  # keras.Model (the seed ensemble is one model that averages its members)
    best_epochs: list[int]
    histories: list[dict[str, list[float]]]
    learning_rates: list[float]
    collapsed_on_validation: bool
    retried: int
    # Pearson r between the inner-validation targets and predictions, per seed and output
    # (NaN where constant; for a multiclass head the inner-validation accuracy): a
    # model-selection score that never sees a test fold.
    inner_val_r: list[list[float]]
    seconds: float
    samples_per_second: float
    # True if the model's linear path started at a ridge fit ("ridge"/"ridge_loo" with a
    # wide & deep regression model); then a best epoch of 0 means the convolutions'
    # correction was rejected and the network predicts exactly that ridge fit
    ridge_start: bool = False
    # cross-fitted convolutions (conv_folds >= 2): per output, the weight of the
    # convolutions' correction (0 = dropped), its one-sided p-value and the out-of-fold
    # Pearson r of the ridge start alone and of ridge + correction on the training rows
    conv: dict[str, Any] | None = None
    # the ridge fit the linear path started from ("ridge_loo" start; None otherwise):
    # ``start.predict(x)`` is what the CNN predicts without its convolutions
    start: Any = None


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and Keras/TensorFlow and make TF ops deterministic.

    NumPy's and Python's global random states are restored on exit.
    """
    import keras

    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - restoring the global state on purpose
    keras.utils.set_random_seed(int(seed) % (2**31 - 1))
    enable_determinism()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def inner_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (train, validation) of a seeded random inner split of ``n`` samples."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    perm = rng.permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0:
        n_val = min(max(n_val, 2), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class _EpochCallback:
    """Adapter that calls ``fn()`` after every epoch (progress bars)."""

    def __new__(cls, fn: Callable[[], None]):
        import keras

        class _CB(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                fn()

        return _CB()


def _build(config: TrainConfig, input_shape, head: str, n_outputs: int, name: str):
    from snpcnn.models import build_model

    if callable(config.model):
        # bring-your-own network: a function (input_shape, head, n_outputs, name) -> keras.Model
        return config.model(tuple(input_shape), head=head, n_outputs=n_outputs, name=name)
    return build_model(
        config.model,
        input_shape,
        head=head,
        n_outputs=n_outputs,
        name=name,
        **config.model_overrides,
    )


@dataclass
class _RidgeStart:
    """The ridge (RR-BLUP) fit that a wide & deep model's linear path starts from.

    ``coef`` (m, n_out) and ``bias`` (n_out,) are fitted on every row handed to
    :func:`train_cnn`.  ``shift`` (n, n_out) is ``yhat_i - yhat_(-i)``: the full fit's
    prediction minus the exact leave-one-out prediction for each training row (0 where the
    target is missing).  Training on ``y + shift`` makes the residual the convolutions see
    on row ``i`` the *leave-one-out* residual ``y_i - yhat_(-i)``, not the shrunken in-sample
    one, and ``prediction - shift`` is an honest (leave-one-out) prediction for a row that
    the ridge saw.  With a dominance block (``[linear] dominance = true``) ``coef`` has a
    second half, the effects of the squared inputs centred by ``dom_mean`` and multiplied
    by ``dom_scale`` (the training rows' 1 / SD times the block weight chosen by
    leave-one-out; 0 = no dominance block).
    """

    coef: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    dom_mean: np.ndarray | None = None
    dom_scale: np.ndarray | None = None
    dom_weight: float = 0.0
    kind = "ridge"

    def features(self, x: np.ndarray) -> np.ndarray:
        """The linear path's input for ``x``: flattened, plus the dominance block if any."""
        x2 = x.reshape(len(x), -1).astype(np.float64)
        if self.dom_mean is None:
            return x2
        return np.hstack([x2, (x2 * x2 - self.dom_mean) * self.dom_scale])

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):  # streamed rows (snpcnn.datapath): by row blocks
            from snpcnn.datapath import ridge_predict

            return ridge_predict(self, x)
        return self.features(x) @ self.coef.astype(np.float64) + self.bias.astype(np.float64)


#: what each start is called in reports (``TrainResult.conv["start"]``)
START_LABELS = {
    "ridge": "RR-BLUP",
    "cnn_gp": "CNN-GP",
    "gblup_ad": "GBLUP-AD",
    "lasso": "LASSO",
    "mtgblup": "MT-GBLUP",
    "mt_cnn_gp": "MT-CNN-GP",
}


@dataclass
class _MultiTraitStart(_RidgeStart):
    """The multi-trait GBLUP (:class:`snpcnn.multitrait.MultiTraitGBLUP` on the CNN's input)
    as the linear path's start of a network fitted on several traits: ``coef`` its marker
    effects, ``bias`` its intercepts moved to the input's scale, ``shift`` its exact
    leave-one-LINE-out shift (every trait of a line held out together).  A line's BLUP uses
    its own observed traits, so where a training line is predicted in a trait it was not
    observed in (CV2), the start borrows from its other traits, as MT-GBLUP does."""

    kind = "mtgblup"


def _multitrait_start(
    x, y: np.ndarray, config: TrainConfig | None = None
) -> tuple[_MultiTraitStart | _MultiTraitKernelStart | None, dict[str, Any]]:
    """The MT-GBLUP start where a likelihood-ratio test prefers it to independent traits:
    ``(start or None, what was compared)``.  ML on the training part (every observed cell);
    the gain in log-likelihood over the same model with zero genetic and residual
    correlations (each trait's own ML variances, which is what the per-trait REML ridge
    starts fit) must exceed half the chi-square 95% point with T(T-1) degrees of freedom.

    With ``[linear] multitrait_cnn_gp`` the same model with the CNN-GP's kernel in place of
    G is a third candidate (:func:`_multitrait_kernel`): taken where its maximised
    log-likelihood beats the better of the two GBLUP models' (independent traits, MT-GBLUP)
    by more than ``kernel_threshold``, as REML's proposal of the CNN-GP for one trait."""
    from scipy import stats

    from snpcnn.multitrait import EXACT_MAX_CELLS, MultiTraitGBLUP

    n, t = y.shape
    spec = _linear_spec(config) if config is not None else {}
    with_kernel = bool(spec.get("multitrait_cnn_gp"))
    info: dict[str, Any] = {
        "candidates": ["ridge", "mtgblup", *(["mt_cnn_gp"] if with_kernel else [])],
        "chosen": "ridge",
    }
    obs = ~np.isnan(y)
    cells = int(obs.sum())
    if not isinstance(x, np.ndarray):
        info["skipped"] = "streamed genotypes (the multi-trait start needs them in memory)"
        return None, info
    if cells > EXACT_MAX_CELLS:
        info["skipped"] = (
            f"{cells:,} observed training cells > {EXACT_MAX_CELLS:,} (the multi-trait "
            "start's exact leave-one-line-out residuals)"
        )
        return None, info
    x2 = x.reshape(n, -1).astype(np.float64)
    mean = x2.mean(axis=0)
    try:
        mt = MultiTraitGBLUP(
            solver="exact", loo=True, scale=float(np.sum(x2.var(axis=0))), standardize=False
        )
        mt.fit(x2, y.astype(np.float64))
    except InputError as exc:
        info["skipped"] = " ".join(str(exc).split())
        return None, info
    df = t * (t - 1)
    threshold = float(stats.chi2.ppf(0.95, df)) / 2.0
    sd = np.sqrt(np.diag(mt.Sg_))
    info.update(
        {
            "loglik_gain": float(mt.loglik_gain_),
            "threshold": threshold,
            "df": df,
            "converged": bool(mt.optimizer_["success"]),
            "genetic_correlations": (mt.Sg_ / np.outer(sd, sd)).round(4).tolist()
            if np.all(sd > 0)
            else None,
            "n_estimate_lines": int(mt.n_estimate_lines_),
        }
    )
    if not mt.optimizer_["success"]:
        # the covariances are where the optimiser stopped (e.g. two traits that are copies
        # of each other): not a fit to start from, whatever the test says; the report's
        # "no start choice" note gives the reason
        info["skipped"] = (
            "the multi-trait GBLUP's covariance estimate did not converge (traits that are "
            "near copies of each other, or a flat likelihood)"
        )
        return None, info
    if with_kernel:
        kstart = _multitrait_kernel(
            x2,
            y,
            obs,
            mt,
            float(spec["kernel_threshold"]),
            info,
            trait_choice=float(spec.get("multitrait_trait_choice") or 0.0),
        )
        if kstart is not None:
            return kstart, info
    if not mt.loglik_gain_ > threshold:
        return None, info
    info["chosen"] = "mtgblup"
    coef = mt.effects_
    bias = np.array([c[0] for c in mt.coef_]) - mean @ coef
    fitted = x2 @ coef + bias
    resid = np.where(obs, y - fitted, 0.0)
    shift = np.where(obs, np.nan_to_num(mt.loo_residuals_) - resid, 0.0)
    return (
        _MultiTraitStart(
            coef.astype(np.float32), bias.astype(np.float32), shift.astype(np.float32)
        ),
        info,
    )


def _multitrait_kernel(
    x2: np.ndarray,
    y: np.ndarray,
    obs: np.ndarray,
    mt,
    threshold: float,
    info: dict,
    trait_choice: float = 0.0,
) -> _MultiTraitKernelStart | None:
    """The multi-trait CNN-GP start (``[linear] multitrait_cnn_gp``), or None where the
    GBLUP models stay.  The CNN-GP's depth is the one with the highest sum over traits of
    each trait's own REML log-likelihood on its observed lines
    (:class:`snpcnn.baselines.CNNGP` with ``depth_targets``); its kernel then replaces G in
    the multi-trait model (:class:`snpcnn.multitrait.MultiTraitGBLUP`, ``kernel=``, the
    covariances by ML on every observed cell, started at MT-GBLUP's).  Taken where (a) its
    maximised log-likelihood beats the better of independent traits and MT-GBLUP (both on G,
    from ``mt``) by more than ``threshold`` (``kernel_threshold``, 1.92: a heuristic, as for
    REML's proposal of the CNN-GP on one trait; G and the kernel are not nested and the depth
    is chosen on the same data), (b) its genetic and residual correlations pass the
    likelihood-ratio test against independent traits on the kernel (T(T-1) degrees of
    freedom, as MT-GBLUP's), (c) the search converged and (d) no two traits are near copies
    (|r| > 0.999) and its fit predicts no trait as a constant (near copies make the
    likelihoods degenerate).  Its leave-one-line-out residuals
    are exact (the convolutions are cross-fitted on them).  ``info`` records what was
    compared."""
    import copy

    from scipy import stats

    from snpcnn.baselines import CNNGP
    from snpcnn.multitrait import MultiTraitGBLUP

    t = y.shape[1]
    for a in range(t):
        for b in range(a + 1, t):
            both = obs[:, a] & obs[:, b]
            if both.sum() >= 3 and abs(np.corrcoef(y[both, a], y[both, b])[0, 1]) > 0.999:
                # near copies: the multi-trait likelihoods degenerate (a checking helper,
                # session 35: the kernel fit's "gain" was 258-337 and its start a constant)
                info["mt_cnn_gp_skipped"] = (
                    f"traits {a + 1} and {b + 1} are near copies of each other (correlation "
                    "above 0.999)"
                )
                return None
    ll_g = -float(mt.optimizer_["nll"])
    ll_g0 = ll_g - float(mt.loglik_gain_)
    z = (y - np.nanmean(y, axis=0)) / np.maximum(np.nanstd(y, axis=0), 1e-12)
    seen = obs.any(axis=1)
    pseudo = np.zeros(len(y))  # the fit's own REML target (its dual weights are replaced)
    pseudo[seen] = np.nanmean(z[seen], axis=1)
    try:
        gp = CNNGP(solver="exact")
        gp.keep_train_kernel = True  # its training kernel at the chosen depth: K below
        gp.depth_targets = np.asarray(y, dtype=np.float64)  # depth by the traits' REML sum
        gp.fit(x2, pseudo)
        K = gp.K_train_
        del gp.K_train_
        mk = MultiTraitGBLUP(
            solver="exact", loo=True, loo_cells=trait_choice > 0, standardize=False
        )
        # started at the genomic fit's covariances (G's mean diagonal is 1 here): the same
        # optimum in fewer likelihood evaluations than from independent traits
        scale = max(float(np.mean(np.diag(K))), 1e-12)
        mk.fit(x2, y.astype(np.float64), kernel=K, init=(mt.Sg_ / scale, mt.Se_))
    except InputError as exc:
        info["mt_cnn_gp_skipped"] = " ".join(str(exc).split())
        return None
    ll_k = -float(mk.optimizer_["nll"])
    ll_k0 = ll_k - float(mk.loglik_gain_)
    # the start is the joint fit: it must beat the better GBLUP model, and its correlations
    # must pass the same test as MT-GBLUP's (against independent traits on the kernel)
    gain = ll_k - max(ll_g, ll_g0)
    corr_threshold = float(stats.chi2.ppf(0.95, t * (t - 1))) / 2.0
    info.update(
        {
            "loglik": {
                "ridge": ll_g0,
                "mtgblup": ll_g,
                "cnn_gp_independent": ll_k0,
                "mt_cnn_gp": ll_k,
            },
            "kernel_depth": int(gp.depth_),
            "kernel_gain": float(gain),
            "kernel_threshold": float(threshold),
            "mt_cnn_gp_loglik_gain": float(ll_k - ll_k0),
            "mt_cnn_gp_converged": bool(mk.optimizer_["success"]),
        }
    )
    if not (gain > threshold and ll_k - ll_k0 > corr_threshold and mk.optimizer_["success"]):
        return None
    intercept = np.array([c[0] for c in mk.coef_], dtype=np.float64)
    fitted = K @ mk.dual_ + intercept
    spread = np.array([np.std(fitted[obs[:, j], j]) for j in range(t)])
    scale_y = np.array([np.std(y[obs[:, j], j]) for j in range(t)])
    if np.any(spread <= 1e-6 * scale_y):
        # a fit that predicts a constant for a trait: the likelihood of two traits that are
        # near copies grows as the covariances near singularity (gains of 258-337 and a
        # constant start; a checking helper, session 35), so it is not a start
        info["mt_cnn_gp_skipped"] = (
            "the multi-trait CNN-GP predicts a constant for a trait (traits that are near "
            "copies of each other make its likelihood degenerate)"
        )
        return None
    sd = np.sqrt(np.diag(mk.Sg_))
    info["chosen"] = "mt_cnn_gp"
    info["genetic_correlations"] = (
        (mk.Sg_ / np.outer(sd, sd)).round(4).tolist() if np.all(sd > 0) else None
    )
    dual = np.asarray(mk.dual_, dtype=np.float64).copy()
    loo = np.array(mk.loo_residuals_, dtype=np.float64)
    depths = [int(gp.depth_)] * t
    if trait_choice > 0:
        own = _own_trait_choice(gp, mk, obs, info, trait_choice)
        for j, (d_j, fit_j, rows_j) in own.items():
            depths[j] = d_j
            dual[:, j] = 0.0
            dual[rows_j, j] = fit_j.hinv_resid
            intercept[j] = float(fit_j.beta[0])
            loo[:, j] = np.nan
            loo[rows_j, j] = fit_j.loo_resid
        cols = sorted(own)
        fitted[:, cols] = _values_by_depth(gp, dual, depths, x2, cols) + intercept[cols]
    resid = np.where(obs, y - fitted, 0.0)
    shift = np.where(obs, np.nan_to_num(loo) - resid, 0.0)
    gp = copy.copy(gp)  # the kernel's rows and depth, with the multi-trait dual weights
    gp.dual_coef_ = dual
    return _MultiTraitKernelStart(
        gp=gp,
        intercept=intercept,
        fitted=fitted,
        shift=shift.astype(np.float32),
        coef=np.zeros((x2.shape[1], t), dtype=np.float32),
        bias=np.zeros(t, dtype=np.float32),
        depths=None if len(set(depths)) == 1 else depths,
    )


#: the share of lines lacking a trait but observed in another above which the per-trait choice
#: scores the joint fit by leaving one cell out (CV2 with up to 10 folds hides at least 10 %
#: of each trait's cells); below it, by leaving the line out
CELL_UNIT_SHARE = 0.1


def _own_trait_choice(gp, mk, obs: np.ndarray, info: dict, gate: float) -> dict[int, tuple]:
    """The traits that the multi-trait CNN-GP start predicts from their own one-trait CNN-GP
    (``[linear] multitrait_trait_choice``): those whose one-trait fit (REML on the trait's
    observed lines, its own depth, on the same kernel rows; ``gp.trait_fits_``) has lower
    squared exact leave-one-out errors than the joint fit's prediction of the trait, with a
    one-sided paired t-test over the trait's observed cells at p < ``gate`` (the key's value;
    1: the lower mean wins).  On wheat (session 36) the lower mean swapped E1 under CV2 in 5
    of 5 folds (+0.038 r) but E2 under CV1 in 4 of 5 on 0.4-1.4 % differences (-0.014 r);
    the 5 % test swapped nothing (E1 under CV2: p 0.07-0.15).  The joint fit is scored as the
    trait will be predicted: where lines lack the trait but have other traits observed (CV2's
    hidden cells, or an unbalanced trial; at least ``CELL_UNIT_SHARE`` of the lines), by
    leaving one cell out with its line's other traits seen (``loo_cell_residuals_``, the
    genetic prediction); else by leaving the whole line out (new lines).  Why: on wheat CV2
    the joint fit lowered E1, whose genetic correlations with E2-E4 are negative, from the
    one-trait CNN-GP's 0.583 to 0.544, and its leave-one-cell-out error was above the
    one-trait fit's in 5 of 5 training parts.  Returns ``{trait: (depth, REML fit, rows)}``;
    ``info`` records both errors per trait."""
    t = obs.shape[1]
    chosen: dict[int, tuple] = {}
    mse_joint, mse_own, unit, starts, pvals = [], [], [], [], []
    seen = obs.any(axis=1)
    for j in range(t):
        # lines that lack the trait but have another are predicted with those seen (CV2's
        # hidden cells): the joint fit is scored leaving one cell out where they are at least
        # CELL_UNIT_SHARE of the lines, else leaving the whole line out (new lines).  One
        # missing cell switched every cell's unit (a checking helper, session 36)
        cell_wise = bool((~obs[:, j] & seen).sum() >= CELL_UNIT_SHARE * seen.sum())
        res = (mk.loo_cell_residuals_ if cell_wise else mk.loo_residuals_)[obs[:, j], j]
        d_j, fit_j, rows_j = gp.trait_fits_[j]
        own_res = np.asarray(fit_j.loo_resid, dtype=np.float64)
        joint, alone = float(np.mean(res**2)), float(np.mean(own_res**2))
        # the rows of trait j in both: its observed lines, in order (gp.trait_fits_ rows)
        p = _improvement_p(np.zeros(len(res)), -res, -own_res)
        mse_joint.append(joint)
        mse_own.append(alone)
        pvals.append(p)
        unit.append("cell" if cell_wise else "line")
        if alone < joint and (p < gate or gate >= 1.0):
            chosen[j] = (int(d_j), fit_j, np.asarray(rows_j))
        starts.append("cnn_gp" if j in chosen else "mt_cnn_gp")
    info["trait_starts"] = starts
    info["trait_loo_mse"] = {"mt_cnn_gp": mse_joint, "cnn_gp": mse_own}
    info["trait_loo_unit"] = unit
    info["trait_p_value"] = pvals
    info["trait_depths"] = [int(gp.trait_fits_[j][0]) for j in range(t)]
    return chosen


@dataclass(kw_only=True)
class _AddedStart:
    """A start added to the networks' correction after training (REML chose it over the
    ridge).  It plays :class:`_RidgeStart`'s part in the cross-fit: ``shift`` is its exact
    leave-one-out shift, ``fitted`` its in-sample prediction on the training rows.  The Keras
    model's linear path gets zero effects (``coef``, ``bias``), so the networks learn the
    correction alone."""

    fitted: np.ndarray
    shift: np.ndarray
    coef: np.ndarray
    bias: np.ndarray
    dom_mean: None = None
    dom_scale: None = None
    dom_weight: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):  # streamed rows (snpcnn.datapath): by row blocks
            from snpcnn.datapath import ridge_predict

            return ridge_predict(self, x)
        return self._predict(np.asarray(x, dtype=np.float64).reshape(len(x), -1))

    def _predict(self, x2: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass(kw_only=True)
class _KernelStart(_AddedStart):
    """A CNN-GP (:class:`snpcnn.baselines.CNNGP`, one output) as the start; its prediction is
    added by :class:`snpcnn.models.layers.KernelPrediction`."""

    gp: Any
    intercept: np.ndarray
    kind = "cnn_gp"

    def predict(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):  # streamed rows: one column-block pass over both
            return self.gp.genomic_values(x).reshape(len(x), -1) + self.intercept
        return super().predict(x)

    def _predict(self, x2: np.ndarray) -> np.ndarray:
        return self.gp.genomic_values(x2).reshape(len(x2), -1) + self.intercept


@dataclass(kw_only=True)
class _MultiTraitKernelStart(_KernelStart):
    """The multi-trait CNN-GP as the start of a network fitted on several traits
    (:func:`_multitrait_kernel`): ``gp`` holds the CNN-GP's training rows and depth, its
    ``dual_coef_`` the multi-trait model's dual weights (lines x traits), ``intercept`` one
    per trait.  Added after training by :class:`snpcnn.models.layers.KernelPrediction` with
    one output per trait; ``shift`` is its exact leave-one-line-out shift.  ``depths``: the
    kernel depth of each output where some traits are predicted by their own one-trait
    CNN-GP (``[linear] multitrait_trait_choice``; their columns of ``dual_coef_`` hold that
    fit's dual weights), else None (every output at ``gp.depth_``)."""

    depths: list[int] | None = None
    kind = "mt_cnn_gp"

    def _predict(self, x2: np.ndarray) -> np.ndarray:
        if self.depths is None:
            return super()._predict(x2)
        cols = list(range(len(self.depths)))
        return _values_by_depth(self.gp, self.gp.dual_coef_, self.depths, x2, cols) + self.intercept


def _values_by_depth(gp, dual: np.ndarray, depths: list[int], x2: np.ndarray, cols: list[int]):
    """The genomic values of the outputs ``cols`` of a CNN-GP whose outputs have their own
    kernel depths (``depths``) and dual weights (columns of ``dual``): one kernel pass per
    distinct depth among them."""
    import copy

    dual = np.asarray(dual).reshape(gp.n_train_, -1)
    out = np.empty((len(x2), len(cols)))
    for d in sorted({depths[j] for j in cols}):
        at = [k for k, j in enumerate(cols) if depths[j] == d]
        twin = copy.copy(gp)
        twin.depth_ = d
        twin.dual_coef_ = dual[:, [cols[k] for k in at]]
        out[:, at] = twin.genomic_values(x2).reshape(len(x2), -1)
    return out


@dataclass(kw_only=True)
class _DominanceStart(_AddedStart):
    """GBLUP-AD on the CNN's input as the start (``[linear] kernel`` names ``"gblup_ad"``).
    Its prediction is a quadratic function of each input value, ``x @ lin + (x * x) @ quad +
    const`` (the additive effects plus the dominance effects of :func:`_dominance_block`,
    expanded), so the saved model carries two marker-effect vectors
    (:class:`snpcnn.models.layers.QuadraticEffects`), no training rows."""

    lin: np.ndarray
    quad: np.ndarray
    const: float
    share: float
    delta: float = float("nan")  # REML's residual-to-genetic variance ratio
    kind = "gblup_ad"

    def _predict(self, x2: np.ndarray) -> np.ndarray:
        return ((x2 @ self.lin) + ((x2 * x2) @ self.quad) + self.const).reshape(-1, 1)


@dataclass(kw_only=True)
class _LassoStart(_AddedStart):
    """The LASSO on the CNN's input as the start (``[linear] kernel`` names ``"lasso"``; its
    penalty by inner K-fold CV of the training rows, :func:`snpcnn.baselines.lasso.
    cross_validated_lasso`).  No exact leave-one-out exists for it, so ``shift`` is the full
    fit's prediction minus the *cross-fitted* one (each row predicted by the fold model not
    fitted on it): the convolutions see out-of-fold residuals, as on the other starts.  Its
    prediction ``x @ lin + const`` is saved as :class:`snpcnn.models.layers.QuadraticEffects`
    with no squared terms."""

    lin: np.ndarray
    const: float
    alpha: float
    #: effects of the squared inputs (``[linear] lasso_dominance``: the LASSO on each SNP's
    #: dosage and dominance term), None for the plain LASSO
    quad_coef: np.ndarray | None = None
    kind = "lasso"

    @property
    def quad(self) -> np.ndarray:
        return np.zeros_like(self.lin) if self.quad_coef is None else self.quad_coef

    def _predict(self, x2: np.ndarray) -> np.ndarray:
        out = x2 @ self.lin + self.const
        if self.quad_coef is not None:
            out = out + (x2 * x2) @ self.quad_coef
        return out.reshape(-1, 1)


def _fit_lasso_start(
    xc: np.ndarray, mean: np.ndarray, y: np.ndarray, seed: int
) -> tuple[_LassoStart | None, dict[str, Any]]:
    """The LASSO start on the centred inputs ``xc`` (``mean`` their column means; an array,
    or :class:`snpcnn.baselines.lasso.StreamedColumns` for streamed rows): penalty by 5
    inner folds (a shuffle fixed by ``seed``), cross-fitted predictions at that penalty.
    Returns (start or None where y gives nothing to fit, notes incl. its inner-CV error)."""
    from snpcnn.baselines.lasso import StreamedColumns, cross_validated_lasso

    fit = cross_validated_lasso(xc, y, seed=seed)
    if fit is None:
        return None, {"lasso_skipped": "nothing to fit (constant target)"}
    coef = fit.coef
    fitted = (xc.product(coef) if isinstance(xc, StreamedColumns) else xc @ coef) + fit.intercept
    start = _LassoStart(
        lin=coef,
        const=float(fit.intercept - mean @ coef),
        alpha=fit.alpha,
        fitted=fitted.reshape(-1, 1),
        shift=(fitted - fit.oof).reshape(-1, 1).astype(np.float32),
        coef=np.zeros((xc.shape[1], 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )
    notes = {
        "lasso_alpha": fit.alpha,
        "lasso_n_selected": int(np.count_nonzero(coef)),
        "lasso_penalty_index": int(fit.best),
    }
    return start, notes


def _cv_mse(start: _LassoStart | None, y: np.ndarray) -> float:
    """The inner-CV squared error of a LASSO start (its out-of-fold predictions)."""
    if start is None:
        return float("inf")
    return float(np.mean((y - start.fitted[:, 0] + start.shift[:, 0]) ** 2))


def _heterozygote_columns(xc: np.ndarray) -> np.ndarray:
    """The columns of the centred inputs ``xc`` whose rows hold both homozygotes and a
    heterozygote: a value half way between the column's smallest and largest, to 1e-6 of
    their distance (float32 rounding of the encoded input moves a heterozygote by up to
    6e-8 of it).  A missing call filled with the SNP's mean lies elsewhere between them and
    does not count, except where the mean is exactly 1: :mod:`snpcnn.preprocess` fills it
    with 1 + 2^-23, within that rounding of a heterozygote, so on inbred lines such a SNP's
    "indicator" marks its missing calls (a review, session 50; a tighter tolerance missed a
    quarter of the true heterozygotes).  The indicators are used only where they lower the
    inner-CV error significantly (:func:`_lasso_with_or_without_dominance`)."""
    lo, hi = xc.min(axis=0), xc.max(axis=0)
    span = hi - lo
    tol = 1e-6 * span
    het = (np.abs(xc - (lo + hi) / 2.0) <= tol).any(axis=0)
    return np.flatnonzero(het & (span > 1e-12))


def _lasso_with_or_without_dominance(
    xc: np.ndarray, mean: np.ndarray, y: np.ndarray
) -> tuple[_LassoStart | None, dict[str, Any]]:
    """``[linear] lasso_dominance``: the plain LASSO and the LASSO with heterozygote
    indicators; the indicators are kept where their inner-CV squared errors are lower row by
    row, significantly (one-sided paired t-test, p < 0.05).  They cost a sparse additive
    trait a little (0.640 vs 0.649 on session 50's outbred set: 3,000 more columns for the
    penalty to sift, and their inner-CV error was lower by chance); the test keeps the plain
    LASSO there and the indicators where a trait holds dominance.  Where no SNP has a
    heterozygote (inbred lines) only the plain LASSO is fitted.  (The rows of an inner fold
    share a model, so the test's p is somewhat optimistic; the indicators' gain where they
    matter is far beyond it: p < 1e-10 on session 50's dominance traits.)"""
    cols = _heterozygote_columns(xc)
    plain, notes = _fit_lasso_start(xc, mean, y, seed=0)
    notes["lasso_dominance_columns"] = int(len(cols))
    if not len(cols):
        return plain, notes
    dom, dom_notes = _fit_lasso_dominance_start(xc, mean, y, seed=0, cols=cols)
    e_plain, e_dom = _cv_mse(plain, y), _cv_mse(dom, y)
    choice = {"lasso_cv_mse_plain": e_plain, "lasso_cv_mse_dominance": e_dom}
    if plain is not None and dom is not None:
        oof = lambda st: st.fitted[:, 0] - st.shift[:, 0]  # noqa: E731
        choice["lasso_dominance_p"] = _improvement_p(y, oof(plain), oof(dom))
    if e_dom < e_plain and (plain is None or choice.get("lasso_dominance_p", 1.0) < 0.05):
        return dom, {**dom_notes, **choice, "lasso_dominance_used": True}
    return plain, {**notes, **choice, "lasso_dominance_used": False}


def _fit_lasso_dominance_start(
    xc: np.ndarray, mean: np.ndarray, y: np.ndarray, seed: int, cols: np.ndarray | None = None
) -> tuple[_LassoStart | None, dict[str, Any]]:
    """The LASSO on each input's centred value and its heterozygote indicator (``[linear]
    lasso_dominance``, a candidate of session 50): a sparse dominance trait (a few loci of
    heterozygote advantage) is one coefficient per locus on these indicators, where on the
    dosage and its square it takes two, which the L1 penalty charges twice.  A column gets
    an indicator where its training rows hold both homozygotes and a heterozygote
    (:func:`_heterozygote_columns`): ``h = 1 - ((x - mid) / half)^2`` with ``mid`` and
    ``half`` the middle and half the range of its values, 1 at the heterozygote, 0 at both
    homozygotes, between them at a mean-imputed missing call.  With two values (inbred
    lines' 0/2) the indicator is a linear function of the input: nothing to add.  Each
    indicator is centred and scaled to its input column's SD, so the penalty
    treats both alike.  The fit's effects are expanded to ``x @ lin + (x * x) @ quad +
    const`` of the uncentred input (:class:`snpcnn.models.layers.QuadraticEffects`).  In
    memory only: ``xc`` an array."""
    from snpcnn.baselines.lasso import cross_validated_lasso

    n, p = xc.shape
    if cols is None:
        cols = _heterozygote_columns(xc)
    if not len(cols):
        start, notes = _fit_lasso_start(xc, mean, y, seed)
        notes["lasso_dominance_columns"] = 0
        return start, notes
    lo, hi = xc[:, cols].min(axis=0), xc[:, cols].max(axis=0)
    mid = (lo + hi) / 2.0  # in xc's units
    half = (hi - lo) / 2.0
    # one (n, p + k) array, filled in place: the indicators next to a copy of xc (a review:
    # the copies of xc[:, cols], h and np.hstack peaked at 5.8 x xc)
    both = np.empty((n, p + len(cols)))
    both[:, :p] = xc
    h = both[:, p:]
    np.subtract(xc[:, cols], mid, out=h)
    h /= half
    np.square(h, out=h)
    np.subtract(1.0, h, out=h)
    hmean = h.mean(axis=0)
    h -= hmean
    k = xc[:, cols].std(axis=0) / np.maximum(h.std(axis=0), 1e-12)
    h *= k
    del h
    fit = cross_validated_lasso(both, y, seed=seed)
    if fit is None:
        return None, {"lasso_skipped": "nothing to fit (constant target)"}
    fitted = both @ fit.coef + fit.intercept
    del both
    a = fit.coef[:p]
    e = fit.coef[p:] * k  # the effect of each indicator h (uncentred, unscaled)
    # h = 1 - (xc - mid)^2 / half^2 with xc = x - mean: in the uncentred input x, the middle
    # is at mid + mean
    m_x = mid + mean[cols]
    lin = a.copy()
    quad = np.zeros(p)
    lin[cols] += 2.0 * e * m_x / half**2
    quad[cols] = -e / half**2
    const = fit.intercept - mean @ a + float(np.sum(e * (1.0 - m_x**2 / half**2 - hmean)))
    start = _LassoStart(
        lin=lin,
        quad_coef=quad,
        const=float(const),
        alpha=fit.alpha,
        fitted=fitted.reshape(-1, 1),
        shift=(fitted - fit.oof).reshape(-1, 1).astype(np.float32),
        coef=np.zeros((p, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )
    notes = {
        "lasso_alpha": fit.alpha,
        "lasso_n_selected": int(np.count_nonzero(a)),
        "lasso_dominance_columns": int(len(cols)),
        "lasso_n_dominance_selected": int(np.count_nonzero(e)),
        "lasso_penalty_index": int(fit.best),
    }
    return start, notes


#: starts added to the networks' correction after training (the linear path holds zeros)
_ADDED_STARTS = (_AddedStart,)


@dataclass(kw_only=True)
class _StageStart(_AddedStart):
    """The first correction (start + its kept convolutions) as the start of a second one
    (``[triple_stage]``): ``fitted`` is its out-of-fold prediction of every training row, so
    the second stage's networks train on the first stage's out-of-fold residuals and its
    gate compares against them.  Never saved: the final model adds the second stage's
    networks to the first stage's (:func:`_assemble`)."""

    kind = "first_stage"


def _dominance_block(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dominance codes of the (column-centred) inputs ``xc``: per column, the square minus
    its least-squares regression on the column and an intercept over these rows, i.e. the
    part of a SNP's genotypic value that no additive effect can express.  For dosages 0/1/2
    in Hardy-Weinberg proportions this is, up to sign, the Vitezica et al. (2013) genotypic
    dominance code of :func:`snpcnn.baselines.gblup.dominance_codes`.  Returns ``(W, a, b)``
    with ``W = xc**2 - a - b * xc`` (a column with two values has ``W = 0``: inbred lines)."""
    sq = xc * xc
    a = sq.mean(axis=0)
    var = np.mean(xc * xc, axis=0)
    cov = np.mean(xc * (sq - a), axis=0)
    b = np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), 0.0)
    sq -= a
    sq -= b * xc
    return sq, a, b


def _fit_dominance_start(
    xc: np.ndarray,
    mean: np.ndarray,
    gram: np.ndarray,
    y: np.ndarray,
    lo: float,
    hi: float,
    n_grid: int,
    shares: Sequence[float],
) -> tuple[_DominanceStart | None, float, dict[str, Any]]:
    """REML GBLUP-AD on the inputs: ``K_w = (1 - w) G + w D`` (``G = gram``, the ridge start's
    Gram matrix with mean diagonal 1; ``D`` the dominance codes' Gram matrix scaled alike),
    the share ``w`` on the grid ``shares`` (> 0) by REML.  Returns (start or None where the
    inputs carry no dominance codes, log-likelihood, notes)."""
    from snpcnn.baselines.lasso import StreamedColumns
    from snpcnn.baselines.reml import _best_kernel

    def blocks():  # the centred inputs in column blocks (one block in memory)
        if isinstance(xc, StreamedColumns):
            yield from xc.blocks()
        else:
            yield 0, xc.shape[1], xc

    n, p = xc.shape
    dgram = np.zeros((n, n))
    rowsq = np.zeros(n)
    a, b = np.zeros(p), np.zeros(p)
    for c0, c1, block in blocks():
        w_codes, a[c0:c1], b[c0:c1] = _dominance_block(block)
        dgram += w_codes @ w_codes.T
        rowsq += np.sum(block * block, axis=1)
        del w_codes
    s_d = float(np.mean(np.diag(dgram)))
    if not s_d > 1e-9:
        return (
            None,
            float("-inf"),
            {"gblup_ad_skipped": "no dominance codes (no column has three values: inbred lines?)"},
        )
    dgram /= s_d
    ones = np.ones((n, 1))

    def kernel(w: float, g=gram, d=dgram) -> np.ndarray:
        return (1.0 - w) * g + w * d

    share, fit, by_share = _best_kernel([float(v) for v in shares], kernel, y, ones, lo, hi, n_grid)
    del dgram, kernel
    alpha = fit.hinv_resid
    # marker effects: g(x) = (1 - w) (x - mean) . xc' alpha / s_a + w W(x) . W' alpha / s_d,
    # s_a the mean diagonal of xc xc' (the scale the caller divided ``gram`` by); a second
    # pass over the blocks (the dominance codes are recomputed, not kept)
    s_a = float(np.mean(rowsq))
    u_a, u_d = np.zeros(p), np.zeros(p)
    for c0, c1, block in blocks():
        u_a[c0:c1] = (block.T @ alpha) * ((1.0 - share) / s_a)
        u_d[c0:c1] = (_dominance_block(block)[0].T @ alpha) * (share / s_d)
    # W(x) = (x - mean)^2 - a - b (x - mean), expanded in x: x^2 - (2 mean + b) x + const
    lin = u_a - (2.0 * mean + b) * u_d
    quad = u_d
    const = float(fit.beta[0] - mean @ u_a + (mean * mean + b * mean - a) @ u_d)
    insample = fit.delta * alpha  # y - fitted = delta H^-1 (y - F b)
    start = _DominanceStart(
        lin=lin,
        quad=quad,
        const=const,
        share=float(share),
        delta=float(fit.delta),
        fitted=(y - insample).reshape(-1, 1),
        shift=(fit.loo_resid - insample).reshape(-1, 1).astype(np.float32),
        coef=np.zeros((p, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )
    return (
        start,
        float(fit.loglik),
        {
            "gblup_ad_share": float(share),
            "loglik_by_share": {f"{k:g}": float(v) for k, v in by_share.items()},
        },
    )


def _kernel_spec(config: TrainConfig) -> dict[str, Any] | None:
    spec = _linear_spec(config)
    return spec if spec.get("kernel", "none") != "none" else None


def _lasso_dominance_offered(spec: dict, x, allowed: bool = True) -> tuple[bool, str | None]:
    """Whether the LASSO start is fitted with heterozygote indicators on ``x``
    (``[linear] lasso_dominance``), and if not though asked, why: streamed rows, or a matrix
    whose copy with the indicators would pass :data:`snpcnn.datapath.START_DENSE_BYTES`
    (a review: nothing bounded it), or ``allowed`` False (a large training part's subsample,
    whose full fit cannot take them: the subsample must not choose by them)."""
    from snpcnn.datapath import START_DENSE_BYTES

    if not spec.get("lasso_dominance"):
        return False, None
    if not isinstance(x, np.ndarray):
        return False, "streamed genotypes: the plain LASSO"
    if not allowed or 16 * x.size > START_DENSE_BYTES:
        return False, (
            "the inputs with their indicators would take more than "
            f"{START_DENSE_BYTES / 2**30:g} GiB as float64: the plain LASSO"
        )
    return True, None


def _choose_start(
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    head: str,
    only: tuple = (),
    dominance_ok: bool = True,
) -> tuple[_AddedStart | None, dict[str, Any] | None]:
    """REML's proposal between the ridge start (GBLUP on the CNN's input) and the
    architecture's alternative starts (``[linear] kernel``: the CNN-GP, GBLUP-AD, or both)
    on these rows: the alternative with the highest REML log-likelihood, where it is higher
    than the ridge's by more than ``kernel_threshold``.  Where ``kernel`` also names
    ``"lasso"``, the LASSO (penalty by inner 5-fold CV) replaces that proposal where its
    inner-CV squared error is below the leave-one-out squared error of both the ridge and
    REML's proposal.  (:func:`train_cnn` then cross-fits
    the convolutions on both starts and keeps the pipeline with the lower out-of-fold
    error.)  Every model has the same fixed effect (the intercept; covariates were removed
    from ``y`` by GLS beforehand), and the optimum does not depend on a kernel's scale, so
    the log-likelihoods compare (GBLUP-AD has one variance parameter more, its share on a
    grid).  Returns ``(start or None, what was compared)``; (None, None) where no
    alternative is configured.

    Streamed rows (:class:`snpcnn.datapath.EncodedRows`, large data): the same choice from
    column-block passes (the Gram matrices and the CNN-GP's kernel summed over blocks, the
    same numbers bit for bit for the CNN-GP; the LASSO's solver reads blocks); the CNN-GP
    only on one-channel dosage input and up to ``kernel_max_streamed`` training genotypes
    (its start keeps the training rows, as int8 codes), the LASSO up to
    ``lasso_max_streamed``; ``info["not_offered"]`` says so."""
    from snpcnn.models.spec import kernel_starts

    spec = _kernel_spec(config)
    if spec is None:
        return None, None
    names = kernel_starts(spec)
    if only:  # the subsample of a large training part (_choose_start_large)
        names = tuple(k for k in names if k in only)
    info: dict[str, Any] = {
        "candidates": ["ridge", *names],
        "chosen": "ridge",
        "reml_choice": "ridge",
    }
    n = len(x)
    if len(y) != n:
        raise InputError(
            f"the genotypes have {n} rows but the targets {len(y)}; give one target row per "
            "genotype row, in the same order"
        )
    why = None
    streamed = not isinstance(x, np.ndarray)
    # streamed rows (large data): the CNN-GP is offered on one-channel dosage input up to
    # kernel_max_streamed training genotypes (its start keeps the training rows in the saved
    # model, there as int8 codes: 1 byte a genotype), the LASSO up to lasso_max_streamed
    # (each of its iterations reads them all)
    not_offered: dict[str, str] = {}
    if streamed and "cnn_gp" in names:
        # the streamed CNN-GP's layer keeps the training rows as int8 dosage codes
        if not getattr(x, "has_codes", False):
            not_offered["cnn_gp"] = "streamed genotypes with an encoding other than dosage"
        elif n * x.n_features > int(spec["kernel_max_streamed"]):
            not_offered["cnn_gp"] = (
                f"streamed genotypes: {n} x {x.n_features} training genotypes > "
                f"kernel_max_streamed ({spec['kernel_max_streamed']})"
            )
    if streamed and "lasso" in names and n * x.n_features > int(spec["lasso_max_streamed"]):
        not_offered["lasso"] = (
            f"streamed genotypes: {n} x {x.n_features} training genotypes > "
            f"lasso_max_streamed ({spec['lasso_max_streamed']})"
        )
    if not_offered:
        info["not_offered"] = not_offered
        names = tuple(k for k in names if k not in not_offered)
        info["candidates"] = ["ridge", *names]
    if head != "regression" or y.shape[1] != 1:
        why = "the kernel start takes one regression trait"
    elif not names:
        why = "; ".join(sorted(set(not_offered.values())))
    elif n > int(spec["kernel_max_samples"]) and not only:
        large = tuple(k for k in ("gblup_ad", "cnn_gp", "lasso") if k in names)
        if large and not np.isnan(y).any():
            return _choose_start_large(x, y, config, head, spec, info, large)
        why = f"{n} training rows > kernel_max_samples ({spec['kernel_max_samples']})"
    elif np.isnan(y).any():
        why = "missing targets"
    elif n < 10:
        why = f"{n} training rows (the kernel start needs at least 10)"
    if why is not None:
        info["skipped"] = why
        return None, info
    from snpcnn.baselines import CNNGP
    from snpcnn.baselines.reml import _best_kernel, _reml_bounds

    yv = y[:, 0].astype(np.float64)
    if streamed:
        # streamed rows (large data): the centred inputs are read in column blocks, the
        # Gram matrix summed over them
        from snpcnn.baselines.lasso import StreamedColumns
        from snpcnn.datapath import centered_gram

        xc = StreamedColumns(x)
        mean = xc.mean
        gram = centered_gram(x)
    else:
        # one float64 copy of the genotypes at a time (the values of the plain x - mean, so
        # the same Gram matrix bit for bit); the CNN-GP converts x itself
        xc = x.reshape(n, -1).astype(np.float64)
        mean = xc.mean(axis=0)
        xc -= mean
        gram = xc @ xc.T  # the ridge start's kernel (GBLUP's G up to scale)
    # scaled to mean diagonal 1, like GBLUP's G and about like the CNN-GP's kernel: the REML
    # optimum does not depend on the scale, but where it lies at the bound of log(delta)
    # (no genetic signal) an unscaled Gram (diagonal ~ the number of SNPs) would still move
    # the likelihood there and bias the comparison
    gram /= max(float(np.mean(np.diag(gram))), 1e-300)
    gp = CNNGP()
    lo, hi = _reml_bounds(gp.log_delta_bounds, gp.n_grid)
    ones = np.ones((n, 1))
    _, ridge_fit, _ = _best_kernel([0], lambda _, k=gram: k, yv, ones, lo, hi, gp.n_grid)
    starts: dict[str, Any] = {}
    logliks: dict[str, float] = {}
    if "gblup_ad" in names:
        from snpcnn.baselines.gblup import GBLUPAD

        shares = [w for w in GBLUPAD.DEFAULT_SHARES if w > 0]
        ad, ll, notes = _fit_dominance_start(xc, mean, gram, yv, lo, hi, gp.n_grid, shares)
        info.update(notes)
        if ad is not None:
            starts["gblup_ad"], logliks["gblup_ad"] = ad, ll
    lasso = None
    if "lasso" in names:
        dominance, why_not = _lasso_dominance_offered(spec, x, dominance_ok)
        if dominance:
            lasso, notes = _lasso_with_or_without_dominance(xc, mean, yv)
        else:
            lasso, notes = _fit_lasso_start(xc, mean, yv, seed=0)
            if why_not:
                notes["lasso_dominance_skipped"] = why_not
        info.update(notes)
    del xc, gram
    if "cnn_gp" in names:  # streamed rows: from column blocks, as in memory bit for bit
        gp.fit(x if streamed else x.reshape(n, -1), yv)
        logliks["cnn_gp"] = float(gp.loglik_)
        info["kernel_depth"] = int(gp.depth_)
    info.update(
        {
            "loglik_ridge": float(ridge_fit.loglik),
            "threshold": float(spec["kernel_threshold"]),
        }
    )
    start = None
    if logliks:
        reml_names = [k for k in names if k in logliks]
        best = max(logliks, key=lambda k: (logliks[k], -reml_names.index(k)))
        gain = float(logliks[best] - ridge_fit.loglik)
        if names == (best,):  # one alternative: the v5 record (loglik_kernel)
            info["loglik_kernel"] = logliks[best]
        else:
            info["loglik"] = dict(logliks)
        info["loglik_gain"] = gain
        info["best_alternative"] = best
        if gain > float(spec["kernel_threshold"]):
            info["chosen"] = info["reml_choice"] = best
            start = starts["gblup_ad"] if best == "gblup_ad" else _cnn_gp_start(gp, yv)
    if lasso is not None:
        # the LASSO has no likelihood to compare: it is proposed where its inner-CV squared
        # error is below the leave-one-out squared error of GBLUP and of REML's proposal
        # (the LASSO's folds hold out a fifth of the rows, leave-one-out one row: a margin
        # in the incumbents' favour); train_cnn then judges it with its convolutions
        mse = {"ridge": float(np.mean(ridge_fit.loo_resid**2))}
        if start is not None:
            mse[start.kind] = float(np.mean((yv - start.fitted[:, 0] + start.shift[:, 0]) ** 2))
        lasso_resid = yv - lasso.fitted[:, 0] + lasso.shift[:, 0]
        lasso_mse = float(np.mean(lasso_resid**2))
        info["lasso_cv_mse"] = lasso_mse
        info["loo_mse"] = mse
        # row by row against the incumbent with the lowest error: is the LASSO's lower
        # error more than noise?  (one-sided paired t-test; lasso_proposal_p, 1 = v7's rule)
        best_kind = min(mse, key=mse.get)
        incumbent = (
            ridge_fit.loo_resid
            if best_kind == "ridge"
            else yv - start.fitted[:, 0] + start.shift[:, 0]
        )
        p = _improvement_p(yv, yv - incumbent, yv - lasso_resid)
        info["lasso_proposal_p"] = p
        limit = float(spec["lasso_proposal_p"])
        if lasso_mse < mse[best_kind] and (p < limit or limit >= 1):
            info["chosen"] = "lasso"
            start = lasso
    return start, info


def _choose_start_large(
    x, y: np.ndarray, config: TrainConfig, head: str, spec: dict, info: dict, offered: tuple
) -> tuple[_AddedStart | None, dict[str, Any]]:
    """The start choice above ``kernel_max_samples`` training rows, with no n x n matrix of
    all rows.  On a random subsample of :data:`snpcnn.baselines.large_n.SUBSAMPLE` rows
    (fixed seed; the large-n GBLUP takes its variance ratio from one too) the choice is
    :func:`_choose_start`'s among the ``offered`` starts: REML compares the ridge with
    GBLUP-AD and the CNN-GP, and the LASSO is proposed where its inner-CV error beats the
    leave-one-out error of both.  The winner is then fitted on every row: GBLUP-AD with the
    subsample's share and variance ratio, its marker effects by the large-n ridge solver
    (:func:`snpcnn.datapath.fit_dominance_large`, out-of-fold residuals for the
    convolutions); the CNN-GP by its Nystrom approximation through the same rows as
    landmarks (exact leave-one-out residuals of that model; the saved model holds the
    landmarks, not every training row); the LASSO with its penalty by inner 5-fold CV of
    every row, read in column blocks above :data:`snpcnn.datapath.START_DENSE_BYTES` of
    float64 (``info["lasso_subsample"]`` keeps the subsample fit's penalty and size)."""
    from snpcnn.baselines import CNNGP
    from snpcnn.baselines.large_n import SUBSAMPLE, subsample_rows
    from snpcnn.datapath import fit_dominance_large

    n = len(x)
    rows = subsample_rows(n, SUBSAMPLE, seed=0)
    full_ok, _ = _lasso_dominance_offered(spec, x)
    sub, sub_info = _choose_start(
        x[rows], y[rows], config, head, only=offered, dominance_ok=full_ok
    )
    limit = f"{n} training rows > kernel_max_samples ({spec['kernel_max_samples']})"
    not_offered = dict(info.get("not_offered", {}))
    for k in info["candidates"][1:]:
        if k not in offered:
            not_offered[k] = limit
    info.update({k: v for k, v in (sub_info or {}).items() if k != "candidates"})
    info["candidates"] = ["ridge", *offered]
    info["not_offered"] = not_offered
    info["subsample"] = len(rows)
    if sub is None:
        return None, info
    yv = y[:, 0].astype(np.float64)
    if isinstance(sub, _LassoStart):
        return _lasso_large(x, yv, info, full_ok)
    if isinstance(sub, _KernelStart):
        # the subsample's exact CNN-GP is the Nystrom fit's landmark model (the same rows)
        gp = CNNGP(solver="nystrom", landmarks=SUBSAMPLE)
        gp.fit(x if not isinstance(x, np.ndarray) else x.reshape(n, -1), yv, landmark_model=sub.gp)
        info["kernel_depth"] = int(gp.depth_)
        info["cnn_gp_landmarks"] = len(gp.landmark_rows_)
        return _cnn_gp_start(gp, yv), info
    start = fit_dominance_large(x, yv, sub.share, sub.delta)
    if start is None:
        info["chosen"] = info["reml_choice"] = "ridge"
        info["gblup_ad_skipped"] = "no dominance codes"
    return start, info


def _lasso_large(
    x, yv: np.ndarray, info: dict, dominance: bool = False
) -> tuple[_LassoStart | None, dict[str, Any]]:
    """The LASSO start on every row of a large training part (array or
    :class:`snpcnn.datapath.EncodedRows`): a centred float64 copy where it takes at most
    ``START_DENSE_BYTES``, else the column-block source that streamed rows use."""
    from snpcnn.baselines.lasso import StreamedColumns
    from snpcnn.datapath import START_DENSE_BYTES, ArrayColumns

    # every LASSO note of the subsample's fit under lasso_subsample (its lasso_dominance_used
    # stood beside a plain full fit: a review); the full fit's notes below
    keys = ["lasso_alpha", "lasso_n_selected", "lasso_penalty_index"]
    keys += [k for k in info if k.startswith("lasso_dominance") or k.startswith("lasso_cv_mse_")]
    keys += ["lasso_n_dominance_selected"]
    info["lasso_subsample"] = {k: info.pop(k) for k in keys if k in info}
    n = len(yv)
    if isinstance(x, np.ndarray) and 8 * x.size <= START_DENSE_BYTES:
        xc = x.reshape(n, -1).astype(np.float64)
        mean = xc.mean(axis=0)
        xc -= mean
    else:
        xc = StreamedColumns(ArrayColumns(x) if isinstance(x, np.ndarray) else x)
        mean = xc.mean
    if dominance and isinstance(xc, np.ndarray):
        # with or without the heterozygote indicators, as on the subsample
        start, notes = _lasso_with_or_without_dominance(xc, mean, yv)
    else:
        start, notes = _fit_lasso_start(xc, mean, yv, seed=0)
    info.update(notes)
    if start is None:
        info["chosen"] = "ridge"
    return start, info


def _cnn_gp_start(gp, yv: np.ndarray) -> _KernelStart:
    """The fitted CNN-GP ``gp`` as the start (its exact leave-one-out shift)."""
    insample = gp.delta_ * gp.dual_coef_  # y - fitted = delta H^-1 (y - F b)
    return _KernelStart(
        gp=gp,
        intercept=np.asarray([gp.beta_[0]], dtype=np.float64),
        fitted=(yv - insample).reshape(-1, 1),
        shift=(gp.loo_residuals_ - insample).reshape(-1, 1).astype(np.float32),
        coef=np.zeros((gp.n_features_in_, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )


def _start_output(start, inp):
    """The Keras output of a start added after training (CNN-GP, GBLUP-AD, LASSO) on ``inp``."""
    from snpcnn.models.layers import KernelPrediction, QuadraticEffects

    if isinstance(start, (_DominanceStart, _LassoStart)):
        # the LASSO's start is linear: no squared term to compute
        squares = start.kind != "lasso" or start.quad_coef is not None
        layer = QuadraticEffects(len(start.lin), squares=squares, name=f"{start.kind}_start")
        out = layer(inp)
        layer.set_effects(start.lin, start.quad, start.const)
        return out
    gp = start.gp
    if gp._is_nystrom():
        # a Nystrom fit predicts K(x, landmarks) @ weights: the exact fit on the landmarks
        # with the landmark weights as its dual coefficients
        import copy

        twin = copy.copy(gp.landmark_model_)
        twin.dual_coef_ = np.asarray(gp.landmark_weights_, dtype=np.float64)
        gp = twin
    # the layer holds the training rows as int8 codes where each column has few distinct
    # values (dosages: always), the same predictions bit for bit in a quarter of the memory
    coded = gp.train_codes()
    layer = KernelPrediction(
        gp.n_train_,
        gp.n_features_in_,
        gp._width(gp.n_features_in_),
        gp.activation,
        gp.depth_,
        gp.bias,
        n_outputs=len(np.atleast_1d(start.intercept)),
        depths=getattr(start, "depths", None),
        name=f"{start.kind}_start",
        storage="float32" if coded is None else "int8",
        n_codes=4 if coded is None else coded[1].shape[1],
    )
    out = layer(inp)
    layer.set_fit(gp, start.intercept, coded)
    return out


def _with_kernel(nets: list, start, input_shape) -> Any:
    """The final model where the start is added after training (a CNN-GP or GBLUP-AD): the
    networks' (averaged) correction plus the start's prediction, one Keras model (saved,
    loaded and explained like any other)."""
    return _assemble(nets, start, [], input_shape, f"{start.kind}_start_ensemble")


def _assemble(first: list, start, second: list, input_shape, name: str) -> Any:
    """One Keras model: the first stage's networks (averaged; with the start's linear path,
    or plus a start added after training), plus a kept ``[triple_stage]``'s networks
    (averaged) where ``second`` has any.  Every network is a direct member, so Grad-CAM and
    the explain methods see both stages' convolutions."""
    import keras

    inp = keras.Input(shape=input_shape, name="genotypes")
    outs = [m(inp) for m in first]
    parts = [outs[0] if len(outs) == 1 else keras.layers.Average(name="seed_average")(outs)]
    if isinstance(start, _ADDED_STARTS):
        parts.append(_start_output(start, inp))
    if second:
        outs = [m(inp) for m in second]
        avg = outs[0] if len(outs) == 1 else keras.layers.Average(name="triple_average")(outs)
        parts.append(avg)
    out = keras.layers.Add(name="start_plus_convolutions")(parts)
    return keras.Model(inp, out, name=name)


def _has_linear_path(config: TrainConfig, input_shape, head: str, n_outputs: int) -> bool:
    if head != "regression" or config.linear_init == "zeros":
        return False
    if callable(config.model):
        model = _build(config, input_shape, head, n_outputs, "probe")
        names = {layer.name for layer in model.layers}
        return {"linear", "output"} <= names
    from snpcnn.models import load_architecture

    return "linear" in load_architecture(config.model)


def _linear_spec(config: TrainConfig) -> dict[str, Any]:
    if callable(config.model):
        return {}
    from snpcnn.models import load_architecture

    return dict(load_architecture(config.model).get("linear", {}))


def _has_dominance(config: TrainConfig) -> bool:
    return bool(_linear_spec(config).get("dominance"))


def ridge_penalty(config: TrainConfig) -> str:
    """How the model's ridge start picks its penalty: ``"loo"`` or ``"reml"`` (``[linear]
    penalty`` of the architecture; ``"reml"`` makes the start GBLUP's prediction)."""
    return str(_linear_spec(config).get("penalty", "loo"))


def starts_at_gblup(config: TrainConfig, input_shape, head: str, n_outputs: int) -> bool:
    """True if the model starts at a REML ridge: its fixed effects should then be fitted by
    GLS in the same model (:meth:`snpcnn.cv.TargetTransform.fit` with ``x``)."""
    return (
        config.linear_init in ("ridge", "ridge_loo")
        and ridge_penalty(config) == "reml"
        and _has_linear_path(config, input_shape, head, n_outputs)
    )


#: weights of the dominance block tried by the ridge start (leave-one-out picks one)
DOMINANCE_WEIGHTS = (0.0, 0.5, 1.0)


def _fit_ridge(
    x: np.ndarray,
    y: np.ndarray,
    dominance: bool = False,
    penalty: str = "loo",
    alphas: Sequence[float] | None = None,
) -> _RidgeStart:
    """Ridge per output column on the rows where that column is observed.

    ``penalty`` is :class:`~snpcnn.baselines.RidgeRegression`'s (``"loo"`` or ``"reml"``);
    ``alphas`` (one per output) fixes the penalty instead, e.g. the REML penalty of a joint
    fit with covariates (:meth:`snpcnn.cv.TargetTransform.fit`).

    ``shift`` is filled for the ``"ridge_loo"`` start; the ``"ridge"`` start ignores it.
    With ``dominance`` the squared inputs (centred, scaled to unit SD on these rows) enter
    as a second block, weighted by the factor in :data:`DOMINANCE_WEIGHTS` with the
    smallest leave-one-out error summed over outputs (relative to each output's
    variance); weight 0 is exactly the additive ridge.
    """
    from snpcnn.baselines import RidgeRegression

    if not dominance and start_is_large(x):  # many rows: CG, no n x n matrix
        return fit_ridge_large(x, y, penalty, alphas)
    if not isinstance(x, np.ndarray):  # streamed rows: the same fit from column-block passes
        from snpcnn.datapath import fit_ridge_streamed

        return fit_ridge_streamed(x, y, dominance, penalty, alphas)
    x2 = x.reshape(len(x), -1).astype(np.float64)
    n_out = y.shape[1]
    m = x2.shape[1]
    dom_mean = dom_sd = None
    weights = (0.0,)
    if dominance:
        sq = x2 * x2
        dom_mean = sq.mean(axis=0)
        dom_sd = sq.std(axis=0)
        del sq
        weights = DOMINANCE_WEIGHTS
    best = None
    for w in weights:
        if w > 0:
            ok_sd = dom_sd > 1e-12
            scale = np.where(ok_sd, w / np.where(ok_sd, dom_sd, 1.0), 0.0)
            feats = np.hstack([x2, (x2 * x2 - dom_mean) * scale])
        else:
            scale = None if dom_mean is None else np.zeros(m)
            feats = x2
        coef = np.zeros((feats.shape[1], n_out))
        bias = np.zeros(n_out)
        shift = np.zeros(y.shape, dtype=np.float32)
        score = 0.0
        for j in range(n_out):
            ok = ~np.isnan(y[:, j])
            yj = y[ok, j].astype(np.float64)
            if alphas is not None and w == 0:
                ridge = RidgeRegression(alphas=[float(alphas[j])]).fit(feats[ok], yj)
            else:
                ridge = RidgeRegression(penalty=penalty).fit(feats[ok], yj)
            coef[:, j] = ridge.coef_
            bias[j] = ridge.beta_[0]
            resid = yj - ridge.predict(feats[ok])
            shift[ok, j] = ridge.loo_residuals_ - resid
            score += float(np.mean(ridge.loo_residuals_**2)) / max(float(np.var(yj)), 1e-12)
        if best is None or score < best[0] - 1e-12:
            best = (score, w, coef, bias, shift, scale)
    _, w, coef, bias, shift, scale = best
    if dominance and coef.shape[0] == m:  # weight 0: the dominance block predicts nothing
        coef = np.vstack([coef, np.zeros((m, n_out))])
    return _RidgeStart(
        coef.astype(np.float32),
        bias.astype(np.float32),
        shift,
        dom_mean=dom_mean,
        dom_scale=scale,
        dom_weight=float(w),
    )


class _KeepLinearWeights:
    """Optimizer constraint: the output layer's weights on the linear scores stay at 1."""

    def __init__(self, n_out: int):
        self.n_out = n_out

    def __call__(self, w):
        import keras

        eye = keras.ops.eye(self.n_out, dtype=w.dtype)
        return keras.ops.concatenate([w[: -self.n_out], eye], axis=0)


def _apply_ridge_start(model, start: _RidgeStart, hold: bool) -> None:
    """Start a wide & deep regression model at the ridge fit ``start``.

    The ``linear`` layer gets the ridge marker effects and is frozen; the ``output``
    layer starts with weight 1 on the linear score (held there during training if
    ``hold``), 0 on the convolutional features and the ridge intercept as bias, so the model
    starts at exactly the ridge prediction and the convolutions learn the residual.
    """
    lin = model.get_layer("linear")
    out = model.get_layer("output")
    n_out = start.coef.shape[1]
    if start.dom_mean is not None:
        model.get_layer("dominance").set_stats(start.dom_mean, start.dom_scale)
    lin.set_weights([start.coef])
    lin.trainable = False
    w, b = out.get_weights()
    w[:] = 0.0
    w[-n_out:, :] = np.eye(n_out, dtype=w.dtype)  # the linear scores are concatenated last
    b[:] = start.bias
    out.set_weights([w, b])
    if hold:
        out.kernel.constraint = _KeepLinearWeights(n_out)


def _fit_one(
    config: TrainConfig,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    head: str,
    seed: int,
    lr: float,
    on_epoch: Callable[[], None] | None,
    epochs: int | None = None,
    name: str = "cnn",
    n_outputs: int | None = None,
    ridge: _RidgeStart | None = None,
):
    import keras

    from snpcnn.models import compile_model

    with seeded(seed):
        model = _build(config, x_tr.shape[1:], head, n_outputs or y_tr.shape[1], name)
        ridge_start = ridge is not None
        if ridge_start:
            _apply_ridge_start(model, ridge, hold=config.linear_init == "ridge_loo")
        compile_model(model, head, learning_rate=lr, jit_compile=config.jit_compile)
        start_weights = model.get_weights() if ridge_start else None
        start_val_loss = None
        start_val_pred = None
        if ridge_start and x_val is not None and len(x_val):
            start_val_loss = float(
                trainer(model, x_val).evaluate(
                    model_input(x_val), y_val, verbose=0, return_dict=True
                )["loss"]
            )
            if config.conv_gate > 0:
                start_val_pred = np.asarray(predict_rows(model, x_val, 256))
        callbacks = []
        if x_val is not None and len(x_val) and config.patience > 0:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=config.patience,
                    restore_best_weights=True,
                    start_from_epoch=0,
                )
            )
        if on_epoch is not None:
            callbacks.append(_EpochCallback(on_epoch))
        n_epochs = config.epochs if epochs is None else epochs
        history: dict[str, list[float]] = {}
        if n_epochs > 0:
            hist = trainer(model, x_tr).fit(
                model_input(x_tr),
                y_tr,
                validation_data=(model_input(x_val), y_val)
                if x_val is not None and len(x_val)
                else None,
                epochs=n_epochs,
                batch_size=config.batch_size,
                shuffle=True,
                verbose=0,
                callbacks=callbacks,
            )
            history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        if ridge_start:
            model.get_layer("output").kernel.constraint = None
    if "val_loss" in history and history["val_loss"]:
        vl = np.asarray(history["val_loss"], dtype=np.float64)
        vl = np.where(np.isfinite(vl), vl, np.inf)
        best = int(np.argmin(vl)) + 1
        if start_val_loss is not None and start_val_loss <= vl.min():
            # the convolutions never beat the ridge start on the inner validation split
            model.set_weights(start_weights)
            best = 0
        elif start_val_pred is not None and config.conv_gate > 0:
            pred = np.asarray(predict_rows(model, x_val, 256))
            p = _improvement_p(y_val, start_val_pred, pred)
            if not p < config.conv_gate:
                log.info("convolutions' validation gain not significant (p=%.3g); kept ridge", p)
                model.set_weights(start_weights)
                best = 0
    else:
        best = len(history.get("loss", [])) if epochs is None else n_epochs
    return model, history, best


def _improvement_p(y: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
    """One-sided paired t-test p-value that ``after`` has smaller squared errors."""
    from scipy import stats

    ok = ~np.isnan(y)
    d = ((y - before) ** 2 - (y - after) ** 2)[ok].astype(np.float64)
    if len(d) < 3:
        return 1.0
    sd = float(np.std(d, ddof=1))
    if sd == 0:
        return 0.0 if d.mean() > 0 else 1.0
    t = float(d.mean()) / (sd / np.sqrt(len(d)))
    return float(stats.t.sf(t, len(d) - 1))


def _average(models: list, input_shape) -> Any:
    if len(models) == 1:
        return models[0]
    import keras

    inp = keras.Input(shape=input_shape, name="genotypes")
    outs = []
    for m in models:
        outs.append(m(inp))
    out = keras.layers.Average(name="seed_average")(outs)
    return keras.Model(inp, out, name="seed_ensemble")


def _pearson(y: np.ndarray, p: np.ndarray) -> float:
    ok = ~np.isnan(y)
    # np.ptp, not np.std: the float32 std of equal values is 6e-8, not 0, and corrcoef then
    # printed numpy's 'invalid value encountered in divide' (a checking helper, session 46)
    if ok.sum() < 3 or is_collapsed(p[ok], rtol=TRAIN_COLLAPSE_RTOL) or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(y[ok], p[ok])[0, 1])


def _pair_product(a: np.ndarray, b: np.ndarray, own: bool) -> np.ndarray:
    """The screen's pair features of the columns ``a`` and ``b``: their centred product, or
    with ``own`` (a SNP with itself) a SNP's square minus its projection on the dosage, the
    dominance deviation, orthogonal to the additive effect (for three genotypes the two span
    every function of the genotype)."""
    m = a * b
    m -= m.mean(axis=0)
    if own:
        zc = a - a.mean(axis=0)
        vz = (zc * zc).mean(axis=0)
        m -= zc * ((m * zc).mean(axis=0) / np.where(vz > 0, vz, 1.0))
    return m


def _pair_scores(zo: np.ndarray, t: np.ndarray, a0: int, a1: int, d: int) -> np.ndarray:
    """Correlations of the target ``t`` with the pair features of columns ``a0:a1`` of the
    standardised block ``zo`` and their partners ``d`` columns on (shared by the in-memory
    and the streamed screen, so both compute the same float32 numbers)."""
    m = _pair_product(zo[:, a0:a1], zo[:, a0 + d : a1 + d], d == 0)
    msd = m.std(axis=0)
    return (t @ m) / len(t) / np.where(msd > 0, msd, np.inf)


#: bytes of one float32 column chunk of the screen (rows x chunk), above which the chunk narrows
#: (the size of snpcnn.datapath.BLOCK_BYTES: a few such temporaries live at once)
SCREEN_CHUNK_BYTES = 64 * 1024**2


def screen_chunk(n: int) -> int:
    """Columns per chunk of the screen's pair scores for ``n`` rows: 4,096 up to 4,096 rows
    (every published accuracy run), then narrower (a multiple of 256, at least 256), so that each of
    the few n x chunk float32 temporaries stays near :data:`SCREEN_CHUNK_BYTES`.  The scores
    are per column, so the chunk changes memory, not the windows picked; the in-memory and the
    streamed screen use the same chunks."""
    if 4 * max(n, 1) * 4096 <= SCREEN_CHUNK_BYTES:
        return 4096
    return int(max(256, SCREEN_CHUNK_BYTES // (4 * n) // 256 * 256))


def screen_windows(
    x: np.ndarray,
    r: np.ndarray,
    n_windows: int,
    width: int,
    triples: bool = False,
    info: dict | None = None,
) -> np.ndarray:
    """Starts of the ``n_windows`` windows of ``width`` SNPs that the convolutions will see.

    Every pair of SNPs ``(j, j + d)`` with ``0 <= d < width`` is scored by the absolute
    correlation of the product of their standardised dosages with the target ``r`` (the
    residual of the linear start); for ``d = 0`` the feature is a SNP's square minus its
    projection on the dosage, i.e. its dominance deviation.  Pairs are taken best first; each opens a window of ``width`` SNPs that
    contains it (centred on it where the sequence allows), unless both SNPs already lie in
    a chosen window.  Only the rows given enter (call it with training rows).  With several
    outputs the squared correlations are summed.  Returns sorted start indices.

    With ``triples`` (``[screen] triples``) every triple of SNPs inside a window's span is a
    candidate too (:func:`triple_candidates`); where none is significant the starts are
    those without ``triples``, bit for bit.  ``info`` receives ``triple_significant`` and
    ``triple_windows``.  With ``triples = "only"`` the windows hold the best triples alone
    (:func:`_triple_sets`; a ``[triple_stage]`` network).  Streamed rows take no triples.
    """
    if not isinstance(x, np.ndarray):  # streamed rows: the same scores over column blocks
        from snpcnn.datapath import screen_windows_streamed

        return screen_windows_streamed(x, r, n_windows, width)
    if triples == "only":
        return _triple_sets(x, r, n_windows, width)[:, 0]
    c = x.shape[2] if x.ndim == 3 else 1  # channels per SNP (3 for one-hot genotypes)
    score = _per_snp(screen_scores(x, r, width), c)
    if triples:
        sets = _with_triples(x, r, score, n_windows, width, info)
        if sets is not None:
            return sets[:, 0]
    return _pick_windows(score, n_windows, width)


def screen_scores(x: np.ndarray, r: np.ndarray, width: int) -> np.ndarray:
    """The screen's pair scores (flattened columns x ``min(width, SNPs)``): entry ``(j, d)``
    is the squared correlation of the pair feature of columns ``j`` and ``j + d`` (for
    ``d = 0`` the dominance deviation) with ``r``, summed over ``r``'s columns
    (:func:`screen_windows` picks its windows from them)."""
    c = x.shape[2] if x.ndim == 3 else 1
    z = _standardised(x)
    n, p = z.shape
    width = min(width, p // c)
    score = np.zeros((p, width))
    for ok, t in screen_targets(r, n):
        zo = z if ok.all() else z[ok]  # no copy when every row has the target
        chunk = screen_chunk(n)
        for d in range(width):
            off = d * c  # the same channel of the SNP d on (columns are SNP-major)
            for c0 in range(0, p - off, chunk):  # column chunks: memory O(n x chunk)
                c1 = min(c0 + chunk, p - off)
                corr = _pair_scores(zo, t, c0, c1, off)
                score[c0:c1, d] += corr.astype(np.float64) ** 2
    return score


def screen_targets(r: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The screen's targets: for each column of ``r`` (``n`` rows; NaN = missing) the rows that
    have it and its values there, centred and scaled to unit SD in float32.  Columns with
    fewer than 3 values or no spread are left out (they score no pair)."""
    r = np.asarray(r, dtype=np.float64).reshape(n, -1)
    out = []
    for k in range(r.shape[1]):
        ok = ~np.isnan(r[:, k])
        if ok.sum() < 3:
            continue
        t = r[ok, k] - r[ok, k].mean()
        if not t.std() > 0:
            continue
        out.append((ok, (t / t.std()).astype(np.float32)))
    return out


def _standardised(x: np.ndarray) -> np.ndarray:
    """The screen's input as float32 columns (rows x flattened columns), each centred and
    scaled to unit SD (constant columns: centred only)."""
    x2 = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    z = x2 - x2.mean(axis=0)
    sd = z.std(axis=0)
    z /= np.where(sd > 0, sd, 1.0)
    return z


def _per_snp(score: np.ndarray, channels: int) -> np.ndarray:
    """Pair scores per flattened column (SNP-major) -> per SNP: summed over its channels."""
    if channels == 1:
        return score
    return score.reshape(-1, channels, score.shape[1]).sum(axis=1)


def _pick_windows(score: np.ndarray, n_windows: int, width: int) -> np.ndarray:
    """Sorted starts of ``n_windows`` runs of ``width`` SNPs from the pair scores
    (p x width: every pair fits a run), best first."""
    return _pick_sets(score, n_windows, width)[:, 0]


def _pick_sets(score: np.ndarray, n_windows: int, width: int, lead: bool = False) -> np.ndarray:
    """``n_windows`` windows of ``width`` SNPs (rows sorted) from the pair scores (p x reach,
    entry ``(j, d)`` for the pair ``(j, j + d)``), best pair first (:func:`_pick_from`)."""
    p, reach = score.shape
    order = np.argsort(-score, axis=None, kind="stable")
    j, d = np.divmod(order, reach)
    return _pick_from(j, d, p, n_windows, width, lead)


def _pick_from(
    js: np.ndarray, ds: np.ndarray, p: int, n_windows: int, width: int, lead: bool = False
) -> np.ndarray:
    """``n_windows`` windows of ``width`` SNPs (rows sorted) from the pairs ``(js[i], js[i] +
    ds[i])``, taken in the order given (best first).  A pair less than ``width`` apart opens
    the run of ``width`` SNPs around it (centred where the sequence allows), unless both SNPs
    already lie in chosen windows; a pair further apart gets the SNPs ``j .. j + width//2 -
    1`` and the run of ``width - width//2`` SNPs that ends at its second SNP, unless one
    chosen window already holds both.  Fewer usable pairs than windows (tiny inputs): the
    rest repeat the best window.

    With ``lead`` (``[screen] pairs = "lead"``) each window lists the pair that opened it
    first, ``j, j + d``, then its other SNPs in order (a SNP's own dominance, ``d = 0``: the
    SNP first), so a convolution with kernel = stride = ``width`` sees every window's pair at
    the same two positions (:func:`_polarise`)."""
    picker = _Windows(p, n_windows, width, lead)
    for j, d in zip(js.tolist(), ds.tolist()):
        if picker.add(j, d) and picker.full:
            break
    return picker.sets()


class _Windows:
    """The windows of :func:`_pick_from`, one pair at a time: :meth:`add` opens the window of
    the pair ``(j, j + d)`` unless the rules of :func:`_pick_from` skip it (shared by the plain
    pick and the conditional one, :func:`_pick_conditional`)."""

    def __init__(self, p: int, n_windows: int, width: int, lead: bool):
        self.p, self.n_windows, self.width, self.lead = p, n_windows, width, lead
        self.covered = np.zeros(p, dtype=bool)
        self.wins: list[np.ndarray] = []
        self.members: list[set] = []

    @property
    def full(self) -> bool:
        return len(self.wins) >= self.n_windows

    def add(self, j: int, d: int) -> bool:
        """Open the window of the pair ``(j, j + d)``; False where the rules skip it."""
        p, width = self.p, self.width
        if j + d >= p:
            return False
        if d < width:
            if self.covered[j] and self.covered[j + d]:
                return False
            s = min(max(0, j - (width - 1 - d) // 2), p - width)
            win = np.arange(s, s + width)
        else:
            if any(j in m and j + d in m for m in self.members):
                return False
            h = width // 2
            win = np.concatenate(
                [np.arange(j, j + h), np.arange(j + d - (width - h) + 1, j + d + 1)]
            )
        if self.lead:
            head = [j] if d == 0 else [j, j + d]
            win = np.asarray(head + [i for i in win.tolist() if i not in head])
        self.wins.append(win)
        self.members.append(set(win.tolist()))
        self.covered[win] = True
        return True

    def repeat(self) -> None:
        """Fill the windows still open with those opened so far, in turn (none: unchanged)."""
        k = len(self.wins)
        for i in range(self.n_windows - k if k else 0):
            self.wins.append(self.wins[i % k])
            self.members.append(self.members[i % k])

    def sets(self) -> np.ndarray:
        """The windows (``n_windows x width``, rows sorted); fewer usable pairs than windows:
        the rest repeat the best window."""
        wins = self.wins or [np.arange(self.width)]
        wins = wins + [wins[0]] * (self.n_windows - len(wins))
        out = np.stack(wins).astype(np.int64)
        return out[np.lexsort(out.T[::-1])]


#: ``[screen] conditional``: the best-ranked candidate pairs re-scored at each pick (at most
#: this many; fewer where their features would take more than :data:`CONDITIONAL_BYTES`)
CONDITIONAL_CANDIDATES = 2000

#: bytes of the conditional pick's float64 pair features (rows x candidates x channels, one
#: copy on every row and one per target with missing rows): fewer candidates where more
CONDITIONAL_BYTES = 128 * 1024**2


def _pair_feature(z: np.ndarray, j: int, d: int, c: int) -> np.ndarray:
    """The screen's pair features of the pair ``(j, j + d)`` (rows x ``c`` channels) on the
    standardised block ``z`` (flattened SNP-major columns), as :func:`_pair_scores` scores
    them: the centred product, for ``d = 0`` the dominance deviation."""
    a = z[:, j * c : (j + 1) * c].astype(np.float64)
    b = z[:, (j + d) * c : (j + d + 1) * c].astype(np.float64)
    return _pair_product(a, b, d == 0)


def _conditional_sets(
    x,
    r,
    score,
    n_windows: int,
    width: int,
    lead: bool,
    alpha: float = 0.0,
    info=None,
    fill: str = "marginal",
) -> np.ndarray:
    """:func:`_pick_conditional` on the candidates of :func:`_pick_sets`, in two families
    where the screen reaches further than a window (``map_reach``, ``ld_reach``): the pairs
    that fit a window (``d < width``) and those further apart, each pair's key carrying the
    log of its family's number of pairs (Bonferroni per family, as the far pairs of
    ``all_pairs`` have had since v9), so that a pair 5-15 SNPs apart needs a stronger score
    than one inside a window, in proportion to how many more such pairs were screened
    (``alpha``, ``info``, ``fill``: :func:`_pick_conditional`)."""
    p, reach = score.shape
    order = np.argsort(-score, axis=None, kind="stable")
    j, d = np.divmod(order, reach)
    offsets = _family_offsets(j, d, p, width)
    return _pick_conditional(x, r, j, d, offsets, n_windows, width, lead, alpha, info, fill)


def _family_offsets(j: np.ndarray, d: np.ndarray, p: int, width: int) -> np.ndarray:
    """Per candidate pair ``(j, j + d)`` the log of its family's number of usable pairs:
    those that fit a window (``d < width``) and those further apart."""
    usable = j + d < p
    near = d < width
    return np.where(
        near,
        np.log(max(int((usable & near).sum()), 1)),
        np.log(max(int((usable & ~near).sum()), 1)),
    )


def _pick_conditional(
    x: np.ndarray,
    r: np.ndarray,
    js: np.ndarray,
    ds: np.ndarray,
    offsets: np.ndarray,
    n_windows: int,
    width: int,
    lead: bool = False,
    alpha: float = 0.0,
    info: dict | None = None,
    fill: str = "marginal",
) -> np.ndarray:
    """The windows of :func:`_pick_from` from the candidate pairs ``(js[i], js[i] + ds[i])``
    (best first), each pick made on what the pairs already picked leave unexplained
    (``[screen] conditional``): forward selection of pair features.

    The best-ranked candidates (:data:`CONDITIONAL_CANDIDATES`) are re-scored before every
    pick: the squared correlation of the part of each candidate's pair feature that the
    picked pairs' features do not explain with the part of the targets that they do not
    explain (per target column and channel, summed), as a chi-square tail on the fewest
    rows of any target plus the candidate's ``offsets`` entry (the log of its family's
    Bonferroni count).  The best candidate whose window the rules of
    :func:`_pick_from` allow opens it, and its features join the picked ones.  A pair in
    LD with a strong one already picked scores only what it adds, so the neighbours of one
    strong pair no longer take the windows that weaker pairs elsewhere need (v15's screen
    on a map gave 15 of its 32 windows to the neighbours of one pair).  Where the
    candidates run out, the rest of the order is taken as :func:`_pick_from` takes it.

    With ``alpha`` > 0 (``[screen] conditional_alpha``) forward selection stops at the first
    pick whose key is above ``log(alpha)`` (no candidate left significant at that level
    after Bonferroni in its family, given the pairs picked), and the windows still open are
    filled, not with pairs that explain nothing once the picked ones are known (v18 on
    pairs 1-40 SNPs apart filled 27 of its 32 windows with pairs near no causal pair; v17
    9): with ``fill = "marginal"`` from the whole order as :func:`_pick_from` fills them (on
    the pairs' marginal scores, so they go to the LD neighbours of the strong pairs, as in
    v17); with ``fill = "repeat"`` (``[screen] conditional_fill``) with the windows forward
    selection opened, in turn (where it opened none, as "marginal": the plain windows).
    With ``alpha`` the keys are scored against the targets' rank-based normal scores
    (:func:`normal_scores`, as the far pairs' gate), so that the stop holds its level
    (Bonferroni per family: about ``alpha`` times the number of families overall) where
    residuals have heavy tails.  ``info`` (a dict) receives ``conditional_windows``, the
    windows opened by forward selection."""
    from scipy import stats

    c = x.shape[2] if x.ndim == 3 else 1
    p = x.shape[1] if x.ndim == 3 else x.shape[1] // c
    z = _standardised(x)
    n = len(z)
    # with a stop at alpha, the keys are p-values that must hold their level: scored against
    # the targets' normal scores, as the far pairs' gate (on heavy-tailed residuals and rare
    # SNPs, raw residuals let forward selection open a window on data without signal in 17
    # of 20 null fits, normal scores in 1 of 20: a checking helper, session 53)
    targets = screen_targets(normal_scores(r, n) if alpha > 0 else r, n)
    picker = _Windows(p, n_windows, width, lead)
    ok_pairs = js + ds < p
    js, ds, offsets = js[ok_pairs], ds[ok_pairs], np.asarray(offsets, float)[ok_pairs]
    # the features: one copy on every row, one per target with missing rows (re-centred there)
    copies = 1 + sum(not ok.all() for ok, _ in targets)
    m = min(len(js), CONDITIONAL_CANDIDATES, CONDITIONAL_BYTES // (8 * max(n, 1) * c * copies))
    if not targets or m <= 0:
        if info is not None and alpha > 0:
            info["conditional_windows"] = 0
        return _pick_from(js, ds, p, n_windows, width, lead)
    m = int(m)
    feats = np.stack([_pair_feature(z, j, d, c) for j, d in zip(js[:m], ds[:m])], axis=1)
    state = []  # per target: rows, features there, residual target, basis, feature norms
    for ok, t in targets:
        f = feats if ok.all() else feats[ok] - feats[ok].mean(axis=0)
        f = f.reshape(len(f), -1)  # rows x (candidates x channels)
        state.append([ok, f, t.astype(np.float64), [], np.einsum("ij,ij->j", f, f)])
    n_rows = min(len(t) for _, t in targets)
    df = len(targets) * c

    def keys() -> np.ndarray:  # every candidate's key on what the picked pairs leave
        score = np.zeros(m)
        for _, f, t, _, norm in state:
            num = t @ f
            tt = float(t @ t)
            good = norm > 1e-9 * len(f)
            part = np.where(good, num * num / np.where(good, norm, 1.0), 0.0) / max(tt, 1e-300)
            score += part.reshape(m, c).sum(axis=1)
        return stats.chi2.logsf(n_rows * score, df) + offsets[:m]

    alive = np.ones(m, dtype=bool)
    key = None
    stopped = False  # forward selection stopped at alpha (else: candidates or windows ran out)
    while not picker.full and alive.any():
        if key is None:  # after a pick (a candidate the window rules skip changes nothing)
            key = keys()
            key[~alive] = np.inf
        i = int(np.argmin(key))
        if alpha > 0 and not key[i] <= np.log(alpha):  # nothing significant left
            stopped = True
            break
        alive[i] = False
        key[i] = np.inf
        if not picker.add(int(js[i]), int(ds[i])):
            continue
        key = None
        for entry in state:  # the picked pair's features join the basis of each target
            _, f, t, basis, norm = entry
            for ch in range(c):
                v = f[:, i * c + ch].copy()
                for q in basis:
                    v -= (q @ v) * q
                size = float(np.linalg.norm(v))
                if size <= 1e-6 * np.sqrt(len(v)):
                    continue
                q = v / size
                basis.append(q)
                entry[2] = t = t - (q @ t) * q
                norm -= (q @ f) ** 2
    if info is not None and alpha > 0:
        info["conditional_windows"] = len(picker.wins)
    if stopped and fill == "repeat":
        picker.repeat()
    # the plain order fills what is left: from its start where forward selection stopped (the
    # marginal fill), else after the candidates it tried
    rest = 0 if stopped else m
    for j, d in zip(js[rest:].tolist(), ds[rest:].tolist()):
        if picker.full:
            break
        picker.add(j, d)
    return picker.sets()


#: columns per block of the all-pairs screen (a few p x block float32 products live at once)
ALL_PAIRS_BLOCK = 1024


def far_pair_scores(
    x: np.ndarray, r: np.ndarray, reach: int, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The screen's score of every pair of SNPs at least ``reach`` columns apart, by three
    matrix products per column block instead of one product feature per pair: for
    standardised columns ``z_i``, ``z_j`` and the standardised target ``t``, the pair
    feature ``z_i z_j`` has covariance ``mean(t z_i z_j)`` with ``t`` and variance
    ``mean(z_i^2 z_j^2) - mean(z_i z_j)^2``; the score is the squared correlation (summed
    over ``r``'s columns and the input's channels), as in :func:`screen_scores`.

    Returns ``(j, d, score, n_pairs)`` for the ``keep`` best pairs (sorted by ``j``, then
    ``d``; ``d >= reach``) and the number of pairs scored."""
    c = x.shape[2] if x.ndim == 3 else 1
    z = _standardised(x)
    n = len(z)
    p = z.shape[1] // c
    targets = screen_targets(r, n)
    best_j = np.zeros(0, dtype=np.int64)
    best_d = np.zeros(0, dtype=np.int64)
    best_s = np.zeros(0)
    n_pairs = max(0, (p - reach) * (p - reach + 1) // 2)
    for a0 in range(0, max(p - reach, 0), ALL_PAIRS_BLOCK):
        a1 = min(a0 + ALL_PAIRS_BLOCK, p - reach)
        b0 = a0 + reach  # partners of the block's SNPs: columns b0 .. p - 1
        block = np.zeros((a1 - a0, p - b0))
        for ok, t in targets:
            zo = z if ok.all() else z[ok]
            for ch in range(c):
                za = zo[:, a0 * c + ch : a1 * c : c]
                zb = zo[:, b0 * c + ch :: c]
                m = len(t)
                # cov^2 / var where var > 1e-6, else 0: in place, the values of
                # np.where(var > 1e-6, cov * cov / var, 0) without its temporaries
                cov = (za * t[:, None]).T @ zb
                cov /= m
                mean = za.T @ zb
                mean /= m
                var = (za * za).T @ (zb * zb)
                var /= m
                mean *= mean
                var -= mean
                flat_var = ~(var > 1e-6)
                var[flat_var] = 1.0
                cov *= cov
                cov /= var
                cov[flat_var] = 0.0
                block += cov
        # pairs closer than reach are the dense screen's: column k of row i is the pair
        # (a0 + i, a0 + reach + k), closer than reach where k < i (the block's lower triangle)
        lower = min(a1 - a0, p - b0)
        block[:lower, :lower][np.tri(lower, k=-1, dtype=bool)] = -np.inf
        flat = np.negative(block.reshape(-1), out=block.reshape(-1))  # in place: -score
        take = min(keep, flat.size)
        top = np.argpartition(flat, take - 1)[:take] if take < flat.size else np.arange(flat.size)
        top = top[np.isfinite(flat[top])]
        rows, cols = np.divmod(top, p - b0)
        js = a0 + rows
        best_j = np.concatenate([best_j, js])
        best_d = np.concatenate([best_d, b0 + cols - js])
        best_s = np.concatenate([best_s, -flat[top]])
        if len(best_s) > keep:
            sel = np.argsort(-best_s, kind="stable")[:keep]
            best_j, best_d, best_s = best_j[sel], best_d[sel], best_s[sel]
    o = np.lexsort((best_d, best_j))
    return best_j[o], best_d[o], best_s[o], n_pairs


def screen_window_sets(
    x: np.ndarray,
    r: np.ndarray,
    n_windows: int,
    width: int,
    reach: int,
    all_pairs: bool = False,
    info: dict | None = None,
    triples: bool = False,
    lead: bool = False,
    conditional: bool = False,
    conditional_alpha: float = 0.0,
    conditional_fill: str = "marginal",
) -> np.ndarray:
    """The SNPs of ``n_windows`` windows of ``width`` SNPs (``n_windows x width`` column
    indices of ``x``, rows sorted), from pairs up to ``reach - 1`` columns apart, scored as in
    :func:`screen_windows` and picked by :func:`_pick_sets`: with ``reach = width`` the runs
    that :func:`screen_windows` starts.  Used in an LD order of the SNPs (``[screen]
    ld_reach``), where SNPs that interact on the map can be more than a window apart.

    With ``all_pairs`` every pair of SNPs is a candidate (``[screen] all_pairs``): pairs
    ``reach`` or more columns apart are scored by :func:`far_pair_scores`, and those
    significant at :data:`FAR_PAIR_ALPHA` after a Bonferroni correction over every far pair
    (chi-square tail of ``rows x score``, scored against the targets' :func:`normal_scores`)
    are ranked with the near ones by Bonferroni-adjusted
    p-value (each family's p-value times its number of pairs).  Where no far pair is
    significant the windows are those without ``all_pairs``, bit for bit.  ``info`` (a dict)
    receives ``far_significant`` (far pairs that passed) and ``far_windows`` (windows that
    hold both SNPs of such a pair).  With ``triples`` the triples inside a window's span
    compete too (:func:`triple_candidates`; windows unchanged where none is significant).
    With ``lead`` each window lists its pair first (:func:`_pick_from`).  With
    ``conditional`` (``[screen] conditional``) the pairs are picked by forward selection on
    what the pairs already picked leave unexplained (:func:`_pick_conditional`), in the same
    families and with the same gate for far pairs; not where a triple takes part; with
    ``conditional_alpha`` (``[screen] conditional_alpha``) only while a candidate is
    significant at that level, the rest filled as ``conditional_fill`` says (``info``
    receives ``conditional_windows``, the windows forward selection opened)."""
    if triples == "only":
        return _triple_sets(x, r, n_windows, width)
    c = x.shape[2] if x.ndim == 3 else 1
    p = x.shape[1] if x.ndim == 3 else x.shape[1] // c
    width = min(width, p)
    reach = max(min(reach, p), width)
    score = _per_snp(screen_scores(x, r, reach), c)
    if not all_pairs or reach >= p:
        if triples:
            sets = _with_triples(x, r, score, n_windows, width, info, lead)
            if sets is not None:
                return sets
        if conditional:
            return _conditional_sets(
                x, r, score, n_windows, width, lead, conditional_alpha, info, conditional_fill
            )
        return _pick_sets(score, n_windows, width, lead)
    from scipy import stats

    # the far pairs are scored against the targets' normal scores: with a Gaussian target the
    # statistic rows x score is chi-square whatever the pair feature's distribution, so the
    # Bonferroni gate holds its level where residuals have heavy tails and the product of
    # two rare genotypes is a rare indicator (on wheat GY_E3's GBLUP residuals, raw residuals
    # let a far pair through in 40 of 100 permutations, normal scores in 1 of 100)
    fj, fd, fs, n_far = far_pair_scores(x, normal_scores(r, len(x)), reach, keep=n_windows)
    # the chi-square statistic of a score is rows x score, with one degree of freedom per
    # target column and channel; where a target is missing on some rows, the fewest rows of
    # any target (conservative: a target's squared correlation counts with no more rows than
    # it was measured on)
    targets = screen_targets(r, len(x))
    n_rows = min((len(t) for _, t in targets), default=len(x))
    df = max(1, len(targets)) * c
    far_key = stats.chi2.logsf(n_rows * fs, df) + np.log(max(n_far, 1))
    good = far_key < np.log(FAR_PAIR_ALPHA)
    if info is not None:
        info.update(far_significant=int(good.sum()), far_windows=0)
    tj, td, tkey = _significant_triples(x, r, width, info) if triples else (None, None, None)
    if not good.any():
        if tj is not None and len(tj):
            return _merged_sets(score, n_windows, width, [(tj, td, tkey)], n_rows, df, info, lead)
        if conditional:
            return _conditional_sets(
                x, r, score, n_windows, width, lead, conditional_alpha, info, conditional_fill
            )
        return _pick_sets(score, n_windows, width, lead)
    near_j, near_d = np.divmod(np.arange(score.size), reach)
    usable = near_j + near_d < p
    near_key = stats.chi2.logsf(n_rows * score.reshape(-1), df) + np.log(int(usable.sum()))
    key = np.concatenate([np.where(usable, near_key, np.inf), far_key[good]])
    js = np.concatenate([near_j, fj[good]])
    ds = np.concatenate([near_d, fd[good]])
    if tj is not None and len(tj):
        key = np.concatenate([key, tkey])
        js = np.concatenate([js, tj])
        ds = np.concatenate([ds, td])
    order = np.argsort(key, kind="stable")
    if conditional and not (tj is not None and len(tj)):
        # each family's Bonferroni count: the near pairs in two families, as in
        # _conditional_sets; far pairs (only those past their gate are candidates) a third
        fam = np.concatenate(
            [
                _family_offsets(near_j, near_d, p, width),
                np.full(int(good.sum()), np.log(max(n_far, 1))),
            ]
        )
        sets = _pick_conditional(
            x,
            r,
            js[order],
            ds[order],
            fam[order],
            n_windows,
            width,
            lead,
            conditional_alpha,
            info,
            conditional_fill,
        )
    else:
        sets = _pick_from(js[order], ds[order], p, n_windows, width, lead)
    if info is not None:
        # windows that hold both SNPs of a significant far pair (counted per window: a pair
        # in LD with the one a window opened on counted twice before, session 49; a window
        # repeated by conditional_fill = "repeat" counted once, session 53)
        rows = [set(w) for w in dict.fromkeys(map(tuple, sets.tolist()))]
        far_pairs = list(zip(fj[good].tolist(), fd[good].tolist()))
        info["far_windows"] = sum(any(a in w and a + b in w for a, b in far_pairs) for w in rows)
        if tj is not None and len(tj):
            info["triple_windows"] = sum(
                any(a in w and a + b in w for w in rows) for a, b in zip(tj.tolist(), td.tolist())
            )
    return sets


def normal_scores(r: np.ndarray, n: int) -> np.ndarray:
    """Each column of ``r`` (``n`` rows; NaN = missing, kept) replaced by its rank-based
    normal scores over the rows that have it: ``Phi^-1((rank - 0.5) / rows)``, ties sharing
    their mean rank (the rank-based inverse normal transform)."""
    from scipy import stats

    r = np.asarray(r, dtype=np.float64).reshape(n, -1)
    out = np.full(r.shape, np.nan)
    for k in range(r.shape[1]):
        ok = ~np.isnan(r[:, k])
        if ok.any():
            out[ok, k] = stats.norm.ppf((stats.rankdata(r[ok, k]) - 0.5) / int(ok.sum()))
    return out


#: family-wise level at which a pair beyond ``ld_reach`` may take a window (``[screen]
#: all_pairs``; Bonferroni over every such pair)
FAR_PAIR_ALPHA = 0.05

#: family-wise level at which a triple of SNPs may take a window (``[screen] triples``;
#: Bonferroni over every triple scored)
TRIPLE_ALPHA = 0.05


def triple_candidates(
    x: np.ndarray, r: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Score every triple of SNPs ``(j, j + a, j + b)``, ``0 < a < b < width`` (three SNPs
    that fit one window): the squared correlation of the centred product of their
    standardised values (the same channel of each SNP) with the targets' rank-based normal
    scores (:func:`normal_scores`, as the far pairs: the product of three dosages has
    heavy tails), summed over the targets and channels.

    Returns ``(j, b, score, n_triples, n_rows, df, a)``: per SNP ``j`` the best triple's
    span ``b`` and score, the number of triples scored, the rows and degrees of freedom of
    the chi-square statistic ``n_rows x score``, and per SNP the best triple's middle offset
    ``a`` (the triple is ``(j, j + a, j + b)``)."""
    c = x.shape[2] if x.ndim == 3 else 1
    z = _standardised(x)
    n = len(z)
    p = z.shape[1] // c
    targets = screen_targets(normal_scores(r, n), n)
    best = np.full(p, -np.inf)
    span = np.zeros(p, dtype=np.int64)
    mid = np.zeros(p, dtype=np.int64)
    n_triples = 0
    chunk = screen_chunk(n)  # column chunks: memory O(n x chunk), as the pair screen
    for b in range(2, min(width, p)):
        for a in range(1, b):
            s = np.zeros(p - b)
            for ok, t in targets:
                zo = z if ok.all() else z[ok]
                for ch in range(c):
                    for c0 in range(0, p - b, chunk):
                        c1 = min(c0 + chunk, p - b)
                        m = (
                            zo[:, c0 * c + ch : c1 * c : c]
                            * zo[:, (c0 + a) * c + ch : (c1 + a) * c : c]
                            * zo[:, (c0 + b) * c + ch : (c1 + b) * c : c]
                        )
                        m -= m.mean(axis=0)
                        sd = m.std(axis=0)
                        corr = (t @ m) / len(t) / np.where(sd > 1e-3, sd, np.inf)
                        s[c0:c1] += corr.astype(np.float64) ** 2
            n_triples += p - b
            better = s > best[: p - b]
            best[: p - b][better] = s[better]
            span[: p - b][better] = b
            mid[: p - b][better] = a
    ok_rows = [len(t) for _, t in targets]
    return (
        np.arange(p),
        span,
        best,
        n_triples,
        min(ok_rows, default=n),
        max(1, len(targets)) * c,
        mid,
    )


def _triple_sets(x, r, n_windows: int, width: int, lead: bool = False) -> np.ndarray:
    """``n_windows`` windows of ``width`` SNPs (rows sorted) around the best-scoring triples
    (:func:`triple_candidates`), best first: the screen of ``[screen] triples = "only"``.

    With ``lead`` (``[screen] triples = "lead"``) each window is ``width`` SNPs whose first
    three are its triple ``(j, j + a, j + b)`` and the rest the other SNPs of the run around
    it in order, so a convolution with kernel = stride = ``width`` sees every window's triple
    at the same three positions (:func:`_polarise`); windows best first, one per triple
    that is not already inside a chosen window."""
    c = x.shape[2] if x.ndim == 3 else 1
    p = x.shape[1] if x.ndim == 3 else x.shape[1] // c
    width = min(width, p)
    j, b, s, *_, a = triple_candidates(x, r, width)
    fin = np.flatnonzero(np.isfinite(s))
    order = fin[np.argsort(-s[fin], kind="stable")]
    if not lead:
        return _pick_from(j[order], b[order], p, n_windows, width)
    wins: list[list[int]] = []
    for t in order.tolist():
        tri = (int(j[t]), int(j[t] + a[t]), int(j[t] + b[t]))
        if tri[2] >= p or any(set(tri) <= set(w) for w in wins):
            continue
        start = min(max(0, tri[0] - (width - 1 - int(b[t])) // 2), p - width)
        rest = [i for i in range(start, start + width) if i not in tri]
        wins.append(list(tri) + rest)
        if len(wins) == n_windows:
            break
    if not wins:  # tiny inputs
        wins = [list(range(width))]
    wins += [wins[0]] * (n_windows - len(wins))
    return np.asarray(wins, dtype=np.int64)


#: the four sign patterns of the polarisation identity: sum over them of
#: s2 s3 (x1 + s2 x2 + s3 x3)^3 = 24 x1 x2 x3
POLARISATION_SIGNS = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [1, -1, -1]], dtype=np.float64)

#: the same for two SNPs and square filters: (x1 + x2)^2 - (x1 - x2)^2 = 4 x1 x2
PAIR_SIGNS = np.array([[1, 1], [1, -1]], dtype=np.float64)


def _polarise(model, screen, x_windows: np.ndarray, signs: np.ndarray = POLARISATION_SIGNS) -> None:
    """Start the convolution after a ``[screen] triples = "lead"`` screen on the product of
    each window's triple.

    Cube filters ``(w . x)^3`` whose weights on a window's first three SNPs follow the four
    sign patterns of :data:`POLARISATION_SIGNS` span ``x1 x2 x3`` exactly (the polarisation
    identity), so the network starts with every screened triple's product among its features
    and the output layer only has to weight them; randomly initialised cube filters have to
    find that direction in 9 dimensions first, and on 1,000-odd rows they fit noise faster
    (docs/bench/triples.md).  Filter ``f`` takes pattern ``f mod 4`` on channel 0 of the
    first three positions, scaled so that the pre-activation has unit standard deviation on
    ``x_windows`` (the training rows' windows, ``rows x windows x width`` or with a channel
    axis, of which channel 0 counts), plus
    10 % of its random initial weights everywhere (so that filters of the same pattern
    differ).  With ``[screen] polarised = N`` only the first N filters are set so; the
    others keep their random initial weights.

    ``signs = PAIR_SIGNS`` does the same for ``[screen] pairs = "lead"``: square filters on
    each window's first two SNPs, whose two sign patterns span ``x1 x2``."""
    import keras

    conv = next((la for la in model.layers if isinstance(la, keras.layers.Conv1D)), None)
    if conv is None:
        return
    k = np.asarray(keras.ops.convert_to_numpy(conv.kernel), dtype=np.float64)
    width, channels, filters = k.shape
    m = signs.shape[1]
    if width != screen.width or width < m:
        return
    lead = np.asarray(x_windows[:, :, :m], dtype=np.float64)
    if lead.ndim == 4:  # channels: channel 0
        lead = lead[..., 0]
    sums = [lead @ sgn for sgn in signs]
    sd = float(np.median([np.std(v) for v in sums])) or 1.0
    new = 0.1 * k
    n_pol = getattr(screen, "polarised", 0) or filters
    for f in range(filters):
        if f < n_pol:
            new[:m, 0, f] += signs[f % len(signs)] / sd
        else:  # [screen] polarised: the rest keep their random initial values
            new[:, :, f] = k[:, :, f]
    conv.kernel.assign(new.astype(np.float32))


def _significant_triples(x, r, width: int, info: dict | None):
    """The triples significant at :data:`TRIPLE_ALPHA` after Bonferroni over every triple
    scored, as ``(j, span, log p-value x triples)`` (the key by which they compete with the
    pairs); records ``triple_significant`` in ``info``."""
    from scipy import stats

    j, b, s, n_tri, n_rows, df, _ = triple_candidates(x, r, width)
    fin = np.isfinite(s)
    key = np.full(len(s), np.inf)
    key[fin] = stats.chi2.logsf(n_rows * s[fin], df) + np.log(max(n_tri, 1))
    good = key < np.log(TRIPLE_ALPHA)
    if info is not None:
        info.update(triple_significant=int(good.sum()), triple_windows=0)
    return j[good], b[good], key[good]


def _merged_sets(score, n_windows, width, extra, n_rows, df, info, lead=False):
    """Windows from the near pairs' ``score`` (p x reach) and extra candidates ``[(j, d,
    key)]`` ranked together by Bonferroni-adjusted log p-value."""
    from scipy import stats

    p, reach = score.shape
    near_j, near_d = np.divmod(np.arange(score.size), reach)
    usable = near_j + near_d < p
    near_key = stats.chi2.logsf(n_rows * score.reshape(-1), df) + np.log(int(usable.sum()))
    key = np.concatenate([np.where(usable, near_key, np.inf)] + [e[2] for e in extra])
    js = np.concatenate([near_j] + [e[0] for e in extra])
    ds = np.concatenate([near_d] + [e[1] for e in extra])
    order = np.argsort(key, kind="stable")
    sets = _pick_from(js[order], ds[order], p, n_windows, width, lead)
    if info is not None and extra:
        rows = [set(w) for w in sets.tolist()]
        info["triple_windows"] = sum(
            any(a in w and a + b in w for w in rows)
            for a, b in zip(extra[-1][0].tolist(), extra[-1][1].tolist())
        )
    return sets


def _with_triples(x, r, score, n_windows, width, info, lead=False):
    """Windows with the significant triples competing (None where no triple is)."""
    tj, td, tkey = _significant_triples(x, r, width, info)
    if not len(tj):
        return None
    targets = screen_targets(r, len(x))
    n_rows = min((len(t) for _, t in targets), default=len(x))
    c = x.shape[2] if x.ndim == 3 else 1
    df = max(1, len(targets)) * c
    return _merged_sets(score, n_windows, width, [(tj, td, tkey)], n_rows, df, info, lead)


def _screen_layer(model):
    try:
        return model.get_layer("screen")
    except ValueError:
        return None


#: epochs between two out-of-fold checks of the cross-fitted convolutions
CHECK_EVERY = 5


def _scale_correction(
    model, alpha: np.ndarray, ridge_bias: np.ndarray, refit: _RidgeStart | None = None
) -> None:
    """Scale a ridge-started model's convolutional correction by ``alpha`` (per output):
    the model then predicts ``ridge + alpha * (model - ridge)``.  With ``refit`` (the start
    refitted around the correction, :func:`_backfit`) the linear path holds ``refit``'s
    effects instead: ``refit + alpha * (model - ridge)``."""
    out = model.get_layer("output")
    w, b = out.get_weights()
    n_out = len(alpha)
    w[:-n_out, :] *= alpha[None, :].astype(w.dtype)
    base = ridge_bias if refit is None else refit.bias
    b[:] = base + alpha.astype(b.dtype) * (b - ridge_bias)
    out.set_weights([w, b])
    if refit is not None:
        if refit.dom_mean is not None:
            model.get_layer("dominance").set_stats(refit.dom_mean, refit.dom_scale)
        model.get_layer("linear").set_weights([refit.coef])


#: [linear] backfit: the refitted start is kept where its pipeline's out-of-fold squared
#: errors are lower than the first pipeline's with this one-sided paired t-test p-value
#: (conv_gate where that is stricter)
BACKFIT_P = 0.05


def _lasso_refitter(x, start: _LassoStart):
    """``[linear] backfit_lasso``: a function that refits the LASSO start ``start`` on new
    targets (one column) the way it was first fitted on these rows (penalty by the same 5
    inner folds; with heterozygote indicators where ``start`` took them), or None where the
    genotypes are streamed or too large for one float64 copy (the refit is then skipped).
    The function returns ``(start or None, notes)``, as the LASSO start's fit does."""
    from snpcnn.datapath import START_DENSE_BYTES

    if not isinstance(x, np.ndarray) or 8 * x.size > START_DENSE_BYTES:
        return None
    n = len(x)
    xc = x.reshape(n, -1).astype(np.float64)
    mean = xc.mean(axis=0)
    xc -= mean
    cols = _heterozygote_columns(xc) if start.quad_coef is not None else None

    def refit(target: np.ndarray) -> tuple[_LassoStart | None, dict]:
        yv = np.asarray(target[:, 0], dtype=np.float64)
        if cols is not None:
            return _fit_lasso_dominance_start(xc, mean, yv, seed=0, cols=cols)
        return _fit_lasso_start(xc, mean, yv, seed=0)

    return refit


def _backfit(config, x, y, ridge, corr, alpha, before, steps, refitter=None):
    """``[linear] backfit``: refit the ridge start around the kept convolutions.

    The start was fitted on the whole target, so where the target holds a local signal that
    the convolutions find, the start has taken part of it through LD proxies: a diffuse,
    noisy copy of what the convolutions then model exactly (a simulated pair trait on the
    mice genotypes: GBLUP alone r 0.35, and its noise stays in the hybrid).  Alternately, ``steps``
    times: the start is refitted (same penalty rule) on the targets minus the convolutions'
    out-of-fold correction ``corr`` times its weight, and the weight is re-estimated by least
    squares (in [0, 1]) on the targets minus the refitted start's leave-one-out prediction.
    Kept only where the resulting out-of-fold residuals have significantly lower squared
    errors than ``before`` (the first pipeline's; one-sided paired t-test over the observed
    cells, p < :data:`BACKFIT_P` and < ``conv_gate`` where set): a choice made on the
    training rows only.

    ``refitter`` (``[linear] backfit_lasso``, :func:`_lasso_refitter`): a LASSO start
    ``ridge`` is refitted by it instead (penalty by inner CV again; its cross-fitted
    predictions play the leave-one-out's part).

    Returns ``((refit, residuals, weights) or None, record)``."""
    y64 = np.asarray(y, dtype=np.float64)
    observed = ~np.isnan(y64)
    a = np.asarray(alpha, dtype=np.float64).copy()
    start = ridge
    after = before
    done = 0
    notes: dict = {}
    for _ in range(steps):
        target = (y64 - a[None, :] * corr).astype(np.float32)  # NaN where missing
        if refitter is None:
            start = _fit_ridge(x, target, _has_dominance(config), ridge_penalty(config))
            e = y64 - (start.predict(x) - start.shift)  # y minus the refit's leave-one-out fit
        else:
            refit, notes = refitter(target)
            if refit is None:  # nothing left to fit (a constant target)
                break
            start = refit
            e = y64 - (start.fitted - start.shift)  # y minus the refit's out-of-fold fit
        done += 1
        for j in range(y64.shape[1]):
            ok = observed[:, j]
            c, ej = corr[ok, j], e[ok, j]
            cc = float(c @ c)
            a[j] = float(np.clip((c @ ej) / cc, 0.0, 1.0)) if cc > 0 else 0.0
        after = e - a[None, :] * corr
    mse_before = float(np.mean((before**2)[observed]))
    mse_after = float(np.mean((after**2)[observed]))
    flat = y64[observed]
    p = _improvement_p(flat, flat - before[observed], flat - after[observed])
    limit = min(BACKFIT_P, config.conv_gate) if config.conv_gate > 0 else BACKFIT_P
    adopted = bool(done and mse_after < mse_before and p < limit and (a > 0).any())
    record = {
        "steps": int(steps),
        "adopted": adopted,
        "p_value": p,
        "oof_mse_before": mse_before,
        "oof_mse_after": mse_after,
        "weight_before": [float(v) for v in alpha],
        "weight_after": a.tolist(),
    }
    if refitter is None:
        # the refitted start's intercept and dominance weight (the model's linear path
        # holds them where the refit is kept; conv["dominance_weight"] is the start's)
        record["bias_after"] = [float(v) for v in np.ravel(start.bias)]
        record["dominance_weight_after"] = float(start.dom_weight)
    else:
        record["start"] = "lasso"
        record["steps_run"] = int(done)
        if done:  # the refitted LASSO's penalty and SNPs, counted as the start's are
            # (conv start_choice: lasso_n_selected, lasso_n_dominance_selected)
            record["lasso_alpha_after"] = float(start.alpha)
            record["lasso_n_selected_after"] = int(notes["lasso_n_selected"])
            if "lasso_n_dominance_selected" in notes:
                record["lasso_n_dominance_selected_after"] = int(
                    notes["lasso_n_dominance_selected"]
                )
    return ((start, after, a) if adopted else None), record


#: bytes of float32 input above which the cross-fitted networks predict their held-out part
#: in several batches (below, in one batch, as every published run did)
HELD_BATCH_BYTES = 64 * 1024**2


def _held_batch(n_held: int, x) -> int:
    """Batch size for predicting ``n_held`` held-out rows of ``x``: all of them at once up to
    :data:`HELD_BATCH_BYTES` of input, else batches of about that size (a 40,000 x 50,000
    streamed fit otherwise encoded 8,000 rows x 50,000 SNPs as one 1.6 GB batch)."""
    row_bytes = 4 * max(1, int(np.prod(x.shape[1:])))
    if n_held * row_bytes <= HELD_BATCH_BYTES:
        return max(1, n_held)
    return max(1, HELD_BATCH_BYTES // row_bytes)


def _crossfit(
    config: TrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    ridge: _RidgeStart,
    head: str,
    seed: int,
    on_epoch: Callable[[], None] | None,
    n_out: int,
    orders: dict | None = None,
):
    """Cross-fitted convolutions on a ridge_loo start (``config.conv_folds`` >= 2).

    The training rows are split into K parts.  Network k (its own screen, fitted on the
    rows outside part k) trains on the other K-1 parts and predicts part k, so every row
    gets an out-of-fold correction of its leave-one-out ridge residual.  The K networks
    train in lockstep, ``CHECK_EVERY`` epochs at a time; after each step the mean squared
    error of the residual minus the out-of-fold correction over *all* training rows is
    computed, and training stops when it has not improved for ``config.patience`` epochs
    (at most ``config.epochs``).  The networks' weights at the best step are kept (step 0
    is the ridge start itself).  Then, per output, the correction's weight ``alpha`` in
    [0, 1] is the least-squares coefficient of the residual on the out-of-fold correction,
    and the correction is kept only if it lowers the squared error significantly (one-sided
    paired t-test over the training rows, p < ``config.conv_gate``; any gain if 0).  The
    model averages the K networks with their correction scaled by ``alpha``.

    With ``[screen] order`` other than "file" the windows run along an order of the SNPs
    decided once per training part (:func:`snpcnn.ldorder.screen_order`, on the training
    part's genotypes; cached in ``orders`` for a second start's cross-fit).

    With a :class:`_StageStart` (a ``[triple_stage]``) the model is None: the caller
    assembles the two stages' networks (:func:`_assemble`).

    Returns ``(model, best_epoch, histories, conv_info, n_seen, members)``, ``members`` the
    networks the model averages.
    """
    from snpcnn.models import compile_model

    k_folds = int(config.conv_folds)
    kernel = isinstance(ridge, _ADDED_STARTS)
    stage = isinstance(ridge, _StageStart)  # a [triple_stage]: assembled by the caller
    prefix = "triple_part" if stage else "cnn_part"
    ridge_fit = ridge.fitted if kernel else ridge.predict(x)
    y_fit = y + ridge.shift
    resid = (y_fit - ridge_fit).astype(np.float64)  # leave-one-out residuals, NaN = missing
    # what the networks output at their start: the ridge fit (its linear path), or nothing
    # where the start is a kernel added after training; they are trained on the rest
    inside = np.zeros_like(ridge_fit) if kernel else ridge_fit
    y_net = (y_fit - (ridge_fit - inside)).astype(np.float32)
    observed = ~np.isnan(resid)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 104729]))
    part = rng.permutation(np.arange(len(x)) % k_folds)
    rows = [np.flatnonzero(part != k) for k in range(k_folds)]
    held = [np.flatnonzero(part == k) for k in range(k_folds)]

    def loss_of(corr: np.ndarray) -> float:
        return float(np.mean(((resid - corr) ** 2)[observed]))

    def prepare(template) -> None:  # the cross-fitted networks' trainable set and constraint
        _apply_ridge_start(template, ridge, hold=True)

    # one traced step for the K networks (and every other fit of this architecture); built
    # before seeding, so whether it was cached cannot change any random draw below
    stepper = stepper_for(config, x.shape[1:], head, n_out, prepare, purpose="crossfit")
    shuffles = [
        np.random.default_rng(np.random.SeedSequence([seed, 7349, k])) for k in range(k_folds)
    ]
    order, order_info, xs = None, None, None
    triple_info: dict = {}  # [screen] triples: per cross-fitted network, triples significant
    with seeded(seed):
        nets = []
        for k in range(k_folds):
            model = _build(config, x.shape[1:], head, n_out, f"{prefix}{k}")
            _apply_ridge_start(model, ridge, hold=True)
            screen = _screen_layer(model)
            if screen is not None:
                if xs is None:  # the screen reads the SNPs in this order (one copy of x)
                    order, order_info = _screen_order(screen, x, orders)
                    xs = x if order is None else x[:, order]
                triples = getattr(screen, "triples", False)
                # [screen] pairs = "lead": windows led by their pair, filters on its product
                # (in memory only: streamed rows get the runs the streamed screen picks)
                lead_pairs = getattr(screen, "pairs", False) == "lead" and isinstance(
                    xs, np.ndarray
                )
                if triples == "lead":  # windows led by their triple; filters polarised
                    part = xs[rows[k]]
                    sets = _triple_sets(
                        part, resid[rows[k]], screen.n_windows, screen.width, lead=True
                    )
                    screen.set_windows(sets if order is None else order[sets])
                    _polarise(model, screen, part[:, sets])
                elif order is None and not lead_pairs:
                    tri: dict = {}
                    screen.set_starts(
                        screen_windows(
                            xs[rows[k]],
                            resid[rows[k]],
                            screen.n_windows,
                            screen.width,
                            triples=triples and isinstance(xs, np.ndarray),
                            info=tri,
                        )
                    )
                    for key, value in tri.items():  # per cross-fitted network
                        triple_info.setdefault(key, []).append(value)
                else:  # SNP sets: along the LD order, or led by their pair (in either order)
                    mapped = order is None  # the file's order (lead_pairs)
                    # [screen] map_reach: in the file's order (windows led by their pair),
                    # pairs further apart than a window on the map
                    reach = (
                        (getattr(screen, "map_reach", 0) or screen.width)
                        if mapped
                        else (screen.ld_reach or screen.width)
                    )
                    far: dict = {}
                    sets = screen_window_sets(
                        xs[rows[k]],
                        resid[rows[k]],
                        screen.n_windows,
                        screen.width,
                        reach,
                        # [screen] map_all_pairs: far pairs on a map too
                        all_pairs=getattr(screen, "all_pairs", False)
                        and (not mapped or getattr(screen, "map_all_pairs", False)),
                        info=far,
                        triples=triples,
                        lead=lead_pairs,
                        conditional=getattr(screen, "conditional", False),
                        conditional_alpha=getattr(screen, "conditional_alpha", 0.0),
                        conditional_fill=getattr(screen, "conditional_fill", "marginal"),
                    )
                    cond = far.pop("conditional_windows", None)
                    screen.set_windows(sets if mapped else order[sets])
                    if lead_pairs:
                        _polarise(model, screen, xs[rows[k]][:, sets], PAIR_SIGNS)
                    if not mapped:
                        order_info = {**order_info, "ld_reach": int(reach)}
                    for key in ("triple_significant", "triple_windows"):
                        if key in far:
                            triple_info.setdefault(key, []).append(far.pop(key))
                    if cond is not None:  # per cross-fitted network: forward selection's windows
                        base = order_info or {"mode": "file", "used": "file"}
                        order_info = {
                            **base,
                            "conditional_windows": [*base.get("conditional_windows", []), cond],
                        }
                    if far:  # per cross-fitted network: far pairs significant, windows they took
                        # a new record each time: the one _screen_order returns is cached in
                        # `orders` and shared with this part's other starts (a checking helper,
                        # session 48: on a map their counts piled up in one list)
                        base = order_info or {"mode": "file", "used": "file"}
                        order_info = {**base, "all_pairs": True}
                        if mapped:  # the reach the far pairs lie beyond, as the screen
                            # used it (at least a window's width)
                            order_info["map_reach"] = int(
                                max(min(reach, xs.shape[1]), screen.width)
                            )
                        for key, value in far.items():
                            order_info[key] = [*base.get(key, []), value]
            compile_model(model, head, learning_rate=config.learning_rate)
            nets.append(model)
        best_weights = [m.get_weights() for m in nets]
        best_oof = np.zeros(y.shape, dtype=np.float64)
        best_loss, best_epoch = loss_of(best_oof), 0
        curve = [best_loss]
        hists: list[dict[str, list[float]]] = [{"loss": []} for _ in nets]
        callbacks = [_EpochCallback(on_epoch)] if on_epoch is not None else []
        epoch, wait, n_seen = 0, 0, 0
        oof = np.zeros(y.shape, dtype=np.float64)
        while epoch < config.epochs and wait < max(config.patience, 1):
            step = min(CHECK_EVERY, config.epochs - epoch)
            for k, model in enumerate(nets):
                shared = stepper is not None and stepper.fits(model)
                if shared:
                    hists[k]["loss"] += stepper.train(
                        model, x, y_net, step, config.batch_size, shuffles[k], on_epoch, rows[k]
                    )
                else:
                    hist = trainer(model, x).fit(
                        model_input(x[rows[k]]),
                        y_net[rows[k]],
                        epochs=epoch + step,
                        initial_epoch=epoch,
                        batch_size=config.batch_size,
                        shuffle=True,
                        verbose=0,
                        callbacks=callbacks,
                    )
                    hists[k]["loss"] += [float(v) for v in hist.history.get("loss", [])]
                n_seen += len(rows[k]) * step
                # right after its training chunk, through the template's traced forward pass
                # (the same numbers as predict_rows, without an eager call per checkpoint)
                predict = stepper.predict if shared else predict_rows
                pred = np.asarray(
                    predict(model, x[held[k]], _held_batch(len(held[k]), x)), dtype=np.float64
                )
                oof[held[k]] = pred.reshape(len(held[k]), -1) - inside[held[k]]
            epoch += step
            current = loss_of(oof)
            curve.append(current)
            if np.isfinite(current) and current < best_loss:
                best_loss, best_epoch, wait = current, epoch, 0
                best_weights = [m.get_weights() for m in nets]
                best_oof = oof.copy()
            else:
                wait += step
        for model, w in zip(nets, best_weights):
            model.get_layer("output").kernel.constraint = None
            model.set_weights(w)
    alpha = np.zeros(n_out)
    p_values, r_start, r_conv = [], [], []
    for j in range(n_out):
        ok = observed[:, j]
        e, c = resid[ok, j], best_oof[ok, j]
        cc = float(c @ c)
        a = float(np.clip((c @ e) / cc, 0.0, 1.0)) if cc > 0 else 0.0
        pv = _improvement_p(e, np.zeros_like(e), a * c) if a > 0 else 1.0
        keep = a > 0 and (pv < config.conv_gate if config.conv_gate > 0 else True)
        alpha[j] = a if keep else 0.0
        p_values.append(pv)
        yj = y[ok, j].astype(np.float64)
        loo_pred = yj - e
        r_start.append(_pearson(yj, loo_pred))
        r_conv.append(_pearson(yj, loo_pred + alpha[j] * c))
    final = resid - alpha[None, :] * best_oof
    refit = None
    # [linear] backfit: one output only (outputs share the start's dominance weight, and a
    # pooled test could carry an output whose correction its own gate dropped); the ridge
    # start, and with backfit_lasso the LASSO start
    linear = _linear_spec(config)
    steps = 0 if (stage or n_out != 1) else int(linear.get("backfit", 0))
    lasso_refit = bool(linear.get("backfit_lasso")) and type(ridge) is _LassoStart
    refittable = type(ridge) is _RidgeStart or lasso_refit
    if steps and (alpha > 0).any() and refittable:
        refitter = _lasso_refitter(x, ridge) if lasso_refit else None
        if lasso_refit and refitter is None:
            backfit_info = {"steps": int(steps), "adopted": False, "start": "lasso"}
            backfit_info["skipped"] = "streamed or too large genotypes"
        else:
            refit, backfit_info = _backfit(
                config, x, y, ridge, best_oof, alpha, final, steps, refitter
            )
        if refit is not None:
            final, alpha = refit[1], refit[2]
            for j in range(n_out):
                ok = observed[:, j]
                r_conv[j] = _pearson(y[ok, j].astype(np.float64), y[ok, j] - final[ok, j])
    # the start the final model holds: the LASSO refitted around the convolutions is added
    # after training in its place (a refitted ridge lives in the networks' linear path)
    used = refit[0] if (refit is not None and kernel) else ridge
    for model in nets:
        _scale_correction(model, alpha, ridge.bias, None if (refit is None or kernel) else refit[0])
    kept = bool((alpha > 0).any())
    for h in hists:
        h["oof_loss"] = curve
    info = {
        "folds": k_folds,
        # out-of-fold mean squared error over the training rows (every output): of the start
        # alone (its leave-one-out residuals) and of start + weighted correction
        "oof_mse_start": loss_of(np.zeros(y.shape)),
        "oof_mse": float(np.mean((final**2)[observed])),
        # per row (first output): the final out-of-fold residual, for the start comparison
        # in train_cnn (removed there; NaN where the target is missing)
        "oof_resid": final[:, 0],
        "weight": alpha.tolist(),
        "p_value": p_values,
        "oof_r_start": r_start,
        "oof_r": r_conv,
        "best_epoch": int(best_epoch),
        "epochs_run": int(epoch),
        "oof_loss": curve,
        "kept": [bool(a > 0) for a in alpha],
        "dominance_weight": ridge.dom_weight,
        "start": ridge.kind,
    }
    if steps and kept and refittable:
        info["backfit"] = backfit_info
    if used is not ridge:  # for train_cnn's triple stage (removed there)
        info["start_used"] = used
    if order_info is not None and (
        order_info["mode"] != "file"
        or "all_pairs" in order_info
        or "conditional_windows" in order_info
    ):
        info["screen_order"] = order_info
    if triple_info:
        info["screen_triples"] = triple_info
    members = nets if kept else nets[:1]
    if stage:
        model = None
    elif kernel:
        model = _with_kernel(members, used, x.shape[1:])
    else:
        model = _average(nets, x.shape[1:]) if kept else nets[0]
    return model, int(best_epoch) if kept else 0, hists, info, n_seen, members


def _triple_stage_spec(config: TrainConfig) -> dict | None:
    """The architecture's validated ``[triple_stage]`` table, or None."""
    if callable(config.model):
        return None
    from snpcnn.models import load_architecture

    return load_architecture(config.model).get("triple_stage")


def _triple_stage_arch(stage: dict) -> dict:
    """The ``[triple_stage]`` table's architecture, which must be a wide & deep model with a
    screen (its linear path is held at zero); a one-line error otherwise."""
    from snpcnn.models import load_architecture

    try:
        arch = load_architecture(stage["model"])
    except InputError as exc:
        raise InputError(f"[triple_stage] model: {exc}") from None
    if "linear" not in arch or "screen" not in arch:
        raise InputError(
            f"[triple_stage] model {stage['model']!r} needs a `linear` and a `screen` table "
            '(a wide & deep model over screened windows, as the preset "snpcnn_triples"); '
            "add them or name another architecture"
        )
    return arch


def _triple_stage(config, stage, x, y, start, members, info, head, seed, orders):
    """The second stage of an architecture with ``[triple_stage]`` (single-output regression,
    genotypes in memory).  Every triple of SNPs inside a window of the stage's architecture
    is scored against the first stage's out-of-fold residuals on all training rows; only if
    one is significant (:data:`TRIPLE_ALPHA`, Bonferroni over every triple) are the stage's
    networks cross-fitted on those residuals, and their correction is kept only if it lowers
    the out-of-fold squared errors significantly (``conv_gate``, as the first).  Records
    ``info["triple_stage"]``; returns ``(model, best_epoch, histories, n_seen)`` where the
    correction was kept, else None (the first stage's model stands, bit for bit)."""
    import dataclasses
    from types import SimpleNamespace

    rec: dict = {"model": stage["model"], "learning_rate": stage["learning_rate"], "ran": False}
    info["triple_stage"] = rec
    if y.shape[1] != 1 or not isinstance(x, np.ndarray):
        rec["why"] = (
            "several outputs" if y.shape[1] != 1 else "streamed genotypes (no triple screen)"
        )
        return None
    screen = _triple_stage_arch(stage)["screen"]
    width = int(screen.get("width", 5))
    order, _ = _screen_order(SimpleNamespace(order_mode=screen.get("order", "file")), x, orders)
    xs = x if order is None else x[:, order]
    resid = np.asarray(info["oof_resid"], dtype=np.float64)
    ok = ~np.isnan(resid)
    _significant_triples(xs if ok.all() else xs[ok], resid[ok, None], width, rec)
    rec.pop("triple_windows", None)
    if not rec["triple_significant"]:
        return None
    n_feat = int(np.prod(x.shape[1:]))
    first = _StageStart(
        fitted=(y[:, :1].astype(np.float64) - resid[:, None]),
        shift=np.zeros((len(x), 1), dtype=np.float32),
        coef=np.zeros((n_feat, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
    )
    cfg = dataclasses.replace(
        config,
        model=stage["model"],
        learning_rate=float(stage["learning_rate"]),
        epochs=int(stage.get("epochs") or config.epochs),
        model_overrides={},
    )
    _, best, hists, k_info, n_seen, nets = _crossfit(cfg, x, y, first, head, seed, None, 1, orders)
    rec.update(
        ran=True,
        kept=bool(k_info["kept"][0]),
        weight=k_info["weight"][0],
        p_value=k_info["p_value"][0],
        best_epoch=int(best),
        epochs_run=k_info["epochs_run"],
        oof_mse_start=k_info["oof_mse_start"],
        oof_mse=k_info["oof_mse"],
        oof_r_start=k_info["oof_r_start"][0],
        oof_r=k_info["oof_r"][0],
        oof_loss=k_info["oof_loss"],
    )
    if not rec["kept"]:
        return None
    model = _assemble(members, start, nets, x.shape[1:], "triple_stage_ensemble")
    return model, best, hists, n_seen


def _screen_order(screen, x, orders: dict | None):
    """``(permutation or None, record)``: the SNP order the ``screen`` layer's windows run
    along on this training part (:func:`snpcnn.ldorder.screen_order`), computed once and
    kept in ``orders``."""
    mode = getattr(screen, "order_mode", "file")
    if mode == "file":
        return None, None
    if orders is not None and mode in orders:
        return orders[mode]
    from snpcnn.ldorder import screen_order

    out = screen_order(x, mode)
    if orders is not None:
        orders[mode] = out
    return out


def _check_crossfit(config: TrainConfig, n_rows: int) -> None:
    """Settings the cross-fitted convolutions cannot take: one-line errors."""
    if config.n_seeds > 1:
        raise InputError(
            f"{opt('n_seeds', config.n_seeds)} does not apply to cross-fitted convolutions "
            f"({opt('conv_folds', config.conv_folds)}): the model already averages its "
            f"{config.conv_folds} cross-fitted networks; use {opt('n_seeds', 1)}, or "
            f"{opt('conv_folds', 0)} to average seeds instead"
        )
    if n_rows < 2 * int(config.conv_folds):
        # a value that fits (fewer CV folds was the hint, which at 12 samples never helped:
        # a checking helper, session 54)
        fits = n_rows // 2
        lower = (
            f"{opt('conv_folds', fits)} (or {opt('conv_folds', 0)}: one network on an inner "
            "validation split)"
            if fits >= 2
            else f"{opt('conv_folds', 0)} (one network on an inner validation split)"
        )
        raise InputError(
            f"the cross-fitted convolutions ({opt('conv_folds', config.conv_folds)}) need at "
            f"least {2 * int(config.conv_folds)} training rows, this training part has "
            f"{n_rows}; use {lower}, or give more samples"
        )


def train_cnn(
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    head: str = "regression",
    seed: int = 0,
    on_epoch: Callable[[], None] | None = None,
    fixed_epochs: int | None = None,
    n_outputs: int | None = None,
    start_alpha: Sequence[float] | None = None,
    on_event: Callable[..., None] | None = None,
) -> TrainResult:
    """Fit ``config.n_seeds`` CNNs on ``(x, y)`` and average them.

    With ``fixed_epochs`` None, an inner validation split (``val_fraction``) of
    ``x`` drives early stopping (best weights restored).  With ``fixed_epochs``
    set (the final refit on all samples), every sample trains for that many epochs.
    If the model's predictions on the inner validation split are constant (the
    collapse known from CNNs on small genomic data), it is retrained once with a
    10x smaller learning rate.

    ``start_alpha`` (one per output) fixes the ridge start's penalty (default: chosen as the
    architecture's ``[linear] penalty`` says, on these rows).  ``on_event(kind, **info)``
    hears ``"cnn_second_start"`` (start, gain) where the start choice cross-fits the
    convolutions a second time, on the kernel start (:class:`snpcnn.progress.Progress`).
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[:, None]
    t0 = time.perf_counter()
    n_out = n_outputs or y.shape[1]
    wide = _has_linear_path(config, x.shape[1:], head, n_out)
    ridge = None
    choice = None
    kernel = None
    if wide and config.linear_init == "ridge_loo":
        # one ridge fit on every row (inner validation rows included), shared by all seeds;
        # the targets move by the leave-one-out shift (see _RidgeStart).  With a kernel in
        # the architecture ([linear] kernel), REML may propose it as the start instead
        # (cross-fitted convolutions only; see below).
        if config.conv_folds >= 2:
            _check_crossfit(config, len(x))  # before any start is fitted
            kernel, choice = _choose_start(x, y, config, head)
        if config.conv_folds >= 2 and y.shape[1] >= 2 and _linear_spec(config).get("multitrait"):
            # several traits ([linear] multitrait): the multi-trait GBLUP replaces the
            # per-trait ridge where a likelihood-ratio test prefers it (the kernel starts
            # take one trait, so ``choice`` held only that they were skipped)
            ridge, choice = _multitrait_start(x, y, config)
        if ridge is None:
            ridge = _fit_ridge(x, y, _has_dominance(config), ridge_penalty(config), start_alpha)
    y_fit = y if ridge is None else y + ridge.shift
    if ridge is not None and config.conv_folds >= 2:
        # cross-fitted convolutions: their own early stopping and gate, also in a refit
        orders: dict = {}  # the screen's SNP order, decided once for both starts
        stage = _triple_stage_spec(config)
        if stage is not None:
            _triple_stage_arch(stage)  # a bad [triple_stage] model fails before any training
        model, best, hists, info, n_seen, members = _crossfit(
            config, x, y, ridge, head, seed, on_epoch, n_out, orders
        )
        if kernel is not None:
            # REML prefers the kernel as a start; the convolutions are cross-fitted on it
            # too, and the kernel's pipeline (start + its correction) is kept only if its
            # out-of-fold squared errors over the training rows are significantly lower
            # (one-sided paired t-test, p < conv_gate; any gain if 0).  A kernel that
            # absorbs part of a local signal can leave the convolutions less to find than
            # the ridge does (simulated dominance), so the start is judged together with
            # what is built on it.
            if on_event is not None:
                if kernel.kind == "lasso":
                    on_event(
                        "cnn_second_start",
                        start="the LASSO",
                        basis=(
                            "inner cross-validation prefers the LASSO as the start (squared "
                            f"error {choice['lasso_cv_mse']:.4g} vs "
                            f"{min(choice['loo_mse'].values()):.4g})"
                        ),
                    )
                else:
                    on_event(
                        "cnn_second_start",
                        start=f"the {START_LABELS[kernel.kind]}",
                        gain=choice["loglik_gain"],
                    )
            k_model, k_best, k_hists, k_info, k_seen, k_members = _crossfit(
                config, x, y, kernel, head, seed, on_epoch, n_out, orders
            )
            n_seen += k_seen
            choice["oof_mse"] = {"ridge": info["oof_mse"], kernel.kind: k_info["oof_mse"]}
            # the same rule as the convolutions' gate: the GBLUP-equivalent pipeline stays
            # unless the other lowers the out-of-fold squared errors significantly
            p = _improvement_p(y[:, 0], y[:, 0] - info["oof_resid"], y[:, 0] - k_info["oof_resid"])
            choice["oof_p_value"] = p
            gate = config.conv_gate
            if k_info["oof_mse"] < info["oof_mse"] and (p < gate if gate > 0 else True):
                model, best, hists, info, ridge = k_model, k_best, k_hists, k_info, kernel
                members = k_members
            else:
                choice["chosen"] = "ridge"
            if on_event is not None:
                on_event(
                    "cnn_start_chosen",
                    start=START_LABELS[choice["chosen"]],
                    other=START_LABELS[kernel.kind],
                    mse=choice["oof_mse"],
                    p=p,
                )
        # the start the model holds (a LASSO refitted around the convolutions, [linear]
        # backfit_lasso); the result's start stays the one fitted alone (attribution)
        used = info.pop("start_used", ridge)
        if kernel is not None:
            k_info.pop("start_used", None)
        if stage is not None:
            # [triple_stage]: a second correction over SNP triples, on the first stage's
            # out-of-fold residuals, where a triple is significant in them
            out = _triple_stage(config, stage, x, y, used, members, info, head, seed, orders)
            if out is not None:
                model, best2, hists2, seen2 = out
                best = max(best, best2)
                hists = hists + hists2
                n_seen += seen2
        info.pop("oof_resid", None)  # per-row residuals: only for the comparisons above
        if choice is not None:
            info["start_choice"] = choice
        seconds = time.perf_counter() - t0
        return TrainResult(
            model=model,
            best_epochs=[best],
            histories=hists,
            learning_rates=[config.learning_rate],
            collapsed_on_validation=False,
            retried=0,
            inner_val_r=[info["oof_r"]],
            seconds=seconds,
            samples_per_second=n_seen / seconds if seconds > 0 else float("nan"),
            ridge_start=True,
            conv=info,
            start=ridge,
        )
    models, bests, hists, lrs, val_r = [], [], [], [], []
    collapsed_any, retried = False, 0
    n_seen = 0
    for s in range(config.n_seeds):
        sseed = int(np.random.SeedSequence([seed, s]).generate_state(1)[0] % (2**31 - 1))
        va = None
        if fixed_epochs is None and config.val_fraction > 0:
            tr, va = inner_split(len(x), config.val_fraction, sseed)
            x_tr, y_tr, x_val, y_val = x[tr], y_fit[tr], x[va], y_fit[va]
        else:
            x_tr, y_tr, x_val, y_val = x, y_fit, None, None

        start = ridge
        if wide and config.linear_init == "ridge":
            # inner training rows only
            start = _fit_ridge(x_tr, y_tr, _has_dominance(config), ridge_penalty(config))

        def fit(
            lr: float,
            x_tr=x_tr,
            y_tr=y_tr,
            x_val=x_val,
            y_val=y_val,
            s=s,
            sseed=sseed,
            start=start,
        ):
            return _fit_one(
                config,
                x_tr,
                y_tr,
                x_val,
                y_val,
                head,
                sseed,
                lr,
                on_epoch,
                fixed_epochs,
                f"cnn_seed{s}",
                n_outputs,
                start,
            )

        lr = config.learning_rate
        model, hist, best = fit(lr)
        n_seen += len(x_tr) * len(hist.get("loss", []))
        if x_val is not None and config.collapse_retry:
            pred = np.asarray(predict_rows(model, x_val, 256))
            if any(
                is_collapsed(pred[:, j], rtol=TRAIN_COLLAPSE_RTOL) for j in range(pred.shape[1])
            ):
                collapsed_any = True
                retried += 1
                lr = lr / 10.0
                log.info("collapsed on the inner validation split; retrying with lr=%g", lr)
                model, hist, best = fit(lr)
                n_seen += len(x_tr) * len(hist.get("loss", []))
        if x_val is not None and len(x_val):
            pred = np.asarray(predict_rows(model, x_val, 256))
            y_true = y[va]
            if ridge is not None:
                pred = pred - ridge.shift[va]  # leave-one-out ridge part: an honest score
            if head == "multiclass":  # class probabilities: the inner accuracy instead
                ok = np.isfinite(y_true[:, 0])
                hit = np.argmax(pred[ok], axis=1) == y_true[ok, 0].astype(int)
                val_r.append([float(hit.mean()) if ok.any() else float("nan")])
            else:
                val_r.append([_pearson(y_true[:, j], pred[:, j]) for j in range(pred.shape[1])])
        models.append(model)
        bests.append(best)
        hists.append(hist)
        lrs.append(lr)
    seconds = time.perf_counter() - t0
    return TrainResult(
        model=_average(models, x.shape[1:]),
        best_epochs=bests,
        histories=hists,
        learning_rates=lrs,
        collapsed_on_validation=collapsed_any,
        retried=retried,
        inner_val_r=val_r,
        seconds=seconds,
        samples_per_second=n_seen / seconds if seconds > 0 else float("nan"),
        ridge_start=bool(wide),
        start=ridge,
    )
