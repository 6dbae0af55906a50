"""snpcnn.config: cross_validate's settings as five validated objects, same results as keywords."""

import inspect

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines import DEFAULT_BASELINES
from snpcnn.config import (
    DEFAULT_BASELINE_NAMES,
    GROUPS,
    BaselineConfig,
    DataConfig,
    ExecutionConfig,
    PreprocessConfig,
    TrainingConfig,
    from_keywords,
    keyword_names,
)
from snpcnn.cv import cross_validate
from snpcnn.errors import InputError
from snpcnn.training import TRAIN_DEFAULTS, TrainConfig

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY = {
    "name": "tiny",
    "blocks": [
        {"type": "conv", "filters": 2, "kernel_size": 4, "strides": 4},
        {"type": "flatten"},
        {"type": "dense", "units": 4},
    ],
}


def test_defaults_are_train_defaults_and_cross_validates():
    for key, value in TRAIN_DEFAULTS.items():
        cls = PreprocessConfig if key in ("encoding", "scaling") else TrainingConfig
        assert getattr(cls(), key) == value, key
        if hasattr(TrainConfig, key):
            assert getattr(TrainConfig(), key) == value, key
    assert DEFAULT_BASELINE_NAMES == DEFAULT_BASELINES == BaselineConfig().names
    # every keyword of cross_validate is in one group, with the group's default
    params = inspect.signature(cross_validate).parameters
    assert set(keyword_names()) == set(params) - {"genotypes", "phenotypes", *GROUPS} | {
        "baselines"
    }
    folded = from_keywords({}, {})
    for name in keyword_names():
        group = next(g for g in GROUPS if name in _fields(g))
        field = "names" if name == "baselines" else name
        want = getattr(folded[group], field)
        got = params[name].default
        assert got == want or (got is None and want in ((), {})), name


def _fields(group):
    import dataclasses

    names = [f.name for f in dataclasses.fields(GROUPS[group])]
    return ["baselines" if n == "names" else n for n in names]


