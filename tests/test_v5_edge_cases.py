"""The default's v5 start (REML: ridge or CNN-GP) on awkward but legal inputs, and bad inputs.

Tiny data throughout: fewer SNPs than a window, a SNP count that is not a multiple of the
window width, duplicated samples (a singular kernel) with h2 at the bound, traits at 1e6 and
1e-6 scale or with a large mean, a constant trait, too few rows; then the CLI end to end
(fit with covariates on a kernel start, predict from the saved model).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines import CNNGP, GBLUP
from snpcnn.errors import InputError
from snpcnn.training import TrainConfig, _choose_start, train_cnn

#: these tests pin v5's start choice (ridge or CNN-GP); the default since session 17 (v6) also
#: offers GBLUP-AD: tests/test_dominance_start.py
V5 = "snpcnn_default_v5"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _product(n: int, m: int, seed: int = 0, noise: float = 0.1, dup: int = 1):
    """Dosages (n x m, centred, channel axis) and y = product of two adjacent SNPs + noise."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, 0.5, size=(n // dup, m)).astype(np.float32)
    g = np.repeat(g, dup, axis=0)
    a = min(1, m - 2)
    y = g[:, a] * g[:, a + 1] + noise * rng.normal(size=len(g))
    y = (y - y.mean()) / y.std()
    return (g - g.mean(0))[..., None], y.astype(np.float32)[:, None]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------ REML numerics and checks
def test_reml_is_exact_for_a_trait_with_a_large_mean():
    """1e6 +- 1e-3 or 1e8 +- 1: the fixed effects dominate y, and y'H^-1 y - (F'H^-1 y)'b
    cancelled catastrophically (h2 = 1 and a log-likelihood of +51,000 before the fix)."""
    rng = np.random.default_rng(0)
    X = rng.binomial(2, 0.5, size=(120, 20)).astype(float)
    y = X[:, 2] * X[:, 3] + 0.3 * rng.normal(size=120)
    for model in (GBLUP, CNNGP):
        ref = model().fit(X, y)
        for off, s in ((1e6, 1e-3), (1e8, 1.0)):
            m = model().fit(X, off + s * y)
            assert m.h2_ == pytest.approx(ref.h2_, abs=1e-5)
            # the restricted likelihood of s * y is that of y minus (n - q) log(s)
            assert m.loglik_ + 119 * np.log(s) == pytest.approx(ref.loglik_, abs=1e-3)
            got = (m.predict(X[:30]) - off) / s
            np.testing.assert_allclose(got, ref.predict(X[:30]), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"log_delta_bounds": (-np.inf, 5)}, "within"),
        ({"log_delta_bounds": (-800, 800)}, "within"),
        ({"log_delta_bounds": ("low", 1)}, "two numbers"),
        ({"log_delta_bounds": (1, 2, 3)}, "two numbers"),
        ({"n_grid": 10.5}, "n_grid must be an integer"),
        ({"n_grid": "10"}, "n_grid must be an integer"),
        ({"bias": np.inf}, "bias must be finite"),
    ],
)
def test_bad_reml_and_kernel_settings_give_one_line_errors(kwargs, match):
    rng = np.random.default_rng(1)
    X = rng.binomial(2, 0.5, size=(30, 8)).astype(float)
    y = rng.normal(size=30)
    with pytest.raises(InputError, match=match) as exc:
        CNNGP(**kwargs).fit(X, y)
    _one_line(exc)
    if "bias" not in kwargs:  # the bounds and grid are GBLUP's too
        with pytest.raises(InputError, match=match):
            GBLUP(**kwargs).fit(X, y)


def test_cnn_gp_predicts_no_rows():
    rng = np.random.default_rng(2)
    X = rng.binomial(2, 0.5, size=(30, 8)).astype(float)
    m = CNNGP(depths=(0,)).fit(X, rng.normal(size=30))
    assert m.predict(X[:0]).shape == (0,)


def test_kernel_prediction_layer_checks_its_arguments():
    from snpcnn.models.layers import KernelPrediction

    with pytest.raises(InputError, match="activation = 'tanh'") as exc:
        KernelPrediction(10, 7, 5, "tanh", 0, 0.1)  # was computed as ReLU, silently
    _one_line(exc)
    with pytest.raises(InputError, match="width = 0"):
        KernelPrediction(10, 7, 0, "relu", 0, 0.1)
    with pytest.raises(InputError, match="bias"):
        KernelPrediction(10, 7, 5, "relu", 0, float("nan"))
    layer = KernelPrediction(10, 7, 5, "relu", 0, 0.1)
    with pytest.raises(InputError, match="7 SNP values a row"):
        layer.build((None, 8, 1))
    layer.build((None, 7, 1))
    rng = np.random.default_rng(3)
    gp = CNNGP(depths=(0,)).fit(rng.binomial(2, 0.5, size=(12, 7)), rng.normal(size=12))
    with pytest.raises(InputError, match="12 rows x 7 SNPs"):
        layer.set_fit(gp, [0.0])


