"""snpcnn.tune: search spaces, nested CV that never sees the outer test fold, resume."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snpcnn.errors import InputError
from snpcnn.tune import default_space_path, load_space, tune

REPO = Path(__file__).resolve().parents[1]
TINY_ARCH = REPO / "benchmarks" / "configs" / "tiny_arch.toml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SPACE = {
    "model": str(TINY_ARCH),
    "fixed": {"epochs": 2, "batch_size": 16},
    "params": {
        "learning_rate": {"low": 1e-3, "high": 1e-1, "log": True},
        "filters": {"choices": [2, 4]},
    },
}


@pytest.fixture(scope="module")
def data(tmp_path_factory, example_data):
    """80 samples x 48 SNPs of the wheat example, trait GY_E1, and 2 outer folds."""
    d = tmp_path_factory.mktemp("tune")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=80).iloc[:, :49]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph = ph[ph["sample_id"].isin(x["sample_id"])][["sample_id", "GY_E1"]]
    ph.to_csv(d / "pheno.csv", index=False)
    ids = ph["sample_id"].astype(str).to_numpy()
    folds = pd.DataFrame({"sample_id": ids, "fold": np.arange(len(ids)) % 2 + 1})
    return d, ph, folds


def _run(d, pheno, folds, out, **kw):
    args = dict(
        space=SPACE,
        folds=folds,
        inner_folds=2,
        n_trials=2,
        splits=[(0, 1)],
        compare_default=False,
        force=True,
    )
    args.update(kw)
    return tune(d / "geno.csv", pheno, "GY_E1", out=out, **args)


# ----------------------------------------------------------------- spaces
def test_shipped_space_loads_and_is_not_listed_as_a_preset():
    from snpcnn.models import list_presets

    space = load_space()
    assert default_space_path().name == "snpcnn_default.space.toml"
    assert {"learning_rate", "linear_init", "filters", "kernel_stride"} <= set(space.names)
    assert not any("space" in p for p in list_presets())
    kw = space.configure({"kernel_stride": 3, "linear.l2": 0.5, "filters": 4})
    assert kw["model"]["screen"]["width"] == 3 and kw["model"]["linear"]["l2"] == 0.5
    conv = [b for b in kw["model"]["blocks"] if b["type"] == "conv"][0]
    assert (conv["kernel_size"], conv["strides"], conv["filters"]) == (3, 3, 4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"nonsense": {"low": 1, "high": 2}}, "params.nonsense: unknown or invalid key 'nonsense'"),
        ({"learning_rate": {"low": 0.1, "high": 0.01}}, "params.learning_rate: low (0.1)"),
        ({"learning_rate": {"low": 0.0, "high": 0.1, "log": True}}, "needs low > 0"),
        ({"learning_rate": {"low": 0.1}}, "params.learning_rate: a range needs both"),
        ({"filters": {"choices": []}}, "params.filters: choices must be a non-empty list"),
        ({"epochs": {"low": 1.5, "high": 3}}, "params.epochs: 'epochs' is a whole number"),
        ({"encoding": {"choices": [1, 2]}}, "params.encoding: 'encoding' takes strings"),
        ({"linear.l2": {"low": 1e-3, "high": 1.0}}, "has no [linear] section"),
        ({"screen.depth": {"choices": [1]}}, "params.screen.depth: unknown key"),
        ({"filters": {"low": 1, "hgh": 2}}, "params.filters: unknown key 'hgh'"),
        # session 47: Optuna could only draw `low` (a checking helper)
        ({"filters": {"low": 8, "high": 16, "step": 100}}, "params.filters: step (100) is larger"),
    ],
)
def test_bad_space_is_one_line_naming_the_key(tmp_path, params, message):
    body = f'model = "{TINY_ARCH}"\n[params]\n' + "\n".join(
        f'"{k}" = {_toml(v)}' for k, v in params.items()
    )
    p = tmp_path / "s.toml"
    p.write_text(body)
    with pytest.raises(InputError) as err:
        load_space(p)
    text = str(err.value)
    assert message in text and "\n" not in text and str(p) in text


def _toml(v: dict) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(x)}" for k, x in v.items()) + " }"


def test_space_file_errors(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("model = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_space(p)
    with pytest.raises(InputError, match="no such search space file"):
        load_space(tmp_path / "missing.toml")
    p.write_text("[params]\nfilters = { choices = [2] }\n[fixed]\nfilters = 4\n")
    with pytest.raises(InputError, match="fixed.filters: 'filters' is also searched"):
        load_space(p)
    p.write_text("[parms]\n")
    with pytest.raises(InputError, match="unknown key 'parms'"):
        load_space(p)


# ---------------------------------------------------------- nested CV
def test_outer_test_fold_never_influences_the_choice(data, tmp_path):
    """Poisoning: garbage outer-test phenotypes change nothing the search computes."""
    d, ph, folds = data
    clean = _run(d, d / "pheno.csv", folds, tmp_path / "clean")

    test_ids = set(folds.loc[folds["fold"] == 1, "sample_id"])
    poisoned = ph.copy()
    hit = poisoned["sample_id"].astype(str).isin(test_ids)
    assert hit.sum() == 40
    poisoned.loc[hit, "GY_E1"] = 1e6 * np.random.default_rng(0).standard_normal(hit.sum())
    poisoned.to_csv(d / "poisoned.csv", index=False)
    bad = _run(d, d / "poisoned.csv", folds, tmp_path / "poisoned")

    inner = [c for c in clean.trials.columns if c.startswith(("inner_", "param_"))]
    assert len(clean.trials) == 2 and clean.trials["state"].eq("complete").all()
    pd.testing.assert_frame_equal(clean.trials[inner], bad.trials[inner])
    pd.testing.assert_frame_equal(
        clean.chosen.drop(columns=["n_test"]), bad.chosen.drop(columns=["n_test"])
    )
    # ... while the poison did reach the outer test score (it is scored there, only there)
    r = lambda res: res.metrics.query("metric == 'rmse'")["value"].iloc[0]  # noqa: E731
    assert r(bad) > 1000 * r(clean)
    # and the comparison is sensitive: poisoning a training sample changes the trials
    train = ph.copy()
    one = train["sample_id"].astype(str).isin(set(folds.loc[folds["fold"] == 2, "sample_id"][:5]))
    train.loc[one, "GY_E1"] = 1e3
    train.to_csv(d / "train_poisoned.csv", index=False)
    moved = _run(d, d / "train_poisoned.csv", folds, tmp_path / "moved")
    assert not np.allclose(
        clean.trials["inner_score"].to_numpy(), moved.trials["inner_score"].to_numpy()
    )


def test_outputs_and_resume_after_an_interruption(data, tmp_path):
    d, _, folds = data
    out = tmp_path / "tuned"
    events = []

    def stop_after_first_trial(event, **info):
        events.append(event)
        if event == "trial":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(d, d / "pheno.csv", folds, out, progress=stop_after_first_trial, force=False)
    partial = tmp_path / "tuned.partial"
    assert (partial / "optuna.journal").is_file() and not out.exists()
    # without --resume or --force the unfinished tune is not discarded silently
    with pytest.raises(InputError, match="resume=True"):
        _run(d, d / "pheno.csv", folds, out, force=False)

    # other trait values for the same samples: the kept trial was scored on the old ones
    # (the stamp hashed the sample ids only: a checking helper, session 42)
    changed = tmp_path / "changed.csv"
    ph = pd.read_csv(d / "pheno.csv")
    ph["GY_E1"] = ph["GY_E1"].to_numpy()[::-1]
    ph.to_csv(changed, index=False)
    with pytest.raises(
        InputError, match=r"holds a tune with other inputs or settings \(what differs: data\)"
    ):
        _run(d, changed, folds, out, force=False, resume=True)

    trials_run = []
    _run(
        d,
        d / "pheno.csv",
        folds,
        out,
        force=False,
        resume=True,
        compare_default=True,
        progress=lambda e, **i: trials_run.append(i["trial"]) if e == "trial" else None,
    )
    assert trials_run == [1]  # trial 0 was kept from the interrupted run
    assert sorted(p.name for p in out.iterdir()) == [
        "chosen.csv",
        "chosen.json",
        "folds.csv",
        "metrics.csv",
        "optuna.journal",
        "outer",
        "predictions.csv",
        "run.json",
        "settings.json",
        "summary.md",
        "trials.csv",
    ]
    assert not partial.exists()
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns[:9]) == [
        "repeat",
        "fold",
        "model",
        "trait",
        "metric",
        "value",
        "status",
        "n_train",
        "n_test",
    ]
    r = metrics[metrics["metric"] == "pearson_r"]
    assert list(r["model"]) == ["CNN (tuned)", "CNN (default)", "GBLUP"]
    assert r["n_test"].nunique() == 1 and r["n_train"].iloc[0] + r["n_test"].iloc[0] == 80
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["trial"]) == [0, 1]
    # the resumed trial is not trial 0's settings again (a sampler seeded as at the start
    # drew them again: a checking helper, session 34)
    params = [c for c in trials.columns if c.startswith("param_")]
    assert trials.loc[0, params].tolist() != trials.loc[1, params].tolist()
    chosen = json.loads((out / "chosen.json").read_text())
    best = trials.loc[trials["inner_score"].idxmax()]
    assert chosen[0]["trial"] == best["trial"]
    assert chosen[0]["params"]["filters"] == best["param_filters"]
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["inner_folds"] == 2 and run["execution"]["executor"] == "serial"
    assert run["execution"]["threads"] >= 1
    assert "CNN (tuned)" in (out / "summary.md").read_text()


def test_the_summary_names_collapsed_and_undefined_folds_never_a_bare_nan():
    """A tuned CNN that collapsed on every outer fold read 'nan ± 0.000 (0 folds)', and one
    split's sd (undefined) '± 0.000' (a checking helper, session 42)."""
    from snpcnn.tune import TuneResults

    rows = []
    for fold, (tuned, status) in enumerate([(np.nan, "collapsed"), (0.4, "ok")], 1):
        for model, value, st in (("CNN (tuned)", tuned, status), ("GBLUP", 0.3 + fold / 10, "ok")):
            rows.append(
                {
                    "repeat": 0,
                    "fold": fold,
                    "model": model,
                    "metric": "pearson_r",
                    "value": value,
                    "status": st,
                }
            )
    res = TuneResults.__new__(TuneResults)
    res.metrics = pd.DataFrame(rows)
    res.head = "regression"
    cells = dict((m, (v, f)) for m, v, f in res.summary_cells())
    assert cells["CNN (tuned)"] == ("0.400", "1 (1 collapsed)")
    assert cells["GBLUP"] == ("0.450 ± 0.071", "2")
    res.metrics.loc[res.metrics["model"] == "CNN (tuned)", ["value", "status"]] = [
        np.nan,
        "collapsed",
    ]
    assert dict((m, (v, f)) for m, v, f in res.summary_cells())["CNN (tuned)"] == (
        "n/a",
        "0 (2 collapsed)",
    )