def test_values_are_normalised_and_checked():
    d = DataConfig(traits="GY_E1", covariates=["env"], folds=np.int64(4), cv_scheme=" CV1 ")
    assert (d.traits, d.covariates, d.folds, d.cv_scheme) == (("GY_E1",), ("env",), 4, "cv1")
    assert BaselineConfig(names=[" GBLUP", "none", "Ridge"]).names == ("gblup", "ridge")
    bad = [
        (DataConfig, {"folds": 1}, "folds .* at least 2"),
        (DataConfig, {"repeats": 0}, "repeats must be at least 1"),
        (DataConfig, {"seed": 1.5}, "seed must be an integer"),
        (DataConfig, {"cv_scheme": "cv3"}, "cv_scheme must be one of cv1, cv2"),
        (PreprocessConfig, {"scaling": "zscore"}, "unknown scaling 'zscore'"),
        (PreprocessConfig, {"min_maf": 0.7}, "min_maf must be in"),
        (TrainingConfig, {"epochs": 0}, "epochs must be at least 1"),
        (TrainingConfig, {"learning_rate": 0}, "learning_rate must be positive"),
        (TrainingConfig, {"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)"),
        (TrainingConfig, {"conv_folds": 1}, "conv_folds must be 0 or an integer >= 2"),
        (TrainingConfig, {"linear_init": "ones"}, "linear_init must be one of"),
        (BaselineConfig, {"names": ["blup"]}, "blup"),
        (ExecutionConfig, {"workers": 0}, "workers must be at least 1"),
    ]
    for cls, kwargs, message in bad:
        with pytest.raises(InputError, match=message):
            cls(**kwargs)
        # the same value given as a cross_validate keyword fails the same way, before any file
        # is read (the genotype path does not exist)
        name = next(iter(kwargs))
        with pytest.raises(InputError, match=message):
            cross_validate("/nonexistent.bed", "/nonexistent.csv", **_kw(name, kwargs[name]))


def _kw(name, value):
    return {"baselines" if name == "names" else name: value}


def test_to_dict_round_trips():
    objs = [
        DataConfig(traits=["a", "b"], covariates=["env"], folds="folds.csv", repeats=1, seed=3),
        PreprocessConfig(encoding="onehot", scaling="none", min_maf=0.05, preselect_top_k=100),
        TrainingConfig(model="snpcnn_default", epochs=7, model_overrides={"dropout": 0.2}),
        BaselineConfig(names=["gblup", "rkhs"], ensemble=False),
        ExecutionConfig(refit=False, workers=2, threads=1),
    ]
    import json

    for obj in objs:
        d = json.loads(json.dumps(obj.to_dict()))  # plain data, as in run.json
        assert type(obj)(**d) == obj
    # a fold table and a model given as a function are named, not stored
    table = pd.DataFrame({"sample_id": ["a"], "fold": [1]})
    assert DataConfig(folds=table).to_dict()["folds"] == "table"

    def my_model(shape):  # pragma: no cover - never built
        return None

    assert TrainingConfig(model=my_model).to_dict()["model"] == "my_model"
    assert ExecutionConfig(progress=print, workers=2).to_dict() == {
        "refit": True,
        "workers": 2,
        "ray_address": None,
        "threads": None,
    }


def test_keywords_and_objects_merge_and_conflicts_are_errors():
    defaults = {k: p.default for k, p in inspect.signature(cross_validate).parameters.items()}
    # a keyword at its default defers to the object; one that differs sets its field
    out = from_keywords(
        {"training": TrainingConfig(epochs=5), "epochs": 200, "batch_size": 8}, defaults
    )
    assert (out["training"].epochs, out["training"].batch_size) == (5, 8)
    # the same value in both places is no conflict
    out = from_keywords({"training": TrainingConfig(epochs=5), "epochs": 5}, defaults)
    assert out["training"].epochs == 5
    # the trait from the keyword, the folds from the object (docs/user-guide.md)
    out = from_keywords({"traits": "GY_E2", "data": DataConfig(folds=10)}, defaults)
    assert (out["data"].traits, out["data"].folds) == (("GY_E2",), 10)
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        from_keywords({"epoch": 3}, defaults)
    # baselines as a list, or as the object
    out = from_keywords({"baselines": ["GBLUP"], "ensemble": False}, defaults)
    assert out["baselines"] == BaselineConfig(names=("gblup",), ensemble=False)
    with pytest.raises(InputError, match=r"epochs=10 and training.epochs=5 disagree"):
        from_keywords({"training": TrainingConfig(epochs=5), "epochs": 10}, defaults)
    with pytest.raises(InputError, match="folds=3 and data.folds=4 disagree"):
        cross_validate("/x.bed", "/x.csv", folds=3, data=DataConfig(folds=4))
    with pytest.raises(InputError, match="training= must be a snpcnn.config.TrainingConfig"):
        cross_validate("/x.bed", "/x.csv", training=DataConfig())


@pytest.fixture(scope="module")
def tiny_data(example_data):
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    g = read_genotypes(example_data / "wheat.bed")
    g = g.subset(samples=np.arange(80), variants=np.arange(64))
    return g, read_phenotypes(example_data / "wheat_phenotypes.csv")


def test_keywords_and_config_objects_give_identical_results(tiny_data):
    g, ph = tiny_data
    stored: list = []
    res_kw = cross_validate(
        g,
        ph,
        "GY_E1",
        folds=2,
        seed=4,
        model=TINY,
        epochs=2,
        batch_size=16,
        patience=1,
        conv_folds=0,
        scaling="standardize",
        min_maf=0.01,
        baselines=["gblup", "ridge"],
        refit=False,
        on_fold=lambda r, f, res: stored.append((r, f)),
    )
    seen: list = []
    res_cfg = cross_validate(
        g,
        ph,
        data=DataConfig(traits="GY_E1", folds=2, seed=4),
        preprocessing=PreprocessConfig(scaling="standardize", min_maf=0.01),
        training=TrainingConfig(model=TINY, epochs=2, batch_size=16, patience=1, conv_folds=0),
        baselines=BaselineConfig(names=("gblup", "ridge")),
        execution=ExecutionConfig(refit=False, on_fold=lambda r, f, res: seen.append((r, f))),
    )
    assert stored == seen == [(0, 1), (0, 2)]
    assert res_kw.models == res_cfg.models == ["CNN", "GBLUP", "ridge", "CNN+GBLUP"]
    pd.testing.assert_frame_equal(res_kw.metrics, res_cfg.metrics)
    pd.testing.assert_frame_equal(res_kw.predictions, res_cfg.predictions)
    assert res_kw.config == res_cfg.config
    assert res_cfg.config["scaling"] == "standardize" and res_cfg.config["seed"] == 4
    # another seed changes the folds and the numbers: the comparison above can fail
    other = cross_validate(
        g,
        ph,
        data=DataConfig(traits="GY_E1", folds=2, seed=5),
        training=TrainingConfig(cnn=False),
        baselines=["gblup"],
        execution=ExecutionConfig(refit=False),
    )
    ours = res_cfg.predictions[res_cfg.predictions["model"] == "GBLUP"]
    theirs = other.predictions[other.predictions["model"] == "GBLUP"]
    assert not np.array_equal(ours["predicted"].to_numpy(), theirs["predicted"].to_numpy())


def test_folds_as_executor_units_take_the_config_objects(tiny_data):
    """cross_validate_parallel (serial executor here) with config objects: the serial result."""
    from snpcnn.executor import cross_validate_parallel

    g, ph = tiny_data
    settings = dict(
        data=DataConfig(traits="GY_E2", folds=2, seed=1),
        training=TrainingConfig(cnn=False),
        baselines=BaselineConfig(names=("ridge",)),
    )
    events: list = []
    serial = cross_validate(g, ph, **settings, execution=ExecutionConfig(refit=False))
    units = cross_validate_parallel(
        g,
        ph,
        **settings,
        execution=ExecutionConfig(refit=False, progress=lambda e, **i: events.append(e)),
    )
    pd.testing.assert_frame_equal(serial.predictions, units.predictions, check_exact=True)
    assert "tasks" in events and units.config["execution"]["executor"] == "serial"
    assert units.config["execution"]["threads"] >= 1
    with pytest.raises(TypeError, match="no skip= or on_fold="):
        cross_validate_parallel(g, ph, skip=lambda r, f: None, **settings)


def test_workers_send_the_folds_to_the_executor(tiny_data):
    """workers=/ray_address= run the folds through snpcnn.executor (here: an address where
    nothing listens, refused before any fold is fitted), never with resume hooks."""
    g, ph = tiny_data
    with pytest.raises(InputError, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        cross_validate(g, ph, "GY_E1", folds=2, ray_address="127.0.0.1:9")
    with pytest.raises(InputError, match="do not combine with workers"):
        cross_validate("/x.bed", "/x.csv", workers=2, skip=lambda r, f: None)


def test_baseline_names_are_canonical_whatever_their_spelling():
    """'eg_blup' is accepted and was reported under that raw name instead of EG-BLUP (a
    benchmark in session 33); every spelling now maps to one key, each once."""
    from snpcnn.baselines import BASELINE_LABELS

    names = BaselineConfig(
        names=["GBLUP", "eg_blup", "GBLUP-AD", "rrblup", "ridge", "MT-GBLUP", "none"]
    ).names
    assert names == ("gblup", "egblup", "gblup_ad", "ridge", "mtgblup")
    assert [BASELINE_LABELS[n] for n in names[:4]] == ["GBLUP", "EG-BLUP", "GBLUP-AD", "ridge"]