# ------------------------------------------------------------------------- the start choice
def test_start_choice_checks_rows_and_says_why_it_skips():
    x, y = _product(40, 12)
    with pytest.raises(InputError, match="40 rows but the targets 39") as exc:
        _choose_start(x, y[:-1], TrainConfig(model=V5), "regression")
    _one_line(exc)
    start, info = _choose_start(x[:9], y[:9], TrainConfig(model=V5), "regression")
    assert start is None and info["skipped"].startswith("9 training rows")
    y_nan = y.copy()
    y_nan[3] = np.nan
    start, info = _choose_start(x, y_nan, TrainConfig(model=V5), "regression")
    assert start is None and info["skipped"] == "missing targets"


def test_start_choice_does_not_depend_on_the_trait_scale():
    x, y = _product(150, 12, noise=0.5)
    gains = []
    for s in (1.0, 1e6, 1e-6):
        _, info = _choose_start(x, (s * y).astype(np.float32), TrainConfig(model=V5), "regression")
        gains.append(info["loglik_gain"])
    np.testing.assert_allclose(gains, gains[0], rtol=1e-6)


def test_a_constant_trait_keeps_the_ridge_start_and_predicts_it():
    from snpcnn.datapath import predict_rows

    x, _ = _product(30, 12)
    res = train_cnn(x, np.full(30, 3.0, np.float32), TrainConfig(model=V5, epochs=1), seed=0)
    assert res.conv["start"] == "ridge"
    assert np.isfinite(res.conv["start_choice"]["loglik_gain"])
    np.testing.assert_allclose(np.asarray(predict_rows(res.model, x, 256)), 3.0, atol=1e-5)


@pytest.mark.parametrize(
    ("m", "dup", "noise"),
    [
        (3, 1, 0.1),  # fewer SNPs than the window width (5): one short window
        (7, 1, 0.1),  # not a multiple of 5: a last, shorter window
        (12, 3, 0.0),  # every sample three times, y exact: singular kernel, h2 at the bound
    ],
)
def test_kernel_start_on_awkward_genotypes(tmp_path, m, dup, noise):
    """Where REML picks the CNN-GP, the Keras model predicts the start (finite), also after
    a save and reload."""
    from snpcnn.datapath import predict_rows
    from snpcnn.models import load_model

    x, y = _product(120, m, noise=noise, dup=dup)
    res = train_cnn(x, y, TrainConfig(model=V5, epochs=1), seed=0)
    assert res.conv["start"] == "cnn_gp", res.conv["start_choice"]
    if noise == 0.0:
        assert res.start.gp.at_bound_  # residual variance at the edge: h2 ~ 1
    got = np.asarray(predict_rows(res.model, x, 256))[:, 0]
    want = res.start.predict(x)[:, 0]
    assert np.isfinite(got).all()
    assert np.corrcoef(got, y[:, 0])[0, 1] > 0.95
    if not res.conv["kept"][0]:
        np.testing.assert_allclose(got, want, atol=1e-4)
    path = tmp_path / "m.keras"
    res.model.save(path)
    again = np.asarray(load_model(path, compile=False).predict(x, verbose=0))[:, 0]
    np.testing.assert_allclose(again, got, atol=1e-4)  # float32, other batch size


