"""Bad input through the Python API: one clear InputError, never a silently wrong result
(session 30's API fuzzing pass)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines import EGBLUP, GBLUP, GBLUPAD, RKHS
from snpcnn.cv import cross_validate
from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.simulate import simulate_genotypes, simulate_trait


@pytest.mark.parametrize(
    "values, fragment",
    [
        ([[0.4, 1.6], [2, 0]], "0.4"),
        ([[300, 1], [0, 1]], "300"),
        ([[np.inf, 1], [0, 1]], "inf"),
        ([[-7, 1], [0, 1]], "-7"),
    ],
)
def test_genotypes_refuse_values_that_are_no_dosage(values, fragment):
    with pytest.raises(InputError, match="must be 0, 1 or 2") as e:
        Genotypes(np.array(values, dtype=float), ["a", "b"])
    assert fragment in str(e.value) and "np.float" not in str(e.value)  # no numpy repr


def test_genotypes_take_nan_and_minus_one_as_missing():
    g = Genotypes(np.array([[np.nan, 1.0], [2.0, -1.0]]), ["a", "b"])
    np.testing.assert_array_equal(g.dosages, [[-1, 1], [2, -1]])


@pytest.mark.parametrize("model", [GBLUP, GBLUPAD, EGBLUP])
def test_dosage_models_refuse_values_outside_0_2(model):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(40, 30)).astype(float)
    y = rng.normal(size=40)
    X[3, 4] = -1  # a raw missing code
    with pytest.raises(InputError, match="outside 0..2"):
        model().fit(X, y)


@pytest.mark.parametrize("model", [RKHS, GBLUPAD, EGBLUP])
def test_kernel_models_take_a_dataframe(model):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(40, 30)).astype(float)
    y = X[:, 0] + rng.normal(size=40)
    a = model().fit(pd.DataFrame(X), y).predict(pd.DataFrame(X[:5]))
    np.testing.assert_allclose(a, model().fit(X, y).predict(X[:5]))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    g = simulate_genotypes(60, 50, seed=1)
    y, _ = simulate_trait(g, architecture="polygenic", n_loci=20, h2=0.5, seed=2)
    pheno = d / "p.csv"
    pd.DataFrame({"sample_id": g.samples, "t": np.asarray(y)}).to_csv(pheno, index=False)
    return g, pheno


@pytest.mark.parametrize(
    "table, fragment",
    [
        (
            lambda ids: pd.DataFrame({"sample_id": ids, "fold": (np.arange(60) % 3 + 1) * 1.5}),
            "1.5",
        ),
        (lambda ids: pd.DataFrame({"sample_id": ids, "fold": ["a"] * 60}), "'a'"),
        (lambda ids: pd.DataFrame({"sample_id": ids}), "no column 'fold'"),
        (lambda ids: pd.DataFrame({"sample_id": [*ids, ids[0]], "fold": [0] * 61}), "once"),
    ],
)
def test_a_bad_fold_dataframe_is_refused(small, table, fragment):
    g, pheno = small
    with pytest.raises(InputError) as e:
        cross_validate(
            g, str(pheno), "t", folds=table(list(g.samples)), cnn=False, baselines=["gblup"]
        )
    assert fragment in str(e.value)


def test_cross_validate_argument_mistakes(small):
    g, pheno = small
    with pytest.raises(InputError, match="genotypes must be a path or"):
        cross_validate(g.dosages, str(pheno), "t", cnn=False, baselines=["gblup"])
    with pytest.raises(InputError, match="phenotypes must be a path or"):
        cross_validate(g, pd.read_csv(pheno), "t", cnn=False, baselines=["gblup"])
    with pytest.raises(InputError, match="nothing to run"):
        cross_validate(g, str(pheno), "t", cnn=False, baselines=[])
    with pytest.raises(InputError, match="is the sample id column, not a trait column"):
        cross_validate(g, str(pheno), "sample_id", cnn=False, baselines=["gblup"])


def test_one_trait_name_as_a_string(small):
    from snpcnn.io.phenotypes import align, read_phenotypes

    g, pheno = small
    ph = read_phenotypes(pheno, traits="t")
    assert ph.traits == ["t"]
    assert align(g, ph, "t").y.shape[0] == 60


def test_read_genotypes_argument_mistakes(example_data):
    from snpcnn.io import read_genotypes

    with pytest.raises(InputError, match="path is empty"):
        read_genotypes("")
    with pytest.raises(InputError, match="must be a str or a path"):
        read_genotypes(None)
    with pytest.raises(InputError, match="invalid value for `format`"):
        read_genotypes(example_data / "wheat.vcf.gz", format=3)


def test_write_example_with_a_bad_argument_leaves_no_folder(tmp_path):
    from snpcnn.simulate import write_example

    out = tmp_path / "sim"
    with pytest.raises(InputError):
        write_example(out, n_samples=50, n_snps=40, h2=3.0)
    assert not out.exists()


def test_read_genotypes_checks_snps_only_and_coding(example_data):
    from snpcnn.io import read_genotypes

    with pytest.raises(InputError, match="snps_only must be True or False"):
        read_genotypes(example_data / "wheat.vcf.gz", snps_only="no")
    with pytest.raises(InputError, match="invalid value for `coding`"):
        read_genotypes(example_data / "wheat", coding="xx")


def test_a_wrong_phenotype_separator_is_named(small):
    from snpcnn.io.phenotypes import read_phenotypes

    _, pheno = small
    with pytest.raises(InputError, match="leave sep unset"):
        read_phenotypes(pheno, sep="\t")


def test_simulate_and_table_mistakes(tmp_path):
    from snpcnn.io import read_genotypes

    with pytest.raises(InputError, match="n_samples must be a whole number"):
        simulate_genotypes(2.5, 50)
    with pytest.raises(InputError, match="seed must be a whole number"):
        simulate_genotypes(20, 50, seed=-1)
    f = tmp_path / "m.csv"
    f.write_text("sample_id,a,b\ns1,0,1\ns2,1,2\ns1,2,0\n")
    with pytest.raises(InputError, match="data rows 1 and 3"):
        read_genotypes(f)


def test_int8_genotypes_are_checked_too():
    """int8 is the loaders' own type: a 9 or a -9 there was accepted silently (session 32)."""
    for bad, shown in ((9, "is 9"), (3, "is 3"), (-9, "is -9")):
        d = np.array([[0, 1, bad], [2, 1, 0]], dtype=np.int8)
        with pytest.raises(InputError, match="must be 0, 1 or 2") as e:
            Genotypes(d, ["a", "b"])
        assert "row 0, column 2 " + shown in str(e.value)
    ok = Genotypes(np.array([[0, -1, 2]], dtype=np.int8), ["a"])
    assert ok.dosages.dtype == np.int8


