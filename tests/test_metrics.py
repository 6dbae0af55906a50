import numpy as np
import pytest
from scipy import stats

from snpcnn.metrics import binary_metrics, is_collapsed, regression_metrics


def test_regression_metrics_match_scipy_and_definitions():
    rng = np.random.default_rng(1)
    y = rng.normal(size=50)
    p = y + rng.normal(scale=0.7, size=50)
    m, status = regression_metrics(y, p)
    assert status == "ok"
    assert m["pearson_r"] == pytest.approx(stats.pearsonr(y, p).statistic, abs=1e-12)
    assert m["spearman_rho"] == pytest.approx(stats.spearmanr(y, p).statistic, abs=1e-12)
    assert m["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert m["mae"] == pytest.approx(np.mean(np.abs(y - p)))


def test_constant_prediction_is_reported_as_collapsed_not_bare_nan():
    y = np.arange(10.0)
    m, status = regression_metrics(y, np.full(10, 3.0) + 1e-9 * np.arange(10))
    assert status == "collapsed"
    assert np.isnan(m["pearson_r"]) and np.isfinite(m["rmse"])
    assert is_collapsed(np.ones(5))
    assert not is_collapsed(np.array([0.0, 1.0]))


def test_binary_metrics():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.2])
    m, status = binary_metrics(y, s)
    assert status == "ok"
    assert m["auc"] == pytest.approx(8 / 9)
    assert m["accuracy"] == pytest.approx(5 / 6)


def test_paired_difference_counts_collapse_as_a_loss_with_r_zero():
    import pandas as pd

    from snpcnn.metrics import paired_difference

    joined = pd.DataFrame(
        {
            "value": [0.5, float("nan"), 0.2],
            "status": ["ok", "collapsed", "ok"],
            "value_ref": [0.4, 0.3, 0.3],
            "status_ref": ["ok", "ok", "ok"],
        }
    )
    p = paired_difference(joined)
    assert p["wins"] == 1 and p["n_collapsed"] == 1 and p["n_folds"] == 3
    assert p["mean_difference"] == pytest.approx(((0.5 - 0.4) + (0 - 0.3) + (0.2 - 0.3)) / 3)


def test_a_collapsed_fold_is_never_a_gain():
    """Against a reference below no information (r < 0), r = 0 made the model that
    predicted nothing gain (+0.053 for a LASSO constant in 2 of 3 folds, the best in its
    table; a checking helper, session 39): the fold enters as the lower of the two."""
    import pandas as pd

    from snpcnn.metrics import paired_difference

    joined = pd.DataFrame(
        {
            "value": [float("nan"), 0.3, float("nan")],
            "status": ["collapsed", "ok", "collapsed"],
            "value_ref": [-0.021, 0.282, -0.101],
            "status_ref": ["ok", "ok", "ok"],
        }
    )
    p = paired_difference(joined)
    assert p["mean_difference"] == pytest.approx((0.0 + 0.018 + 0.0) / 3)
    assert p["wins"] == 1 and p["n_collapsed"] == 2
    auc = joined.assign(metric="auc", value_ref=[0.45, 0.6, 0.7])
    p = paired_difference(auc)
    assert p["mean_difference"] == pytest.approx((0.0 + (0.3 - 0.6) + (0.5 - 0.7)) / 3)


def test_a_collapsed_auc_counts_as_chance_not_zero():
    """Binary traits: constant scores have AUC 0.5, so a fold where the reference collapsed
    is no win for a model at AUC 0.47 (it counted as 0 and turned a loss into a gain)."""
    import pandas as pd

    from snpcnn.metrics import paired_difference

    joined = pd.DataFrame(
        {
            "metric": ["auc"] * 3,
            "value": [0.47, 0.40, 0.55],
            "status": ["ok"] * 3,
            "value_ref": [float("nan"), 0.56, 0.57],
            "status_ref": ["collapsed", "ok", "ok"],
        }
    )
    p = paired_difference(joined)
    assert p["mean_difference"] == pytest.approx(((0.47 - 0.5) + (0.40 - 0.56) + (0.55 - 0.57)) / 3)
    assert p["wins"] == 0


