"""--threads: one setting for BLAS (threadpoolctl) and TensorFlow, in effect inside baseline fits."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_info, threadpool_limits

from snpcnn import threads
from snpcnn.baselines import GBLUP
from snpcnn.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _blas_counts() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def restore_threads(monkeypatch):
    """Undo apply_threads: environment, BLAS pools and the module's record."""
    for var in threads.THREAD_VARIABLES:
        monkeypatch.setenv(var, os.environ.get(var, ""))
    before = max(_blas_counts() or [1])
    saved = dict(threads._applied)
    yield
    threadpool_limits(limits=before)
    threads._applied.update(saved)


def test_default_is_the_cores_this_process_may_use():
    assert threads.available_cores() == len(os.sched_getaffinity(0))
    assert threads.resolve_threads(None) == len(os.sched_getaffinity(0))
    assert threads.resolve_threads(0) == len(os.sched_getaffinity(0))
    assert threads.resolve_threads(3) == 3
    for bad in (-1, 1.5, "two"):
        with pytest.raises(InputError, match="threads"):
            threads.resolve_threads(bad)


@pytest.mark.skipif(not _blas_counts(), reason="no BLAS pool visible to threadpoolctl")
def test_apply_threads_limits_blas_and_sets_the_environment(restore_threads):
    threadpool_limits(limits=2)
    out = threads.apply_threads(1)
    assert out["threads"] == 1
    assert set(_blas_counts()) == {1}
    assert threads.current_threads() == 1
    for var in threads.THREAD_VARIABLES:
        assert os.environ[var] == "1"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to tell 1 from 2")
def test_blas_limit_is_in_effect_inside_a_baseline_fit(restore_threads, monkeypatch):
    """Another library raising the BLAS pool in between does not leak into a baseline fit."""
    import snpcnn.baselines.gblup as gblup_module

    seen = []
    real = gblup_module._reml

    def spy(*args, **kwargs):
        seen.append(_blas_counts())
        return real(*args, **kwargs)

    monkeypatch.setattr(gblup_module, "_reml", spy)
    rng = np.random.default_rng(0)
    X = rng.binomial(2, 0.3, size=(40, 60)).astype(float)
    y = rng.normal(size=40)
    threads.apply_threads(1)
    threadpool_limits(limits=2)  # e.g. a library that resets the pool
    assert 2 in _blas_counts()
    with threads.blas_threads():
        GBLUP().fit(X, y)
    assert seen and set(seen[0]) == {1}
    seen.clear()
    with threads.blas_threads(2):
        GBLUP().fit(X, y)
    assert set(seen[0]) == {2}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to tell 1 from 2")
def test_threads_option_reaches_the_baseline_fits_and_tensorflow(
    example_data, tmp_path, restore_threads, monkeypatch
):
    import snpcnn.baselines.gblup as gblup_module
    from snpcnn.cli import main

    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x.iloc[:60, :101].to_csv(tmp_path / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph[ph.sample_id.isin(x.sample_id[:60])].to_csv(tmp_path / "pheno.csv", index=False)
    (tmp_path / "tiny.toml").write_text(
        'name = "tiny"\n[[blocks]]\ntype = "flatten"\n[[blocks]]\ntype = "dense"\nunits = 4\n'
    )
    seen = []
    real = gblup_module._reml

    def spy(*args, **kwargs):
        seen.append(_blas_counts())
        return real(*args, **kwargs)

    monkeypatch.setattr(gblup_module, "_reml", spy)
    threadpool_limits(limits=2)
    args = ["fit", str(tmp_path / "geno.csv"), str(tmp_path / "pheno.csv"), "--trait", "GY_E1"]
    args += ["--model", str(tmp_path / "tiny.toml"), "--folds", "2", "--epochs", "1"]
    args += ["--baselines", "gblup", "--no-refit", "--threads", "1", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert len(seen) == 2  # one GBLUP fit per fold
    assert all(set(s) == {1} for s in seen)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
    if threads._applied["tensorflow"]:  # TensorFlow's runtime had not started before
        import tensorflow as tf

        assert tf.config.threading.get_intra_op_parallelism_threads() == 1
        assert tf.config.threading.get_inter_op_parallelism_threads() == 1