def test_n_trials_zero_is_refused_like_a_negative_one(data, tmp_path):
    """n_trials=0 ran the space's default budget (0 is falsy)."""
    d, _, folds = data
    for n in (0, -1, 1.5):
        with pytest.raises(InputError, match=f"n_trials={n}: give 1 or more"):
            _run(d, d / "pheno.csv", folds, tmp_path / "o", n_trials=n)


def test_a_sample_without_any_call_is_left_out_with_a_note(data, tmp_path):
    """As in snpcnn fit (session 42): tune scored a sample with no genotype call."""
    d, ph, folds = data
    x = pd.read_csv(d / "geno.csv")
    gone = str(x.iloc[3, 0])
    x.iloc[3, 1:] = np.nan
    x.to_csv(tmp_path / "geno.csv", index=False)
    shutil.copy(d / "pheno.csv", tmp_path / "pheno.csv")
    res = tune(
        tmp_path / "geno.csv",
        tmp_path / "pheno.csv",
        "GY_E1",
        space=SPACE,
        folds=2,
        inner_folds=2,
        n_trials=1,
        splits=[(0, 1)],
        compare_default=False,
        out=tmp_path / "o",
    )
    assert gone not in set(res.predictions["sample_id"].astype(str))
    assert gone not in set(res.folds["sample_id"].astype(str))
    assert any(f"no genotype call at any SNP (e.g. '{gone}')" in n for n in res.notes)


