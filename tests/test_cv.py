"""Cross-validation engine: no leakage, same folds for every model, determinism, collapse."""

import warnings

import numpy as np
import pandas as pd
import pytest

from snpcnn.cv import cross_validate
from snpcnn.genotypes import Genotypes
from snpcnn.io.phenotypes import read_phenotypes
from snpcnn.report import summary_markdown

TINY = {
    "name": "tiny",
    "blocks": [
        {"type": "conv", "filters": 4, "kernel_size": 4, "strides": 4},
        {"type": "flatten"},
        {"type": "dense", "units": 8},
    ],
}
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAST = dict(model=TINY, epochs=3, batch_size=32, patience=2, refit=False)


@pytest.fixture(scope="module")
def wheat_small(example_data):
    from snpcnn.io import read_genotypes

    g = read_genotypes(example_data / "wheat.bed")
    g = g.subset(samples=np.arange(150), variants=np.arange(256))
    ph = read_phenotypes(example_data / "wheat_phenotypes.csv")
    folds = pd.DataFrame({"sample_id": g.samples, "fold": np.arange(150) % 3 + 1})
    return g, ph, folds


def _poison(g: Genotypes, ph, ids):
    d = np.array(g.dosages, copy=True)
    rows = np.flatnonzero(np.isin(g.samples.astype(str), ids))
    d[rows] = np.random.default_rng(99).integers(0, 3, size=(len(rows), g.n_snps))
    g2 = Genotypes(d, g.samples, g.variants, source=g.source)
    table = ph.table.copy()
    table.loc[list(ids), "GY_E1"] = 1000.0
    ph2 = type(ph)(
        table=table,
        traits=ph.traits,
        covariates=ph.covariates,
        source=ph.source,
        categorical=ph.categorical,
    )
    return g2, ph2


def test_poisoning_the_test_fold_changes_nothing_fitted(wheat_small):
    g, ph, folds = wheat_small
    fitted = {}

    def record(store):
        return lambda r, f, res: store.__setitem__(f, res["fitted"])

    clean: dict = {}
    cross_validate(g, ph, "GY_E1", folds=folds, on_fold=record(clean), **FAST)
    test_ids = folds.loc[folds["fold"] == 1, "sample_id"].to_numpy()
    g2, ph2 = _poison(g, ph, test_ids)
    poisoned: dict = {}
    res = cross_validate(g2, ph2, "GY_E1", folds=folds, on_fold=record(poisoned), **FAST)
    # fold 1 never trained on the poisoned samples: CNN weights, preprocessing, GBLUP,
    # ridge and RKHS fits are bit-for-bit the same
    assert clean[1] == poisoned[1]
    keys = ("preprocessing", "cnn_weights", "GBLUP:GY_E1", "ridge:GY_E1", "RKHS:GY_E1")
    assert set(clean[1]) >= set(keys)
    # ... while folds 2 and 3, which train on them, do change (so the check can fail)
    for f in (2, 3):
        for key in keys:
            assert clean[f][key] != poisoned[f][key], key
    fitted.update(clean)
    assert set(res.models) == {"CNN", "GBLUP", "ridge", "RKHS", "CNN+GBLUP"}


def test_same_seed_gives_bitwise_identical_results(wheat_small):
    g, ph, folds = wheat_small
    a = cross_validate(g, ph, "GY_E2", folds=folds, seed=5, **FAST)
    b = cross_validate(g, ph, "GY_E2", folds=folds, seed=5, **FAST)
    pd.testing.assert_frame_equal(a.metrics, b.metrics, check_exact=True)
    pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
    c = cross_validate(g, ph, "GY_E2", folds=folds, seed=6, baselines=(), **FAST)
    cnn_a = a.predictions[a.predictions.model == "CNN"]["predicted"].to_numpy()
    assert not np.array_equal(cnn_a, c.predictions["predicted"].to_numpy())


def test_every_model_scored_on_the_same_folds_and_samples(wheat_small):
    g, ph, folds = wheat_small
    res = cross_validate(g, ph, "GY_E1", folds=3, seed=1, **FAST)
    p = res.predictions
    per_model = {m: set(zip(d.sample_id, d.fold)) for m, d in p.groupby("model")}
    first = next(iter(per_model.values()))
    assert all(v == first for v in per_model.values())
    assert len(first) == 150  # every sample predicted once, out of fold
    s = res.summary()
    assert set(s.metric) == {"pearson_r", "spearman_rho", "r2", "rmse", "mae"}