def test_one_outlier_in_the_test_fold_does_not_make_real_predictions_constant():
    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    pred = 0.3 * y + rng.normal(scale=0.05, size=40)
    y_out = y.copy()
    y_out[3] = 1e4
    assert not is_collapsed(pred, y_out)
    vals, status = regression_metrics(y_out, pred)
    assert status == "ok" and np.isfinite(vals["pearson_r"])
    # truly constant predictions still are
    assert is_collapsed(np.full(40, 2.0) + 1e-9 * rng.normal(size=40), y_out)


def test_genomic_r_is_undefined_where_the_covariates_are_the_trait():
    from snpcnn.cv import genomic_r

    rng = np.random.default_rng(1)
    y = rng.normal(size=50) * 3 + 10
    fixed = y + 1e-15 * rng.normal(size=50)  # the covariates-only fit: y itself
    pred = y + 0.1 * rng.normal(size=50)
    assert np.isnan(genomic_r(y, pred, fixed))
    assert np.isfinite(genomic_r(y, pred, y - rng.normal(size=50)))


def test_a_shrunken_copy_of_real_predictions_is_scored_not_collapsed():
    """GBLUP on a trait without additive signal shrinks its predictions to a spread of 1e-5
    of the trait's: they still rank the samples, and a copy at half the spread scores the
    same r (at the old limit of 1e-4 the copy counted as r = 0, the original kept its r)."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=60)
    pred = 1e-4 * (0.2 * y + rng.normal(size=60))
    half = 0.5 * pred
    a, sa = regression_metrics(y, pred)
    b, sb = regression_metrics(y, half)
    assert sa == sb == "ok" and a["pearson_r"] == pytest.approx(b["pearson_r"])
    # a float32 network whose output is constant: a few float32 ulps of spread
    const = (np.float32(0.37) + np.zeros(60, np.float32)).astype(np.float64)
    const += rng.integers(-3, 4, 60) * np.spacing(np.float32(0.37))
    assert regression_metrics(y, const)[1] == "collapsed"


def test_binary_collapse_is_relative_to_the_observed_spread():
    """binary_metrics judged "constant" against an absolute 1e-6: scores of sd 4e-7 that
    ranked 3 cases among 150 were "collapsed" although outputs.md documents 1e-6 of the
    observed values' robust spread (a checking helper, session 41)."""
    y = np.zeros(50)
    y[[3, 17]] = 1.0  # sd 0.196: the limit is 1.96e-7
    z = 3 * y + np.linspace(0, 1, 50)
    score = 0.02 + 5e-7 * (z - z.mean()) / z.std()  # sd 5e-7: above 1.96e-7, below 1e-6
    m, status = binary_metrics(y, score)
    assert status == "ok" and m["auc"] > 0.9
    m, status = binary_metrics(y, 0.02 + 1e-8 * y)
    assert status == "collapsed"


def test_means_of_metrics_in_trait_units_keep_their_digits():
    """summary.md printed RMSE 0.000 ± 0.000 for a trait of scale 1e-6 (a perfect fit, as
    read) and 90 digits for one of scale 1e90 (a checking helper, session 41)."""
    from snpcnn.metrics import format_mean_sd

    assert format_mean_sd(1.3e-6, 2.1e-7, "rmse") == "1.3e-06 ± 2.1e-07"
    assert format_mean_sd(4.2e89, 1e88, "mae") == "4.2e+89 ± 1e+88"
    assert format_mean_sd(0.8123, 0.0271, "rmse") == "0.812 ± 0.027"
    assert format_mean_sd(1.3e-6, 2.1e-7, "pearson_r") == "0.000 ± 0.000"  # r is unitless
    assert format_mean_sd(float("nan"), 0.1, "rmse") == "n/a"
    assert format_mean_sd(0.5, float("nan"), "rmse") == "0.500"