def test_too_few_samples_for_any_inner_k_is_named_as_such(data, tmp_path):
    """With 2 samples in an outer training part the advice was '--inner-folds 2 or fewer',
    the value that had just failed."""
    from snpcnn.tune import _check_inner_folds

    ids = np.array([f"s{i}" for i in range(5)])
    outer = pd.DataFrame({"sample_id": ids, "repeat": 0, "fold": [1, 1, 1, 2, 2]})
    with pytest.raises(InputError, match="no inner K-fold fits it.*fewer outer folds"):
        _check_inner_folds(2, outer, ids, [(0, 1), (0, 2)])


def test_a_trial_below_the_median_is_pruned_after_an_inner_fold(data, tmp_path):
    """The median pruner: a trial reports each inner fold and stops when it falls behind."""
    import optuna
    from optuna.distributions import FloatDistribution

    from snpcnn.executor import Unit
    from snpcnn.folds import make_folds
    from snpcnn.io.phenotypes import read_phenotypes
    from snpcnn.tune import _pruner, _storage, _trial_task

    d, ph, _ = data
    journal = str(tmp_path / "optuna.journal")
    study = optuna.create_study(
        study_name="s", storage=_storage(journal), pruner=_pruner(), direction="maximize"
    )
    dist = {"learning_rate": FloatDistribution(1e-3, 1e-1, log=True)}
    for _ in range(3):  # three finished trials that scored 0.9 on every inner fold
        study.add_trial(
            optuna.trial.create_trial(
                params={"learning_rate": 0.01},
                distributions=dist,
                value=0.9,
                intermediate_values={0: 0.9, 1: 0.9, 2: 0.9},
            )
        )
    trial = study.ask(dist)
    ids = ph["sample_id"].astype(str).to_numpy()
    unit = Unit(
        trait="GY_E1",
        trial=trial.number,
        data={
            "study": "s",
            "storage": journal,
            "trial_id": trial._trial_id,
            "params": {"learning_rate": trial.params["learning_rate"]},
            "space": load_space(SPACE),
            "inner": make_folds(ids, 3, 1, 0),
            "trait": "GY_E1",
            "metric": "pearson_r",
            "common": {"seed": 0},
        },
    )
    out = _trial_task(unit, d / "geno.csv", read_phenotypes(d / "pheno.csv"))
    # no fold of a tiny 2-epoch CNN reaches r = 0.9: stopped after the 1st of 3 inner folds
    assert out["state"] == "pruned" and len(out["scores"]) == 1 and out["value"] is None
    stored = optuna.load_study(study_name="s", storage=_storage(journal)).trials[-1]
    assert sorted(stored.intermediate_values) == [0]


