"""Prediction-accuracy metrics, each named for exactly the statistic it is.

Regression: Pearson r (the headline), Spearman rho, R^2 (coefficient of
determination, 1 - SSE/SST on the test fold), RMSE, MAE.  Binary: ROC AUC and
accuracy at threshold 0.5 (of the predicted probability or expected 0/1 value).

A model whose predictions are (near-)constant on a test fold makes Pearson r and
Spearman rho undefined.  :func:`is_collapsed` detects it and the metric functions
then return ``status="collapsed"`` instead of a bare NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "REGRESSION_METRICS",
    "BINARY_METRICS",
    "METRIC_LABELS",
    "is_collapsed",
    "regression_metrics",
    "binary_metrics",
    "paired_difference",
]

REGRESSION_METRICS = ("pearson_r", "spearman_rho", "r2", "rmse", "mae")
BINARY_METRICS = ("auc", "accuracy")
METRIC_LABELS = {
    "pearson_r": "Pearson r",
    "spearman_rho": "Spearman rho",
    "r2": "R^2",
    "rmse": "RMSE",
    "mae": "MAE",
    "auc": "ROC AUC",
    "accuracy": "accuracy",
    "genomic_pearson_r": "genomic r",
}

# Predictions whose spread is below this fraction of the observed values' (robust) spread are
# treated as constant ("collapsed") when scored: r is numerically meaningless there.  A network
# whose float32 output is constant varies by about 1e-7 of its standardised value, i.e. far
# below this; a GBLUP that shrinks a trait with no additive signal to a spread of 1e-5 of the
# trait's still ranks the samples (until session 31 the limit was 1e-4, and such folds
# counted as r = 0 while a rescaled copy of the same predictions above it kept its r).
COLLAPSE_RTOL = 1e-6
#: the limit for a network's own check on its inner validation predictions (standardised
#: scale; a collapse there triggers a retry with a lower learning rate)
TRAIN_COLLAPSE_RTOL = 1e-4


def robust_sd(values: np.ndarray) -> float:
    """The spread of ``values`` that one outlier cannot inflate: 1.4826 x the median absolute
    deviation (the SD for normal data), else the SD where most values are equal."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return 0.0
    mad = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    return mad if mad > 0 else float(np.std(v))


#: metrics in the trait's units (summary.md prints them to 3 significant figures where
#: 3 decimals would hide them: "0.000" for a trait of scale 1e-6 read as a perfect fit)
SCALED_METRICS = ("rmse", "mae")


def format_mean_sd(mean: float, sd: float, metric: str = "") -> str:
    """``mean ± sd`` to 3 decimals, or to 3 significant figures for a metric in the trait's
    units outside 0.01..1e5 (a checking helper, session 41); "n/a" where undefined."""
    if not np.isfinite(mean):
        return "n/a"
    scaled = metric in SCALED_METRICS and mean != 0 and not 1e-2 <= abs(mean) < 1e5
    fm = (lambda v: f"{v:.3g}") if scaled else (lambda v: f"{v:.3f}")
    return f"{fm(mean)} ± {fm(sd)}" if np.isfinite(sd) else fm(mean)