@pytest.mark.parametrize("model", [GBLUP, GBLUPAD, EGBLUP])
def test_dosage_models_refuse_values_outside_0_2_at_predict_too(model):
    """fit refused a -1 code; predict took it as dosage -1 (session 32)."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(40, 30)).astype(float)
    m = model().fit(X, X[:, 0] + rng.normal(size=40))
    X_new = X[:3].copy()
    X_new[1, 2] = -1
    with pytest.raises(InputError, match="outside 0..2"):
        m.predict(X_new)
    assert np.isfinite(m.predict(X[:3])).all()


def test_estimator_warns_on_values_above_2_and_takes_numpy_random_states():
    from snpcnn.estimator import SNPCNNRegressor, _seed

    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(40, 16)).astype(float)
    y = X[:, 0] + rng.normal(size=40)
    kw = dict(
        model={"name": "t", "blocks": [{"type": "flatten"}, {"type": "dense", "units": 2}]},
        epochs=1,
        val_fraction=0.0,
        min_length=8,
    )
    est = SNPCNNRegressor(**kw).fit(X, y)
    X9 = X[:2].copy()
    X9[0, 5] = 9
    with pytest.warns(UserWarning, match=r"values above 2, e.g. row 0, column 5 = 9"):
        est.predict(X9)
    assert _seed(np.random.RandomState(0)) == _seed(np.random.RandomState(0))
    assert isinstance(_seed(np.random.default_rng(0)), int) and _seed(None) == 0
    with pytest.raises(InputError, match="random_state must be"):
        _seed("0")
    # the default's cross-fitting is a parameter: n_seeds works with conv_folds = 0
    cfg = SNPCNNRegressor(n_seeds=2, conv_folds=0, conv_gate=0.1)._config()
    assert (cfg.conv_folds, cfg.conv_gate, cfg.n_seeds) == (0, 0.1, 2)


def test_the_values_above_2_warning_comes_once_per_call():
    import warnings

    from snpcnn.estimator import SNPCNNRegressor

    rng = np.random.default_rng(2)
    X = rng.integers(0, 3, size=(30, 16)).astype(float)
    X[0, 1] = 9
    est = SNPCNNRegressor(
        model={"name": "t", "blocks": [{"type": "flatten"}, {"type": "dense", "units": 2}]},
        epochs=1, val_fraction=0.0, min_length=8,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, rng.normal(size=30))
    assert sum("values above 2" in str(w.message) for w in caught) == 1


def test_ridge_refuses_integer_codes_outside_0_2_and_takes_float_features():
    """RidgeRegression took int8 -1 missing codes as dosages of -1, silently, where GBLUP
    refused them; float input stays free (the CNN's ridge start fits centred features)."""
    from snpcnn.baselines import RidgeRegression

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(40, 30)).astype(np.int8)
    y = X[:, 0] + rng.normal(size=40)
    Xm = X.copy()
    Xm[3, 4] = -1
    with pytest.raises(InputError, match=r"^ridge: X holds values outside 0..2 \(smallest -1"):
        RidgeRegression().fit(Xm, y)
    m = RidgeRegression().fit(X, y)
    with pytest.raises(InputError, match="outside 0..2"):
        m.predict(Xm[:5])
    assert np.isfinite(m.predict(X[:5])).all()
    centred = X - X.mean(axis=0)
    assert np.isfinite(RidgeRegression().fit(centred, y).predict(centred[:5])).all()