def test_tied_trials_are_named_not_presented_as_a_choice(data, tmp_path):
    """Settings that change nothing (patience above the epochs) give every trial the same
    inner score: the summary says the earliest was taken for want of a difference."""
    d, _, folds = data
    space = {
        "model": str(TINY_ARCH),
        "fixed": {"epochs": 2, "batch_size": 16, "learning_rate": 0.01},
        "params": {"patience": {"choices": [5, 6, 7]}},
    }
    res = _run(d, d / "pheno.csv", folds, tmp_path / "t", space=space, n_trials=4)
    said = [n for n in res.notes if "had the same inner score" in n]
    assert len(said) == 1 and "reported as chosen" in said[0]
    assert said[0] in (tmp_path / "t" / "summary.md").read_text()


def test_a_trials_run_notes_are_not_logged_once_per_trial(monkeypatch, caplog):
    """A binary trait's note was printed once per trial (12 times in a small run; a checking
    helper, session 33): the outer units log the run's notes, a trial's inner CV does not."""
    import logging
    from types import SimpleNamespace

    import snpcnn.cv
    from snpcnn.tune import _trial_task

    def fake_cross_validate(*args, **kwargs):
        logging.getLogger("snpcnn.cv").warning("trait 'case' has two values")

    monkeypatch.setattr(snpcnn.cv, "cross_validate", fake_cross_validate)
    space = SimpleNamespace(configure=lambda params: {})
    unit = SimpleNamespace(
        data={
            "storage": "/nonexistent/journal.log",
            "space": space,
            "params": {},
            "trait": "case",
            "inner": None,
            "common": {},
            "metric": "auc",
        }
    )
    with caplog.at_level(logging.WARNING, logger="snpcnn.cv"):
        out = _trial_task(unit, None, None)
    assert out["state"] == "complete"
    assert not [r for r in caplog.records if "two values" in r.getMessage()]
    assert logging.getLogger("snpcnn.cv").level == logging.NOTSET  # restored