def test_collapsed_cnn_is_reported_and_counted_as_a_loss(wheat_small):
    g, ph, folds = wheat_small
    import keras

    def dead(input_shape, head, n_outputs, name):
        # the only hidden unit is a ReLU that starts (and stays) dead: constant output
        inp = keras.Input(input_shape)
        h = keras.layers.Dense(
            1,
            activation="relu",
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(-1.0),
        )(keras.layers.Flatten()(inp))
        return keras.Model(inp, keras.layers.Dense(n_outputs)(h), name=name)

    res = cross_validate(
        g, ph, "GY_E1", folds=folds, model=dead, epochs=2, refit=False, baselines=("gblup",)
    )
    m = res.metrics[(res.metrics.model == "CNN") & (res.metrics.metric == "pearson_r")]
    assert (m["status"] == "collapsed").all()
    pr = res.paired("GBLUP")
    row = pr[pr.model == "CNN"].iloc[0]
    assert row.wins == 0 and row.n_collapsed == 3
    from snpcnn.report import summary_markdown

    md = summary_markdown(res)
    assert "collapsed" in md and "| nan" not in md.lower()


def test_multi_trait_masks_missing_values(wheat_small):
    g, ph, folds = wheat_small
    table = ph.table.copy()
    table.loc[table.index[:40], "GY_E2"] = np.nan
    ph2 = type(ph)(table=table, traits=ph.traits, source=ph.source)
    res = cross_validate(g, ph2, ["GY_E1", "GY_E2"], folds=folds, baselines=("ridge",), **FAST)
    n = res.predictions.groupby(["trait", "model"]).size()
    assert n[("GY_E1", "CNN")] == 150
    assert n[("GY_E2", "CNN")] == 150 - len(set(table.index[:40]) & set(g.samples))


def test_binary_trait_uses_auc_and_stratified_folds(wheat_small):
    g, ph, _ = wheat_small
    table = ph.table.copy()
    table["high_yield"] = (table["GY_E1"] > table["GY_E1"].median()).astype(float)
    table["family"] = [f"fam{i % 12}" for i in range(len(table))]
    ph2 = type(ph)(table=table, traits=[*ph.traits, "high_yield"], source=ph.source)
    res = cross_validate(g, ph2, "high_yield", folds=3, stratify=True, **FAST)
    assert res.head == "binary" and res.headline_metric == "auc"
    assert set(res.metrics.metric) == {"auc", "accuracy"}
    p = res.predictions[res.predictions.model == "CNN"]
    assert p.predicted.between(0, 1).all() and set(p.observed) == {0.0, 1.0}
    # the baselines beside a sigmoid network are linear probability models, and a note says so
    assert any(
        "GBLUP" in n and "on the observed 0/1 scale, not the liability" in n for n in res.notes
    )
    # stratified: every test fold has the class balance of the whole set
    frac = p.groupby("fold")["observed"].mean()
    assert (frac - p["observed"].mean()).abs().max() < 0.03
    # summary.md (and the console) say the folds were stratified (only run.json did)
    from snpcnn.report import summary_markdown

    folds_line = next(ln for ln in summary_markdown(res).splitlines() if ln.startswith("- folds:"))
    assert "stratified: each fold holds the classes in the trait's proportions" in folds_line
    grouped = cross_validate(g, ph2, "GY_E1", folds=3, groups="family", baselines=(), **FAST)
    fam = table.loc[grouped.predictions.sample_id, "family"].to_numpy()
    assert (grouped.predictions.assign(fam=fam).groupby("fam").fold.nunique() == 1).all()