# ----------------------------------------------------------------------------- end to end
def test_cli_fit_with_covariates_on_a_kernel_start_then_predict(tmp_path):
    from click.testing import CliRunner

    from snpcnn.cli import main

    rng = np.random.default_rng(4)
    n, m = 90, 7
    g = rng.binomial(2, 0.5, size=(n, m))
    ids = [f"s{i}" for i in range(n)]
    sex = rng.choice(["F", "M"], size=n)
    y = g[:, 2] * g[:, 3] + 3.0 * (sex == "M") + 0.1 * rng.normal(size=n)
    geno = pd.DataFrame(g, columns=[f"snp{j}" for j in range(m)])
    geno.insert(0, "sample_id", ids)
    geno.to_csv(tmp_path / "geno.csv", index=False)
    pd.DataFrame({"sample_id": ids, "y": 100.0 + y, "sex": sex}).to_csv(
        tmp_path / "pheno.csv", index=False
    )
    out = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(tmp_path / "geno.csv"), str(tmp_path / "pheno.csv"), "--covariates", "sex",
            "--epochs", "1", "--folds", "3", "--baselines", "none", "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "CNN-GP (infinite-width CNN" in r.output and "in 0 of 3 fits and" not in r.output
    pred = pd.read_csv(out / "predictions.csv")
    assert np.isfinite(pred["predicted"]).all()
    r = CliRunner().invoke(
        main,
        ["predict", str(out / "model.keras"), str(tmp_path / "geno.csv"), "--covariates",
         str(tmp_path / "pheno.csv")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    got = pd.read_csv(io.StringIO(r.stdout))
    assert np.isfinite(got["y"]).all()
    assert np.corrcoef(got["y"], y)[0, 1] > 0.98


def test_kernel_start_predicts_streamed_rows_like_an_array():
    """The CNN start's predictions of test rows read block by block from the genotypes
    (snpcnn.datapath.EncodedRows) equal those of the same rows as an array (before: the
    rows object was cast to an array)."""
    from snpcnn.datapath import EncodedRows
    from snpcnn.preprocess import GenotypePreprocessor
    from snpcnn.simulate import simulate_genotypes

    geno = simulate_genotypes(140, 10, seed=5)
    pre = GenotypePreprocessor().fit(geno, np.arange(100))
    x = pre.transform(geno, np.arange(140))
    g = x[:, :, 0]
    y = g[:, 1] * g[:, 2] + 0.1 * np.random.default_rng(5).normal(size=140)
    y = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    start, _ = _choose_start(x[:100], y[:100], TrainConfig(model=V5), "regression")
    assert start is not None
    streamed = start.predict(EncodedRows(geno, pre, np.arange(100, 140)))
    np.testing.assert_allclose(streamed, start.predict(x[100:]), rtol=1e-12, atol=1e-12)


def test_cross_fitted_convolutions_reject_ignored_seeds_and_too_few_rows(monkeypatch):
    """--seeds was silently ignored by the cross-fitted default, and conv_folds above the
    training rows crashed in a reshape: both are one-line errors now, raised before any start
    is fitted (a tune trial with such settings fails at once, not after a CNN-GP fit)."""
    import snpcnn.training as training
    from snpcnn.errors import InputError
    from snpcnn.training import TrainConfig, train_cnn

    def no_start(*a, **k):
        raise AssertionError("the start was fitted before the settings were checked")

    monkeypatch.setattr(training, "_choose_start", no_start)
    monkeypatch.setattr(training, "_fit_ridge", no_start)

    rng = np.random.default_rng(0)
    x = rng.binomial(2, 0.4, size=(40, 12, 1)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    with pytest.raises(InputError, match="n_seeds=3 does not apply to cross-fitted"):
        train_cnn(x, y, TrainConfig(model=V5, epochs=1, n_seeds=3), seed=0)
    with pytest.raises(
        InputError, match="need at least 40 training rows, this training part has 12"
    ):
        train_cnn(x[:12], y[:12], TrainConfig(model=V5, epochs=1, conv_folds=20), seed=0)


def test_the_report_says_where_no_start_choice_was_made():
    """Fits where REML made no choice (here: two traits at once) started at RR-BLUP; the
    report said 'chosen on each training part' without saying so."""
    from snpcnn.cv import CVResults
    from snpcnn.report import conv_kept_text

    skipped = {"skipped": "the kernel start takes one regression trait", "chosen": "ridge"}
    chosen = {"chosen": "cnn_gp", "reml_choice": "cnn_gp"}

    def hist(start, choice):
        return {"conv": {"start": start, "start_choice": choice, "kept": [False]}}

    res = CVResults.__new__(CVResults)
    res.histories = [hist("ridge", skipped), hist("ridge", skipped), hist("cnn_gp", chosen)]
    res.config = {"conv_folds": 5, "conv_gate": 0.05, "linear_init": "ridge_loo"}
    res.conv_kept = lambda: (0, 3)
    assert res.start_skips() == {"the kernel start takes one regression trait": 2}
    short = conv_kept_text(res, short=True)
    assert "in 1 of 3 fits and RR-BLUP (= GBLUP) in 2" in short
    assert short.endswith(
        "; no start choice was made in 2 of those fits, which started at RR-BLUP: "
        "the kernel start takes one regression trait (2)"
    )
    assert "Note: No start choice was made in 2 of those fits" in conv_kept_text(res)
    res.histories = res.histories[2:]
    assert "no start choice" not in conv_kept_text(res, short=True).lower()