# ------------------------------------------- checked before anything runs
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[fixed]\nencoding = "onehto"', "fixed.encoding: unknown encoding 'onehto'; choose"),
        ('[fixed]\nlinear_init = "ridge_lo"', "fixed.linear_init: linear_init must be one of"),
        ("[fixed]\nepochs = 0", "fixed.epochs: epochs must be at least 1, got 0"),
        ("[fixed]\nval_fraction = 0.9", "fixed.val_fraction: val_fraction must be in [0, 0.5]"),
        ("[fixed]\nconv_folds = 1", "fixed.conv_folds: conv_folds must be 0 or an integer >= 2"),
        ("[params]\nbatch_size = { low = 0, high = 4 }", "params.batch_size: low 0: batch_size"),
        (
            "[params]\nlearning_rate = { low = -1.0, high = 0.01 }",
            "params.learning_rate: low -1.0: learning_rate must be positive",
        ),
        (
            '[params]\nscaling = { choices = ["center", "standardise"] }',
            "params.scaling: choice 'standardise': unknown scaling 'standardise'",
        ),
        ("[params]\nconv_folds = { low = 0, high = 4 }", "params.conv_folds: value 1 of the range"),
    ],
)
def test_bad_training_values_stop_load_space(tmp_path, body, message):
    """A bad value of a training setting stopped every trial, then the run (5 failed
    trials, then 'every trial failed'; a checking helper): load_space names it."""
    if "[params]" not in body:
        body += "\n[params]\nfilters = { choices = [2, 4] }"
    p = tmp_path / "sp.toml"
    p.write_text(f'model = "{TINY_ARCH}"\n{body}\n')
    with pytest.raises(InputError) as err:
        load_space(p)
    text = str(err.value)
    assert text.startswith(f"{p}: ") and message in text and "\n" not in text


def test_a_typo_in_fixed_is_named_as_fixed(tmp_path):
    """'[fixed] epoch = 2' was blamed on the first [params] key (params.filters)."""
    p = tmp_path / "sp.toml"
    p.write_text(
        f'model = "{TINY_ARCH}"\n[fixed]\nepochs = 2\nepoch = 2\nfiltrs = 3\n'
        "[params]\nfilters = { choices = [2, 4] }\n"
    )
    with pytest.raises(InputError, match=r"sp.toml: fixed\.epoch: unknown or invalid key 'epoch'"):
        load_space(p)
    p.write_text(p.read_text().replace("epoch = 2\n", ""))
    with pytest.raises(InputError, match=r"fixed\.filtrs: unknown or invalid key 'filtrs'"):
        load_space(p)
    p.write_text("[params]\nfilters = { choices = [2] }\n[fxed]\n")
    with pytest.raises(InputError, match=r"unknown key 'fxed'; .*\[fixed\] and \[params\]"):
        load_space(p)


