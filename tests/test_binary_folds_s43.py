"""Binary traits in tune, fold tables and stratified folds (a checking helper, session 43):
tune scored an undefined or collapsed inner fold as AUC 0.0 and had no stratified folds;
advice named --stratify where it was refused; a too-rare class was named by its 0/1 code;
results.md called a binary benchmark's plot "Pearson r"; a case/control column was only
"no trait column"."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from snpcnn.errors import InputError, InputWarning


def test_an_undefined_inner_fold_is_left_out_and_a_collapsed_one_is_no_information():
    from snpcnn.tune import _fold_score, _mean_defined

    def res(value, status):
        return {"metrics": [{"model": "CNN", "metric": "auc", "value": value, "status": status}]}

    assert _fold_score(res(0.7, "ok"), "auc") == 0.7
    assert _fold_score(res(float("nan"), "undefined"), "auc") is None
    assert _fold_score(res(float("nan"), "collapsed"), "auc") == 0.5  # not 0.0
    assert _fold_score(res(float("nan"), "collapsed"), "pearson_r") == 0.0
    assert _mean_defined([0.6, None, 0.5]) == pytest.approx(0.55)
    assert _mean_defined([None, None]) is None


def _trial(monkeypatch, statuses):
    import snpcnn.cv
    from snpcnn.tune import _trial_task

    def fake_cross_validate(*args, on_fold=None, **kwargs):
        for k, (v, status) in enumerate(statuses):
            row = {"model": "CNN", "metric": "auc", "value": v, "status": status}
            on_fold(0, k + 1, {"metrics": [row]})

    monkeypatch.setattr(snpcnn.cv, "cross_validate", fake_cross_validate)
    unit = SimpleNamespace(
        data={
            "storage": "/nonexistent/journal.log",
            "space": SimpleNamespace(configure=lambda params: {}),
            "params": {},
            "trait": "case",
            "inner": None,
            "common": {},
            "metric": "auc",
        }
    )
    return _trial_task(unit, None, None)


def test_a_trials_inner_score_is_the_mean_of_its_defined_folds(monkeypatch):
    out = _trial(monkeypatch, [(0.6, "ok"), (float("nan"), "undefined"), (0.5, "ok")])
    assert out["state"] == "complete" and out["value"] == pytest.approx(0.55)  # was 0.367
    assert out["scores"] == [0.6, None, 0.5]
    out = _trial(monkeypatch, [(float("nan"), "undefined")] * 2)
    assert out["state"] == "fail" and out["value"] is None
    assert "no inner test fold is defined" in out["error"]


def test_inner_strata_of_a_binary_trait():
    from snpcnn.tune import _inner_strata

    y = np.array([0, 1] * 10, dtype=float)
    np.testing.assert_array_equal(_inner_strata("binary", y, 5), y)
    assert _inner_strata("binary", np.r_[np.zeros(18), np.ones(2)], 5) is None  # too rare
    assert _inner_strata("regression", np.arange(20.0), 5) is None


@pytest.fixture(scope="module")
def binary(tmp_path_factory, example_data):
    """80 wheat samples x 48 SNPs; 'case' = GY_E1 above its median; quantitative GY_E1."""
    d = tmp_path_factory.mktemp("bin43")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=80).iloc[:, :49]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph = ph[ph["sample_id"].isin(x["sample_id"])][["sample_id", "GY_E1"]].copy()
    ph["case"] = (ph["GY_E1"] > ph["GY_E1"].median()).astype(int)
    ph.to_csv(d / "pheno.csv", index=False)
    return d


def test_tune_stratifies_a_binary_traits_folds(binary, tmp_path):
    from snpcnn.tune import tune

    space = {
        "model": "mlp",
        "fixed": {"epochs": 1, "batch_size": 16},
        "params": {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}},
    }
    kw = dict(space=space, inner_folds=3, n_trials=1, compare_default=False, force=True)
    with pytest.raises(InputError, match="stratify.*is for binary traits"):
        tune(binary / "geno.csv", binary / "pheno.csv", "GY_E1", folds=2, stratify=True, **kw)
    table = pd.DataFrame({"sample_id": pd.read_csv(binary / "pheno.csv")["sample_id"]})
    table["fold"] = np.arange(len(table)) % 2 + 1
    with pytest.raises(InputError, match="stratify.*shapes random folds, but the folds are given"):
        tune(binary / "geno.csv", binary / "pheno.csv", "case", folds=table, stratify=True, **kw)
    res = tune(
        binary / "geno.csv",
        binary / "pheno.csv",
        "case",
        folds=2,
        stratify=True,
        splits=[(0, 1)],
        out=tmp_path / "t",
        **kw,
    )
    config = json.loads((tmp_path / "t" / "run.json").read_text())["config"]
    assert config["stratify"] is True and config["inner_folds_stratified"] == 1
    trials = pd.read_csv(tmp_path / "t" / "trials.csv")
    assert trials[["inner_0", "inner_1", "inner_2"]].notna().all().all()
    assert res.trials is not None


def test_advice_for_a_one_class_fold_of_a_fold_table_names_no_refused_option(binary):
    from snpcnn.cv import cross_validate

    ph = pd.read_csv(binary / "pheno.csv")
    # fold 3 holds controls only
    fold = np.where(ph["case"] == 1, np.arange(len(ph)) % 2 + 1, np.arange(len(ph)) % 3 + 1)
    table = pd.DataFrame({"sample_id": ph["sample_id"], "fold": fold})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = cross_validate(
            binary / "geno.csv",
            binary / "pheno.csv",
            traits=["case"],
            folds=table,
            baselines=["ridge"],
            cnn=False,
            progress=False,
        )
    text = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    one = [t for t in text if "hold one class" in t]
    assert one and "give a fold table that puts both classes" in one[0]
    assert not any("stratify" in t for t in text)
    assert not any("stratify" in n for n in res.notes)


def test_a_too_rare_class_is_named_by_the_files_label(binary, tmp_path):
    from snpcnn.cv import cross_validate

    ph = pd.read_csv(binary / "pheno.csv")
    plink = np.ones(len(ph), dtype=int)  # PLINK 1 = control, 2 = case: 6 cases
    plink[:6] = 2
    (tmp_path / "p.pheno").write_text(
        "FID IID status\n"
        + "".join(f"{s} {s} {v}\n" for s, v in zip(ph["sample_id"], plink, strict=True))
    )
    with pytest.raises(
        InputError, match="needs at least 10 samples of each class; class '2' has 6"
    ):
        cross_validate(
            binary / "geno.csv",
            tmp_path / "p.pheno",
            traits=["status"],
            folds=10,
            stratify=True,
            baselines=["ridge"],
            cnn=False,
            progress=False,
        )


def test_results_md_names_the_plots_metric():
    from snpcnn.bench import _plot_metrics

    assert _plot_metrics({("d", "t"): "regression"}) == "mean Pearson r"
    assert _plot_metrics({("d", "t"): "binary"}) == "mean ROC AUC"
    both = {("d", "t"): "binary", ("d", "u"): "regression"}
    assert _plot_metrics(both) == "mean Pearson r (binary traits: mean ROC AUC)"


def test_a_case_control_column_is_named_in_the_no_trait_error(tmp_path):
    from snpcnn.io.phenotypes import read_phenotypes

    (tmp_path / "p.csv").write_text("sample_id,status,site\na,case,X\nb,control,Y\nc,case,Z\n")
    with pytest.raises(InputError, match="'status' holds the two text values 'case' and 'control'"):
        read_phenotypes(tmp_path / "p.csv").default_trait()


def test_group_folds_whose_training_part_lacks_a_class_name_no_refused_option(binary, tmp_path):
    """With --groups, --stratify is refused, so the advice for a training part of one class
    must not name it (a review, session 43)."""
    from snpcnn.cv import cross_validate

    ph = pd.read_csv(binary / "pheno.csv")
    controls = np.flatnonzero(ph["case"] == 0)
    fam = np.array(["A"] * len(ph), dtype=object)  # every case in family A
    fam[controls] = np.array(list("BCDE"))[np.arange(len(controls)) % 4]
    ph["fam"] = fam
    ph.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match="holds only the value 0") as err:
        cross_validate(
            binary / "geno.csv",
            tmp_path / "p.csv",
            traits=["case"],
            folds=3,
            groups="fam",
            baselines=["ridge"],
            cnn=False,
            progress=False,
        )
    assert "stratify" not in str(err.value) and "fewer folds" in str(err.value)


def test_a_dataset_of_binary_and_quantitative_traits_gets_a_figure_per_metric():
    """A mixed dataset plotted every trait's Pearson r, which a binary trait lacks, so it was
    missing from the figure while results.md promised its AUC (a review, session 43)."""
    from snpcnn.bench import _plot_groups

    d = SimpleNamespace(name="wheat", traits=["GY_E1", "case", "GY_E2"])
    bench = SimpleNamespace(
        config=SimpleNamespace(datasets=[d]),
        heads={("wheat", "GY_E1"): "regression", ("wheat", "case"): "binary"},
    )
    s = pd.DataFrame({"dataset": "wheat", "trait": ["GY_E1", "case", "GY_E2"]})
    groups = [(g.name, t, m) for g, t, m in _plot_groups(bench, s)]
    assert groups == [("wheat", ["GY_E1", "GY_E2"], "pearson_r"), ("wheat", ["case"], "auc")]