def test_one_class_is_named_without_a_numpy_repr():
    """A checking helper (session 36): the classifier said "got 1 class (np.float64(0.0))"."""
    from snpcnn.estimator import SNPCNNClassifier

    X = np.zeros((6, 4))
    with pytest.raises(ValueError, match=r"got 1 class \(0\.0\)"):
        SNPCNNClassifier(epochs=1).fit(X, np.zeros(6))


def test_errors_name_python_arguments_from_python_and_options_from_the_cli():
    """The same check words its fix for the caller: ``folds=600`` from Python, ``--folds
    600`` under a ``snpcnn`` command (helpers found CLI wording raised from Python)."""
    from snpcnn.errors import CLI_MODE, opt
    from snpcnn.folds import make_folds

    ids = np.array([f"s{i}" for i in range(10)])
    with pytest.raises(InputError, match=r"folds=600 is more than the 10"):
        make_folds(ids, 600, 1, 0)
    token = CLI_MODE.set(True)
    try:
        with pytest.raises(InputError, match=r"--folds 600 is more than the 10"):
            make_folds(ids, 600, 1, 0)
        assert opt("n_seeds", 2) == "--seeds 2" and opt("force", True) == "--force"
    finally:
        CLI_MODE.reset(token)
    assert opt("cv_scheme", "cv2") == "cv_scheme='cv2'" and opt("force", True) == "force=True"