@pytest.mark.parametrize(
    ("kw", "python", "cli"),
    [
        ({"min_maf": 0.7}, "min_maf=0.7: give a value in [0, 0.5]", "--min-maf 0.7: give"),
        ({"min_maf": -1}, "min_maf=-1: give a value in [0, 0.5]", "--min-maf -1: give"),
        ({"min_call_rate": 2}, "min_call_rate=2: give a value in [0, 1]", "--min-call-rate 2"),
        (
            {"inner_folds": 250},
            "inner_folds=250 with 40 phenotyped samples in the smallest outer training part "
            "leaves inner test folds of fewer than 3 samples: a score over 2 values is "
            "degenerate (Pearson r always +1 or -1, AUC 0 or 1), and each fold's score weighs "
            "as much as the others' in the mean; use inner_folds=13 or fewer",
            "--inner-folds 250 with 40 phenotyped samples",
        ),
    ],
)
def test_bad_settings_stop_the_tune_before_any_work(data, tmp_path, kw, python, cli):
    """--min-maf 0.7 failed every trial; --inner-folds 250 named --folds (make_folds'
    error for the outer folds); both left an OUT.partial that refused the next command."""
    from snpcnn.errors import CLI_MODE

    d, _, folds = data
    out = tmp_path / "o"
    with pytest.raises(InputError) as err:
        _run(d, d / "pheno.csv", folds, out, **kw)
    text = str(err.value)
    assert python in text and "\n" not in text and not re.search(r"(?<!inner_)folds=", text)
    token = CLI_MODE.set(True)
    try:
        with pytest.raises(InputError, match=re.escape(cli)):
            _run(d, d / "pheno.csv", folds, out, **kw)
    finally:
        CLI_MODE.reset(token)
    assert not out.exists() and not (tmp_path / "o.partial").exists()


def test_a_tune_with_no_finished_trial_leaves_nothing_that_blocks_the_next(
    data, tmp_path, monkeypatch
):
    """Every trial failing left OUT.partial/ with settings.json and optuna.journal only, and
    the corrected command was refused ('an unfinished tune is in ...')."""
    import snpcnn.cv

    d, _, folds = data
    out = tmp_path / "o"
    partial = tmp_path / "o.partial"

    def failing(*args, **kwargs):
        raise InputError("this configuration cannot be trained")

    with monkeypatch.context() as m:
        m.setattr(snpcnn.cv, "cross_validate", failing)
        with pytest.raises(InputError, match="every trial failed"):
            _run(d, d / "pheno.csv", folds, out, force=False)
    assert not partial.exists() and not out.exists()
    # a leftover of an older version (settings.json and a journal, no finished trial) is
    # discarded, not a reason to refuse the corrected command
    partial.mkdir()
    (partial / "settings.json").write_text("{}")
    (partial / "optuna.journal").write_text("")
    res = _run(d, d / "pheno.csv", folds, out, force=False)
    assert len(res.trials) == 2 and not partial.exists() and out.is_dir()


def test_a_trial_running_at_an_interruption_is_recorded_as_interrupted(data, tmp_path, monkeypatch):
    """trials.csv had an empty error for the trial that Ctrl-C stopped."""
    import snpcnn.tune as tune_module

    d, _, folds = data
    out = tmp_path / "o"
    real, calls = tune_module._trial_task, []

    def second_interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    with monkeypatch.context() as m:
        m.setattr(tune_module, "_trial_task", second_interrupted)
        with pytest.raises(KeyboardInterrupt):
            _run(d, d / "pheno.csv", folds, out, force=False)
    assert (tmp_path / "o.partial").is_dir()  # trial 0 finished: kept for --resume
    _run(d, d / "pheno.csv", folds, out, force=False, resume=True)
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["state"]) == ["complete", "fail", "complete"]
    assert trials.loc[1, "error"] == "interrupted"
