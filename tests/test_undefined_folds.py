"""A test fold whose observed values are all equal (a binary trait's fold without a case)
scores no model: "undefined", left out of means and comparisons, named in a note and warned
about before training.  It used to be reported as every model "predicting a constant"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.cv import cross_validate
from snpcnn.errors import InputError, InputWarning
from snpcnn.folds import level_text
from snpcnn.metrics import binary_metrics, paired_difference, regression_metrics


def test_metrics_say_undefined_not_collapsed():
    vals, status = binary_metrics(np.zeros(6), np.linspace(0.1, 0.6, 6))
    assert status == "undefined" and np.isnan(vals["auc"])
    assert binary_metrics(np.array([0, 1, 0, 1.0]), np.full(4, 0.3))[1] == "collapsed"
    vals, status = regression_metrics(np.full(5, 2.0), np.arange(5.0))
    assert status == "undefined" and np.isnan(vals["pearson_r"])


def test_paired_difference_leaves_undefined_folds_out():
    joined = pd.DataFrame(
        {
            "value": [0.7, np.nan, 0.6],
            "status": ["ok", "undefined", "ok"],
            "value_ref": [0.5, np.nan, 0.6],
            "status_ref": ["ok", "undefined", "ok"],
            "metric": "auc",
        }
    )
    out = paired_difference(joined)
    assert out["n_folds"] == 2 and out["mean_difference"] == pytest.approx(0.1)
    assert out["wins"] == 1 and out["ties"] == 1


@pytest.fixture
def rare_trait(example_data, tmp_path):
    pheno = pd.read_csv(example_data / "wheat_phenotypes.csv")
    rare = np.zeros(len(pheno), dtype=int)
    rare[[5, 100, 300]] = 1
    path = tmp_path / "rare.csv"
    pd.DataFrame({pheno.columns[0]: pheno.iloc[:, 0], "rare": rare}).to_csv(path, index=False)
    return example_data / "wheat.vcf.gz", path


def test_a_fold_without_cases_is_undefined_for_every_model(rare_trait):
    geno, pheno = rare_trait
    with pytest.warns(InputWarning, match=r"2 of 5 test folds hold one class of 'rare'"):
        res = cross_validate(
            geno, pheno, traits=["rare"], folds=5, baselines=["gblup"], cnn=False, progress=False
        )
    auc = res.metrics[res.metrics["metric"] == "auc"]
    assert sorted(auc["status"].unique()) == ["ok", "undefined"]
    assert (auc["status"] == "undefined").sum() == 2
    summary = res.summary().set_index(["model", "metric"])
    assert summary.loc[("GBLUP", "auc"), "count"] == 3
    assert summary.loc[("GBLUP", "auc"), "n_collapsed"] == 0
    # the accuracy has a value in an undefined fold (the share of its one class), but the
    # fold scores no model: left out of the mean as the AUC is (it was averaged in)
    acc = res.metrics[(res.metrics["metric"] == "accuracy") & (res.metrics["model"] == "GBLUP")]
    ok = acc[acc["status"] == "ok"]["value"]
    assert summary.loc[("GBLUP", "accuracy"), "count"] == 3
    assert summary.loc[("GBLUP", "accuracy"), "mean"] == pytest.approx(ok.mean())
    notes = [n for n in res.notes if "one class" in n]
    assert len(notes) == 2 and "is 0 (one class)" in notes[0] and "stratify=True" in notes[0]
    assert not any("predicted a constant" in n for n in res.notes)


@pytest.mark.parametrize("kw", [{"stratify": True}, {"groups": "GY_E2"}])
def test_fold_files_refuse_options_that_shape_random_folds(example_data, kw):
    with pytest.raises(InputError, match="shapes random folds, but the folds are given"):
        cross_validate(
            example_data / "wheat.vcf.gz",
            example_data / "wheat_phenotypes.csv",
            traits=["GY_E1"],
            folds=example_data / "wheat_cv_folds.csv",
            baselines=["gblup"],
            cnn=False,
            progress=False,
            **kw,
        )


def test_level_text():
    assert level_text(1.0) == "1" and level_text(0.5) == "0.5" and level_text("case") == "case"


def test_a_groups_column_of_nearly_unique_values_gets_a_note(example_data):
    res = cross_validate(
        example_data / "wheat.vcf.gz",
        example_data / "wheat_phenotypes.csv",
        traits=["GY_E1"],
        folds=3,
        groups="GY_E2",
        baselines=["gblup"],
        cnn=False,
        progress=False,
    )
    assert any("most groups hold one sample" in n for n in res.notes)


def test_a_training_part_with_one_value_is_refused_before_training(rare_trait, tmp_path):
    """All cases in one test fold: its training part holds only controls, so nothing can be
    learned there (the LASSO baseline used to stop the run after fold 1 with 'y is
    constant after the fixed effects'); refused up front, naming the trait, the fold and
    the fix."""
    geno, pheno = rare_trait

    def run(phenotypes, folds, **kw):
        cross_validate(
            geno, phenotypes, traits=["rare"], folds=folds, cnn=False, progress=False, **kw
        )

    ids = pd.read_csv(pheno).iloc[:, 0].astype(str)
    fold = np.arange(len(ids)) % 4
    fold[[5, 100, 300]] = 2
    with pytest.raises(InputError) as err:
        run(pheno, pd.DataFrame({"sample_id": ids, "fold": fold}), baselines=["lasso"])
    msg = str(err.value)
    assert "trait 'rare': the training part of fold 2 holds only the value 0" in msg
    assert "spreads rare's values over the folds" in msg and "\n" not in msg
    # random folds: the fix is --stratify (said in the Python spelling from Python)
    few = pd.read_csv(pheno)
    few["rare"] = 0
    few.loc[[7, 8], "rare"] = 1
    few.to_csv(tmp_path / "two_cases.csv", index=False)
    with pytest.raises(InputError, match=r"stratify=True, or use fewer folds"):
        run(tmp_path / "two_cases.csv", 2, baselines=["gblup"], seed=1)
    few.loc[[8], "rare"] = 0
    few.to_csv(tmp_path / "one_case.csv", index=False)
    with pytest.raises(InputError, match=r"one sample has another value"):
        run(tmp_path / "one_case.csv", 3, baselines=["gblup"])


def test_the_attribution_line_leaves_undefined_folds_out():
    """'Where the CNN hybrid's difference from GBLUP comes from' counted an undefined fold
    as a difference of 0 (+0.087 where the paired table said +0.131: a checking helper,
    session 39)."""
    from types import SimpleNamespace

    from snpcnn.cv import START_NAME, TRAIN_DEFAULTS
    from snpcnn.report import attribution_text

    cnn = "CNN hybrid (start + convolutions)"
    rows = []
    for fold, (a, s, g, status) in enumerate(
        [(0.835, 0.835, 0.687, "ok"), (0.776, 0.776, 0.662, "ok"), (np.nan,) * 3 + ("undefined",)],
        start=1,
    ):
        for model, v in ((cnn, a), (START_NAME, s), ("GBLUP", g)):
            rows.append(
                {"repeat": 0, "fold": fold, "model": model, "trait": "case", "metric": "auc",
                 "value": v, "status": status}
            )  # fmt: skip
    res = SimpleNamespace(
        models=[cnn, START_NAME, "GBLUP"],
        metrics=pd.DataFrame(rows),
        headline_metric="auc",
        config=dict(TRAIN_DEFAULTS),
    )
    text = attribution_text(res, "case")
    assert "CNN hybrid - GBLUP = +0.131 = +0.131 from its RR-BLUP start" in text


def test_a_rare_class_spread_unevenly_by_random_folds_is_warned_about(example_data, tmp_path):
    """A rare class, random 5-fold: a handful of cases per test fold and noisy AUCs, without
    a word (a checking helper, session 39). The fix offered fits the case: --stratify where
    it gives every fold 5 or more, fewer folds where even it cannot."""
    import warnings

    from snpcnn.folds import make_folds

    pheno = pd.read_csv(example_data / "wheat_phenotypes.csv")
    geno = example_data / "wheat.vcf.gz"
    ids = pheno.iloc[:, 0].astype(str).to_numpy()

    def trait(n_cases):
        rare = np.zeros(len(pheno), dtype=int)
        rare[np.random.default_rng(1).choice(len(pheno), n_cases, replace=False)] = 1
        path = tmp_path / f"rare{n_cases}.csv"
        pd.DataFrame({pheno.columns[0]: ids, "rare": rare}).to_csv(path, index=False)
        return path, rare

    kw = dict(traits=["rare"], folds=5, baselines=["gblup"], cnn=False, progress=False)
    # 12 cases: under 5 per fold however they are spread
    path, _ = trait(12)
    for stratify in (False, True):
        with pytest.warns(
            InputWarning,
            match=r"the rarer class of 'rare' has \d to \d samples per test fold.*fewer folds \(folds=2\)",
        ):
            res = cross_validate(geno, path, stratify=stratify, **kw)
        # a run note too, not only a console warning (session 46)
        assert any(n.startswith("the rarer class of 'rare' has") for n in res.notes)
    # 30 cases: a seed whose random folds leave one fold under 5; stratified, 6 each
    path, rare = trait(30)
    seed = next(
        s for s in range(50)
        if pd.Series(rare).groupby(make_folds(ids, k=5, seed=s)["fold"].to_numpy()).sum().min() < 5
    )  # fmt: skip
    with pytest.warns(InputWarning, match=r"stratify=True spreads them evenly"):
        cross_validate(geno, path, seed=seed, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        cross_validate(geno, path, seed=seed, stratify=True, **kw)