def is_collapsed(
    y_pred: np.ndarray, y_true: np.ndarray | None = None, rtol: float = COLLAPSE_RTOL
) -> bool:
    """True if ``y_pred`` is (near-)constant, relative to the spread of ``y_true`` (its
    :func:`robust_sd`: one outlier in a test fold does not make real predictions look
    constant)."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.size < 2 or not np.all(np.isfinite(y_pred)):
        return True
    # equal to within 64 float steps: a constant whose float mean rounds (12 copies of
    # 5.000000000000103 have np.std 8.9e-16) was scored r 0.001 from rounding noise beside a
    # trait of spread 1e-12; a wider tolerance (1e-12 of the largest value) marked the real
    # predictions of a trait 1e9 + 1e-4 x N(0, 1) constant (session 54's checking helpers)
    if float(np.ptp(y_pred)) <= 64 * np.finfo(np.float64).eps * float(np.max(np.abs(y_pred))):
        return True
    ref = 1.0
    if y_true is not None:
        sd_true = robust_sd(y_true)
        if sd_true > 0:
            ref = sd_true
    return float(np.std(y_pred)) <= rtol * ref


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[dict[str, float], str]:
    """Pearson r, Spearman rho, R^2, RMSE and MAE, and a status ("ok", "collapsed" or
    "undefined").

    When the predictions are constant, the correlations are NaN and the status says
    "collapsed"; R^2, RMSE and MAE are still computed.  When the observed values are (the
    test fold's trait is constant), no model can be scored: "undefined", whatever was
    predicted.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    resid = y_true - y_pred
    sst = float(np.sum((y_true - y_true.mean()) ** 2))
    out = {
        "r2": 1.0 - float(np.sum(resid**2)) / sst if sst > 0 else float("nan"),
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mae": float(np.mean(np.abs(resid))),
    }
    if np.std(y_true) == 0 or is_collapsed(y_pred, y_true):
        out["pearson_r"] = float("nan")
        out["spearman_rho"] = float("nan")
        status = "undefined" if np.std(y_true) == 0 else "collapsed"
    else:
        out["pearson_r"] = float(np.corrcoef(y_true, y_pred)[0, 1])
        out["spearman_rho"] = float(stats.spearmanr(y_true, y_pred).statistic)
        status = "ok"
    return {k: out[k] for k in REGRESSION_METRICS}, status


def binary_metrics(y_true: np.ndarray, y_score: np.ndarray) -> tuple[dict[str, float], str]:
    """ROC AUC of the scores and accuracy of ``score >= 0.5``, plus a status: "undefined"
    where the test fold holds one class (no AUC, whatever was predicted), "collapsed" where
    the scores are constant, else "ok"."""
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    acc = float(np.mean((y_score >= 0.5) == (y_true > 0.5)))
    if len(np.unique(y_true)) < 2:
        return {"auc": float("nan"), "accuracy": acc}, "undefined"
    # relative to the observed values' spread, as documented (an absolute 1e-6 marked RKHS
    # collapsed with 3 cases in 150 although its scores ranked the samples; session 41)
    if is_collapsed(y_score, y_true):
        return {"auc": float("nan"), "accuracy": acc}, "collapsed"
    return {"auc": float(roc_auc_score(y_true, y_score)), "accuracy": acc}, "ok"


#: the value a metric takes for predictions that carry no information (constant ones):
#: 0 for correlations and R^2-like scores, 0.5 for the ROC AUC
NO_INFORMATION = {"auc": 0.5}


def no_information(metric: str) -> float:
    """What a collapsed fold counts as for ``metric`` in paired comparisons."""
    return NO_INFORMATION.get(metric, 0.0)


#: a fold counts as won (lost) only if the model's metric beats (trails) the reference's
#: by more than this; within it the fold is a tie (differences of 1e-5 are not wins)
WIN_TOLERANCE = 0.001


def paired_difference(joined, tolerance: float = WIN_TOLERANCE) -> dict[str, float | int]:
    """Paired comparison of a model with a reference over the same test folds.

    ``joined`` has one row per test fold with columns ``value``, ``status`` (the model)
    and ``value_ref``, ``status_ref`` (the reference), and ``metric``.  A collapsed fold of
    the model enters the mean difference with the metric's no-information value
    (:func:`no_information`: r = 0, AUC = 0.5) or the reference's value, whichever is lower
    (never a gain), and never counts as a win; a collapsed reference enters with the
    no-information value.  A fold is won where the model's metric
    exceeds the reference's by more than ``tolerance`` and tied where they differ by at most
    ``tolerance`` (both ok).  A fold where either side is "undefined" (the test fold's
    observed values are constant: no model can be scored there) is left out.
    """
    keep = ~(joined["status"].eq("undefined") | joined["status_ref"].eq("undefined"))
    joined = joined[keep.to_numpy()]
    fill = (
        no_information(str(joined["metric"].iloc[0])) if "metric" in joined and len(joined) else 0.0
    )
    b = np.where(
        joined["status_ref"].eq("collapsed"), fill, joined["value_ref"].to_numpy(dtype=float)
    )
    # a collapsed fold is a loss, and never a gain: it enters as no information or as the
    # reference's value, whichever is lower (against a reference below no information, r 0
    # made the model that predicted nothing the best in the table: +0.053 for a LASSO
    # constant in 2 of 3 folds; a checking helper, session 39)
    a = np.where(
        joined["status"].eq("collapsed"),
        np.minimum(fill, b),
        joined["value"].to_numpy(dtype=float),
    )
    d = a - b
    ok = joined["status"].eq("ok").to_numpy() & joined["status_ref"].eq("ok").to_numpy()
    wins = (d > tolerance) & joined["status"].eq("ok").to_numpy()
    ties = (np.abs(d) <= tolerance) & ok
    return {
        "mean_difference": float(np.mean(d)) if len(d) else float("nan"),
        "sd_difference": float(np.std(d, ddof=1)) if len(d) > 1 else float("nan"),
        "wins": int(wins.sum()),
        "ties": int(ties.sum()),
        "n_folds": int(len(d)),
        "n_collapsed": int(joined["status"].eq("collapsed").sum()),
    }
