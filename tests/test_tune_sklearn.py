"""docs/tune.md's scikit-learn examples (GridSearchCV, OptunaSearchCV), run exactly as written.

The code blocks are read from the docs page and executed from the repository root, so the
documented examples cannot drift from what is tested.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "tune.md"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## With scikit-learn", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _refit_matches(ns, est, params) -> None:
    """The outer fold's chosen model is its estimator refitted with best_params_, to the bit."""
    from snpcnn.estimator import SNPCNNRegressor

    X, y = ns["X"], ns["y"]
    train, test = next(ns["KFold"](2, shuffle=True, random_state=1).split(X))
    again = SNPCNNRegressor(model="mlp", epochs=2, random_state=0, **params)
    again.fit(X.iloc[train], y.iloc[train])
    got = est.predict(X.iloc[test])
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, again.predict(X.iloc[test]))


@pytest.fixture(scope="module")
def namespace(monkeypatch_module):
    return {}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO)  # the examples read example_data/ from the repository root
    yield mp
    mp.undo()


def test_the_docs_hold_both_examples():
    blocks = _blocks()
    assert len(blocks) == 2
    assert "GridSearchCV(" in blocks[0] and "OptunaSearchCV(" in blocks[1]
    for b in blocks:  # nested: the search runs inside an outer CV
        assert "cross_validate(\n    search," in b


def test_documented_gridsearchcv_example(namespace):
    ns = namespace
    exec(compile(_blocks()[0], f"{DOC}:GridSearchCV", "exec"), ns)  # noqa: S102
    outer = ns["outer"]
    scores = outer["test_score"]
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert ((scores >= -1) & (scores <= 1)).all()
    grid = [1e-3, 1e-2]
    for est in outer["estimator"]:
        # a choice from the grid, the best of its inner scores
        assert est.best_params_["learning_rate"] in grid
        means = est.cv_results_["mean_test_score"]
        assert np.isfinite(means).all()
        assert est.best_score_ == pytest.approx(means.max())
        assert est.cv_results_["params"][int(np.argmax(means))] == est.best_params_
    est = outer["estimator"][0]
    _refit_matches(ns, est.best_estimator_, est.best_params_)


def test_documented_optunasearchcv_example(namespace):
    pytest.importorskip("optuna_integration")
    ns = namespace
    if "X" not in ns:  # run alone: the first block defines the data and the scorer
        exec(compile(_blocks()[0].split("search = ")[0], str(DOC), "exec"), ns)  # noqa: S102
    exec(compile(_blocks()[1], f"{DOC}:OptunaSearchCV", "exec"), ns)  # noqa: S102
    outer = ns["outer"]
    scores = outer["test_score"]
    assert scores.shape == (2,) and np.isfinite(scores).all()
    for est in outer["estimator"]:
        assert type(est).__name__ == "OptunaSearchCV"
        assert len(est.study_.trials) == 2  # n_trials
        p = est.best_params_
        assert set(p) == {"learning_rate", "batch_size"}
        assert 1e-4 <= p["learning_rate"] <= 1e-2 and p["batch_size"] in (16, 32)
        assert p == est.study_.best_params
    est = outer["estimator"][0]
    _refit_matches(ns, est.best_estimator_, est.best_params_)
