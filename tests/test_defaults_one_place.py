"""Issue 14 item 8: one set of training defaults, read by fit, cross_validate, the
estimators and benchmark configs alike."""

import inspect
from pathlib import Path

from click.testing import CliRunner

from snpcnn.bench import load_config
from snpcnn.cli import main
from snpcnn.cv import TRAIN_DEFAULTS, cross_validate
from snpcnn.estimator import SNPCNNRegressor

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_model_without_keys_takes_fit_defaults(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
name = "d"
[[datasets]]
name = "wheat"
genotypes = "{ROOT / "example_data" / "wheat.bed"}"
phenotypes = "{ROOT / "example_data" / "wheat_phenotypes.csv"}"
traits = ["GY_E1"]
[[models]]
name = "cnn"
preset = "snpcnn_default"
"""
    )
    spec = load_config(cfg).models[0]
    for key, value in TRAIN_DEFAULTS.items():
        assert getattr(spec, key) == value, key


def test_cross_validate_and_estimator_defaults_are_train_defaults():
    cv_params = inspect.signature(cross_validate).parameters
    est = SNPCNNRegressor()
    for key, value in TRAIN_DEFAULTS.items():
        assert cv_params[key].default == value, key
        if hasattr(est, key):
            assert getattr(est, key) == value, key


def test_fit_help_shows_the_same_defaults():
    out = CliRunner().invoke(main, ["fit", "--help"], terminal_width=200).output
    assert f"[default: {TRAIN_DEFAULTS['scaling']}]" in out
    assert f"[default: {TRAIN_DEFAULTS['patience']}]" in out