def test_a_group_written_2_and_2_point_0_is_one_group(wheat_small):
    """'2' and '2.0' in a groups column are one family (they were two, split over folds)."""
    g, ph, _ = wheat_small
    table = ph.table.copy()
    table["family"] = [f"{i % 12}" + (".0" if (i // 12) % 2 else "") for i in range(len(table))]
    ph2 = type(ph)(table=table, traits=list(ph.traits), source=ph.source)
    res = cross_validate(g, ph2, "GY_E1", folds=3, groups="family", cnn=False, **FAST)
    fam = table.loc[res.predictions.sample_id, "family"].str.replace(".0", "", regex=False)
    assert (res.predictions.assign(fam=fam.to_numpy()).groupby("fam").fold.nunique() == 1).all()


def test_snp_preselection_inside_folds_and_in_the_final_model(wheat_small):
    g, ph, folds = wheat_small
    kept = []
    res = cross_validate(
        g,
        ph,
        "GY_E1",
        folds=folds,
        preselect_top_k=40,
        baselines=("ridge",),
        on_fold=lambda r, f, out: kept.append(out["fitted"]["preprocessing"]),
        **{**FAST, "refit": True},
    )
    assert res.final_bundle.preprocessor.n_snps == 40
    assert len(set(kept)) == 3  # each fold selects on its own training part
    # summary.md and run.json say how many SNPs each fold's models saw, and why
    counts = res.data_report["snps_per_fold"]
    assert [(c["fold"], c["snps_in"], c["snps_used"]) for c in counts] == [
        (f, 256, 40) for f in (1, 2, 3)
    ]
    line = next(x for x in summary_markdown(res).splitlines() if x.startswith("- SNPs used"))
    assert "40 of 256 in every fold" in line and "at most 40" in line, line
    with pytest.raises(Exception, match="one trait at a time"):
        cross_validate(g, ph, ["GY_E1", "GY_E2"], folds=folds, preselect_top_k=40, **FAST)


def test_binary_trait_default_hybrid_is_a_linear_probability_model_with_covariates(wheat_small):
    """Session 32: a binary trait's default CNN trains as a linear probability model on the
    0/1 codes, with the covariates by GLS, as GBLUP does: its RR-BLUP start is GBLUP's fit
    (it was a sigmoid network from zero, blind to the covariates, far below GBLUP), and the
    saved model predicts with the covariates."""
    from snpcnn.cv import HYBRID_NAME

    g, ph, folds = wheat_small
    table = ph.table.copy()
    table["high_yield"] = (table["GY_E1"] > table["GY_E1"].median()).astype(float)
    table["block"] = [f"b{i % 3}" for i in range(len(table))]
    ph2 = type(ph)(
        table=table,
        traits=[*ph.traits, "high_yield"],
        covariates=["block"],
        categorical=["block"],
        source=ph.source,
    )
    res = cross_validate(
        g, ph2, "high_yield", folds=folds, covariates=["block"], epochs=2,
        baselines=("gblup",), model="snpcnn_default_v4",  # RR-BLUP start only
    )  # fmt: skip
    assert res.config["cnn_head"] == "regression" and res.headline_metric == "auc"
    p = res.predictions.pivot_table(
        index=["fold", "sample_id"], columns="model", values="predicted"
    )
    start = [m for m in p.columns if m.startswith("CNN start")][0]
    assert HYBRID_NAME in p.columns
    # the RR-BLUP start is GBLUP on the 0/1 trait with the covariates: the same predictions
    np.testing.assert_allclose(p[start], p["GBLUP"], atol=1e-4)
    assert any("linear probability model" in n for n in res.notes)
    assert not any("does not use the covariates" in n for n in res.notes)
    b = res.final_bundle
    assert b.head == "regression" and b.binary_levels
    cov = np.eye(3)[np.arange(g.n_samples) % 3][:, 1:]  # block b1, b2 dummies
    out = b.predict(g, covariates=cov)
    assert np.isfinite(out["high_yield"]).all()


def test_the_poorly_called_samples_note_does_not_promise_predictions_near_the_mean(tmp_path):
    """The note said such samples' predictions "lie near the mean": true of a linear model,
    not of the default's CNN-GP start (the 82nd percentile for a sample with no calls)."""
    from snpcnn.simulate import simulate_genotypes, simulate_phenotype

    g = simulate_genotypes(60, 50, seed=1)
    g.dosages[0, :40] = -1  # called at 10 of 50 SNPs
    y, _ = simulate_phenotype(g, seed=1)
    pheno = tmp_path / "p.csv"
    pd.DataFrame({"sample_id": g.samples, "t": np.asarray(y)}).to_csv(pheno, index=False)
    res = cross_validate(g, pheno, "t", folds=3, cnn=False, baselines=["ridge"])
    note = [n for n in res.notes if "sample(s) have calls at fewer than" in n]
    assert len(note) == 1 and "near the mean" not in note[0]
    assert "a linear model's lean toward the training average" in note[0]
    assert "a kernel start's or the convolutions' need not" in note[0]


def test_a_sample_without_any_call_is_left_out_of_cross_validation(tmp_path):
    """Cross-validation predicted and scored a sample with no genotype call (the CNN-GP
    start put it at its test fold's 93rd percentile), which predict leaves empty; and the
    note rounded 49.96% up to '50.0%' (a checking helper, session 42)."""
    from snpcnn.simulate import simulate_genotypes, simulate_phenotype

    g = simulate_genotypes(60, 50, seed=1)
    y, _ = simulate_phenotype(g, seed=1)
    g.dosages[4, :] = -1
    g.dosages[7, :25] = -1  # 25 of 50 called: exactly 50%, no note
    g.dosages[8, :] = np.where(np.arange(50) < 26, -1, g.dosages[8, :])  # 24 of 50: 48%
    pheno = tmp_path / "p.csv"
    pd.DataFrame({"sample_id": g.samples, "t": np.asarray(y)}).to_csv(pheno, index=False)
    res = cross_validate(g, pheno, "t", folds=3, cnn=False, baselines=["ridge"])
    assert str(g.samples[4]) not in set(res.predictions["sample_id"])
    assert res.predictions["sample_id"].nunique() == 59
    (left,) = [n for n in res.notes if "no genotype call at any SNP" in n]
    assert left.startswith(
        f"1 phenotyped sample(s) have no genotype call at any SNP (e.g. '{g.samples[4]}') and were left out"
    )
    (low,) = [n for n in res.notes if "have calls at fewer than" in n]
    assert low.startswith(
        f"1 sample(s) have calls at fewer than 50% of the SNPs (lowest: '{g.samples[8]}', 48.0%)"
    )
    g2 = simulate_genotypes(60, 2001, seed=1)
    g2.dosages[8, :1001] = -1  # 1,000 of 2,001 called: 49.98%, printed 49.9%, not 50.0%
    res = cross_validate(g2, pheno, "t", folds=3, cnn=False, baselines=["ridge"])
    (low,) = [n for n in res.notes if "have calls at fewer than" in n]
    assert f"'{g2.samples[8]}', 49.9%)" in low


def test_conv_folds_0_says_what_the_default_trains_without(wheat_small):
    """The default's screen and start choice run only on cross-fitted networks: with
    conv_folds=0 its windows stayed evenly spaced and its start RR-BLUP without a word."""
    from snpcnn.errors import InputWarning

    g, ph, _ = wheat_small
    with pytest.warns(InputWarning, match="conv_folds=0: its SNP screen") as caught:
        res = cross_validate(
            g, ph, "GY_E1", folds=2, conv_folds=0, epochs=1, baselines=(), refit=False
        )
    (msg,) = [str(w.message) for w in caught if "conv_folds=0" in str(w.message)]
    assert "its start choice (the start is RR-BLUP)" in msg and msg in res.notes
    # a network without them: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        cross_validate(g, ph, "GY_E1", folds=2, baselines=(), **{**FAST, "conv_folds": 0})


def test_summary_names_snps_that_differ_between_folds():
    from snpcnn.report import _snp_lines

    counts = [
        {"snps_in": 1279, "snps_after_qc": 1279, "snps_used": 79},
        {"snps_in": 1279, "snps_after_qc": 1277, "snps_used": 177},
    ]
    (line,) = _snp_lines({"min_call_rate": 0.9, "preselect_p": 1e-3}, counts)
    assert line.startswith("- SNPs used: 79 to 177 of 1,279 (per fold: run.json"), line
    assert "call rate >= 0.9 (1,277 to 1,279 left)" in line and "p < 0.001" in line, line
    assert _snp_lines({}, []) == []  # an older run.json: no line rather than a wrong one


def test_gblup_ad_on_inbred_lines_says_its_dominance_is_none(wheat_small):
    """The wheat lines carry no heterozygous call: GBLUP-AD's 'dominance' share (0.7 on
    GY_E1) is another additive kernel, and the run must say so, not only its notes_."""
    g, ph, folds = wheat_small
    res = cross_validate(g, ph, "GY_E1", folds=folds, cnn=False, baselines=("gblup_ad",))
    hits = [n for n in res.notes if "GBLUP-AD: no heterozygous calls" in n]
    assert len(hits) == 1 and "no evidence of dominance" in hits[0], res.notes
