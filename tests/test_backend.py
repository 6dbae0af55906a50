"""Keras backends: the genomic workflow runs on JAX without TensorFlow, deterministically on
CPU, and a model fitted under TensorFlow predicts the same under JAX."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snpcnn.backend import backend_name, device_description, gpu_available

REPO = Path(__file__).resolve().parents[1]
TINY_ARCH = REPO / "benchmarks" / "configs" / "tiny_arch.toml"

needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="JAX is not installed"
)

# run in a fresh interpreter that cannot import TensorFlow, as on a machine without it
_PREAMBLE = """
import os, sys
sys.modules["tensorflow"] = None
os.environ["KERAS_BACKEND"] = "jax"
"""


def _run_without_tf(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["JAX_PLATFORMS"] = "cpu"
    script = cwd / "script.py"
    script.write_text(_PREAMBLE + textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_tensorflow_is_the_default_backend_and_the_device_is_described():
    assert backend_name() == "tensorflow"
    text = device_description()
    # the CI machines have no GPU; where one is seen, the description says so
    assert text.startswith("GPU (" if gpu_available() else "CPU (")
    assert "Keras backend" not in text  # only other backends are named


@pytest.fixture(scope="module")
def small(tmp_path_factory, example_data) -> Path:
    d = tmp_path_factory.mktemp("backend")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=100).iloc[:, :97]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "pheno.csv", index=False)
    return d


def _fit_args(small: Path) -> list[str]:
    """A 2-fold `snpcnn fit` of the tiny CNN (3 epochs) and GBLUP on the small data."""
    files = [str(small / "geno.csv"), str(small / "pheno.csv")]
    opts = "--trait GY_E1 --folds 2 --epochs 3 --baselines gblup".split()
    return ["fit", *files, *opts, "--model", str(TINY_ARCH)]


@needs_jax
def test_fit_predict_and_errors_on_jax_without_tensorflow(small, tmp_path):
    fit = _fit_args(small)
    geno = str(small / "geno.csv")
    code = f"""
    import json
    from click.testing import CliRunner
    from snpcnn.cli import main
    r = CliRunner()
    out = {{}}
    for name in ("a", "b"):
        res = r.invoke(main, {fit!r} + ["--out", name])
        out[name] = [res.exit_code, res.output[-3000:]]
    res = r.invoke(main, ["predict", "a/model.keras", {geno!r}, "--out", "pred.csv"])
    out["predict"] = [res.exit_code, res.output[-3000:]]
    res = r.invoke(main, ["explain", "a/model.keras", {geno!r}, "--out", "ex"])
    out["explain"] = [res.exit_code, res.output[-3000:]]
    res = r.invoke(main, ["images", "fit", "--epochs", "1", "--out", "img"])
    out["images"] = [res.exit_code, res.output[-3000:]]
    res = r.invoke(main, ["images", "fit", "--help"])  # in-process: not sys.argv's --help
    out["images_help"] = [res.exit_code, res.output[-3000:]]
    try:
        import tensorflow  # noqa: F401
        out["tensorflow_importable"] = True
    except ImportError:
        out["tensorflow_importable"] = False
    open("result.json", "w").write(json.dumps(out))
    """
    p = _run_without_tf(code, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads((tmp_path / "result.json").read_text())
    assert out["tensorflow_importable"] is False
    for name in ("a", "b", "predict"):
        assert out[name][0] == 0, (name, out[name][1])
    assert "Keras backend jax" in out["a"][1]
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["libraries"]["keras_backend"] == "jax" and "jax" in run["libraries"]
    # fixed seeds give identical results on CPU under JAX too
    for f in ("predictions.csv", "metrics.csv"):
        a = pd.read_csv(tmp_path / "a" / f)
        b = pd.read_csv(tmp_path / "b" / f)
        pd.testing.assert_frame_equal(
            a.drop(columns="seconds", errors="ignore"), b.drop(columns="seconds", errors="ignore")
        )
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == 100 and np.isfinite(pred.iloc[:, -1]).all()
    # explain is TensorFlow-only: a one-line error that says how to run it
    code_ex, text = out["explain"]
    assert code_ex == 1 and "needs Keras's TensorFlow backend" in text
    assert "Traceback" not in text and not (tmp_path / "ex").exists()
    # ... naming both fixes where TensorFlow is missing too (each message sent the user to
    # the other), and so is `snpcnn images` (it stopped with "internal error
    # (ModuleNotFoundError ...)": a checking helper, session 42)
    assert "install TensorFlow (pip install 'tensorflow>=2.21'), then run it without" in text
    code_im, text = out["images"]
    assert code_im == 1 and "snpcnn images needs Keras's TensorFlow backend" in text
    assert "install TensorFlow" in text and "internal error" not in text
    assert not (tmp_path / "img").exists()
    assert out["images_help"][0] == 0 and "Usage:" in out["images_help"][1]


@needs_jax
def test_streamed_training_on_jax_without_tensorflow_equals_in_memory(small, tmp_path):
    """Folds above 256 MiB train from the int8 rows on JAX too: ``model.fit`` on row numbers
    whose encoded genotypes a host callback gathers (bit-identical to the float matrix), and
    the default's shared stepper; a whole streamed `snpcnn fit` equals the in-memory one."""
    fit = [*_fit_args(small)[:-2], "--model", "snpcnn_default"]
    code = f"""
    import json
    import numpy as np, keras
    from click.testing import CliRunner
    from snpcnn import datapath
    from snpcnn.cli import main
    from snpcnn.datapath import EncodedRows
    from snpcnn.models import build_model, compile_model
    from snpcnn.preprocess import GenotypePreprocessor
    from snpcnn.simulate import simulate_genotypes
    from snpcnn.training import seeded

    tiny = {{"name": "tiny", "blocks": [
        {{"type": "conv", "filters": 4, "kernel_size": 4, "strides": 4}},
        {{"type": "flatten"}}, {{"type": "dense", "units": 8}}]}}
    geno = simulate_genotypes(120, 300, missing_rate=0.03, seed=4)
    rows = np.arange(3, 100)
    pre = GenotypePreprocessor().fit(geno, rows)
    y = np.random.default_rng(0).normal(size=(len(rows), 1)).astype(np.float32)

    def run(x):
        with seeded(5):
            model = build_model(tiny, x.shape[1:])
            compile_model(model, "regression", learning_rate=1e-3)
            hist = datapath.trainer(model, x).fit(
                datapath.model_input(x[:80]), y[:80],
                validation_data=(datapath.model_input(x[80:]), y[80:]),
                epochs=3, batch_size=16, shuffle=True, verbose=0,
                callbacks=[keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True)])
            return model.get_weights(), hist.history, datapath.predict_rows(model, x, 40)

    dense = run(pre.transform(geno, rows))
    streamed = run(EncodedRows(geno, pre, rows))
    out = {{"history": dense[1] == streamed[1],
           "weights": all(np.array_equal(a, b) for a, b in zip(dense[0], streamed[0])),
           "pred": bool(np.array_equal(dense[2], streamed[2]))}}
    r = CliRunner()
    for name, stream in (("mem", "0"), ("stream", "1")):
        res = r.invoke(main, {fit!r} + ["--out", name], env={{"SNPCNN_STREAM": stream}})
        out[name] = [res.exit_code, res.output[-3000:]]
    open("result.json", "w").write(json.dumps(out))
    """
    p = _run_without_tf(code, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads((tmp_path / "result.json").read_text())
    assert out["history"] and out["weights"] and out["pred"], out
    for name in ("mem", "stream"):
        assert out[name][0] == 0, (name, out[name][1])
    runs = {name: (tmp_path / name / "run.json").read_text() for name in ("mem", "stream")}
    assert "streamed genotypes" in runs["stream"] and "streamed genotypes" not in runs["mem"]
    a = pd.read_csv(tmp_path / "mem" / "predictions.csv")
    b = pd.read_csv(tmp_path / "stream" / "predictions.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) >= 200
    pd.testing.assert_frame_equal(a.drop(columns="predicted"), b.drop(columns="predicted"))
    # the streamed ridge start is a blocked float64 sum: equal to about 1e-7, not bit for bit
    np.testing.assert_allclose(a["predicted"], b["predicted"], atol=1e-5)


@needs_jax
def test_a_model_fitted_under_tensorflow_predicts_the_same_under_jax(small, tmp_path):
    from click.testing import CliRunner

    from snpcnn.cli import main

    r = CliRunner()
    res = r.invoke(main, [*_fit_args(small), "--out", str(tmp_path / "tf")])
    assert res.exit_code == 0, res.output
    res = r.invoke(
        main,
        [
            "predict",
            str(tmp_path / "tf" / "model.keras"),
            str(small / "geno.csv"),
            "--out",
            str(tmp_path / "tf_pred.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    code = f"""
    from click.testing import CliRunner
    from snpcnn.cli import main
    res = CliRunner().invoke(main, ["predict", {str(tmp_path / "tf" / "model.keras")!r},
                                    {str(small / "geno.csv")!r}, "--out", "jax_pred.csv"])
    assert res.exit_code == 0, res.output
    """
    p = _run_without_tf(code, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    a = pd.read_csv(tmp_path / "tf_pred.csv")
    b = pd.read_csv(tmp_path / "jax_pred.csv")
    assert list(a.columns) == list(b.columns) and (a["sample_id"] == b["sample_id"]).all()
    num = [c for c in a.columns if c != "sample_id"]
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-5, atol=1e-5)


def test_without_tensorflow_and_without_a_backend_the_cli_says_what_to_do(small, tmp_path):
    code = f"""
    import os, json
    del os.environ["KERAS_BACKEND"]  # Keras would pick TensorFlow, which is missing
    from click.testing import CliRunner
    from snpcnn.cli import main
    res = CliRunner().invoke(main, {_fit_args(small) + ["--out", "o"]!r})
    open("result.json", "w").write(json.dumps([res.exit_code, res.output]))
    """
    p = _run_without_tf(code, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    code_, text = json.loads((tmp_path / "result.json").read_text())
    assert code_ == 1 and "Traceback" not in text, text
    assert text.strip().splitlines() == [
        "Error: TensorFlow is not installed and Keras has no other backend chosen: install "
        "snpcnn's dependencies (pip install -e .), or run on JAX with KERAS_BACKEND=jax "
        "(`snpcnn docs models`)"
    ]
    assert not (tmp_path / "o").exists()


def test_seeded_fits_and_loaded_models_use_full_float32_matmuls(tmp_path):
    """TF32 (Ampere+ GPUs) would round the CNN-GP start's kernel products; snpcnn turns it
    off for every seeded fit and every loaded model (a no-op on CPUs)."""
    import keras

    from snpcnn.backend import backend_name
    from snpcnn.models import load_model
    from snpcnn.training import seeded

    if backend_name() != "tensorflow":
        pytest.skip("TensorFlow's switch")
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(True)
    with seeded(0):
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(True)
    inp = keras.Input((3,))
    path = tmp_path / "m.keras"
    keras.Model(inp, keras.layers.Dense(1)(inp)).save(path)
    load_model(path, compile=False)
    assert not tf.config.experimental.tensor_float_32_execution_enabled()


@needs_jax
def test_jax_runs_compile_their_steps_and_share_a_temporary_compilation_cache(tmp_path):
    """On JAX, Keras's steps are compiled (not run op by op) and the compiled programs go to a
    temporary cache folder that is removed at exit; a user's JAX_COMPILATION_CACHE_DIR wins."""
    code = """
    import json, os
    import numpy as np
    from snpcnn.backend import enable_determinism
    from snpcnn.models import build_model, compile_model
    enable_determinism()
    from snpcnn.backend import jax_compilation_cache
    folder = jax_compilation_cache()
    m = compile_model(build_model("snpcnn_default", (40, 1)), "regression")
    x = np.random.default_rng(0).standard_normal((64, 40, 1)).astype("float32")
    m.fit(x, x[:, :3, 0].sum(1, keepdims=True), epochs=1, batch_size=32, verbose=0)
    print(json.dumps({"folder": folder, "jit": bool(m.jit_compile),
                      "entries": len(os.listdir(folder))}))
    """
    out = _run_without_tf(code, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["jit"] is True
    assert got["entries"] > 0  # compiled programs were cached
    assert "snpcnn_jax_cache_" in got["folder"]
    assert not Path(got["folder"]).exists()  # removed when the process ended

    own = tmp_path / "own_cache"
    env_code = f"import os; os.environ['JAX_COMPILATION_CACHE_DIR'] = {str(own)!r}\n"
    out = _run_without_tf(env_code + textwrap.dedent(code), tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["folder"] == str(own) and own.exists()  # the user's folder is kept


def test_the_documented_install_without_tensorflow_lists_every_other_requirement():
    """docs/models.md's `--no-deps` install for machines without TensorFlow: its package
    list is pyproject.toml's requirements minus TensorFlow, plus JAX (the `[jax]` extra the
    docs named before pulled TensorFlow in: a checking helper, session 42)."""
    import re
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    text = (REPO / "docs" / "models.md").read_text()
    (line,) = [x for x in text.splitlines() if x.startswith("pip install --no-deps -e . && ")]
    listed = re.findall(r'"([^"]+)"', line)
    expected = [d for d in deps if not d.startswith("tensorflow")] + ["jax>=0.5"]
    assert listed == expected
