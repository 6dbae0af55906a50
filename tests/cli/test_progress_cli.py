"""Progress of `snpcnn fit` outside a terminal: timestamped lines per fold and baseline."""

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] "


@pytest.fixture(scope="module")
def small(example_data, tmp_path_factory, tiny_toml):
    d = tmp_path_factory.mktemp("progress")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x.iloc[:90, :101].to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph[ph.sample_id.isin(x.sample_id.iloc[:90])].to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(tiny_toml)
    return d


@pytest.fixture(scope="module")
def fitted(small):
    d = small
    args = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "GY_E1"]
    args += ["--model", str(d / "tiny.toml"), "--folds", "3", "--epochs", "2"]
    args += ["--baselines", "gblup,ridge", "--out", str(d / "run")]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SNPCNN_PROGRESS", raising=False)
        r = CliRunner().invoke(main, args)  # CliRunner's stderr is not a terminal: lines
    assert r.exit_code == 0, r.output
    return r


def test_fit_logs_a_timestamped_line_per_fold_and_baseline(fitted):
    r = fitted
    err = r.stderr
    assert re.search(STAMP + r"reading genotypes done \(.*\): 90 samples x 100 SNPs", err), err
    assert re.search(STAMP + r"3 folds x \(CNN up to \d+ epochs \+ GBLUP, ridge\)", err), err
    for i in (1, 2, 3):
        assert re.search(STAMP + rf"fold {i}/3: CNN trained \(2 epochs", err), err
        for name in ("GBLUP", "ridge"):
            line = STAMP + rf"fold {i}/3: {name} done \([\d.]+ s\); \d+% done, ETA "
            assert re.search(line, err), err
        assert re.search(STAMP + rf"fold {i}/3 done \([\d.]+ s\); \d+% done", err), err
    assert re.search(STAMP + r"refit on 90 samples, \d+ epochs", err), err
    assert re.search(STAMP + r"refit done", err), err
    assert "\r" not in err and "|" not in err  # no bar in a log
    # progress goes to stderr only: stdout holds the report
    assert "fold 1/3" not in r.stdout and "Pearson r" in r.stdout


def test_explain_logs_each_method(small, fitted, monkeypatch):
    monkeypatch.delenv("SNPCNN_PROGRESS", raising=False)
    d = small
    args = ["explain", str(d / "run" / "model.keras"), str(d / "geno.csv")]
    args += ["--methods", "saliency,integrated_gradients", "--steps", "4", "--out", str(d / "ex")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    err = r.stderr
    assert re.search(STAMP + r"reading genotypes done", err), err
    assert re.search(STAMP + r"saliency \(1/2\) done \([\d.]+ s\); ETA", err), err
    assert re.search(STAMP + r"integrated_gradients \(2/2\) done", err), err
    # integrated gradients costs 5 gradient passes (steps + 1) to saliency's 1
    m = re.search(r"saliency \(1/2\) done \(([\d.]+) s\); ETA ([\d.]+) s", err)
    assert m and float(m[2]) == pytest.approx(5 * float(m[1]), abs=0.35), err
    # the last line names every file written, and only those
    m = re.fullmatch(r"results written to (.+)/ \((.*)\)", r.stdout.strip().splitlines()[-1])
    names = m[2].split(", ")
    assert sorted(names) == sorted(p.name for p in (d / "ex").iterdir()), names
