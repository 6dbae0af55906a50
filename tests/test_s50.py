"""Session 50: the follow-ups that session 49's checking helpers left (each message is new)."""

import logging
import zipfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory):
    d = tmp_path_factory.mktemp("s50")
    res = CliRunner().invoke(main, ["simulate", "--samples", "60", "--snps", "120", "--out",
                                    str(d / "sim")])  # fmt: skip
    assert res.exit_code == 0, res.output
    fit = ["fit", str(d / "sim" / "sim.vcf.gz"), str(d / "sim" / "phenotypes.csv")]
    fit += ["--folds", "2", "--epochs", "1", "--baselines", "gblup", "--conv-folds", "0"]
    res = CliRunner().invoke(main, [*fit, "--patience", "1", "--out", str(d / "f")])
    assert res.exit_code == 0, res.output
    return d


def test_explain_says_when_layer_is_not_used(tiny_fit, tmp_path):
    """--layer was accepted without a word where no class-activation map ran."""
    model, vcf = str(tiny_fit / "f" / "model.keras"), str(tiny_fit / "sim" / "sim.vcf.gz")
    res = CliRunner().invoke(
        main,
        ["explain", model, vcf, "--methods", "saliency", "--layer", "nope", "--out",
         str(tmp_path / "e")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Note: --layer nope is not used: only Grad-CAM and HiResCAM read a layer, and " \
        "neither is among --methods." in res.output  # fmt: skip


def test_a_preprocessing_member_that_is_not_a_zip_is_named_without_numpys_advice(
    tiny_fit, tmp_path
):
    from snpcnn.bundle import MEMBER, load_bundle

    src = tiny_fit / "f" / "model.keras"
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, b"\x80\x04garbage" if item.filename == MEMBER else data)
    with pytest.raises(InputError) as e:
        load_bundle(bad)
    msg = str(e.value)
    assert "not an .npz archive" in msg and "allow_pickle" not in msg and "\n" not in msg


def test_repeated_fid_iid_names_both_lines(tmp_path):
    from bed_reader import to_bed

    from snpcnn.io.plink import read_plink

    val = np.zeros((4, 2), dtype=np.int8)
    to_bed(tmp_path / "e.bed", val, properties={"fid": ["f", "g", "g", "f"],
                                                 "iid": ["a", "a", "b", "a"]})  # fmt: skip
    with pytest.raises(InputError, match=r"sample 'f_a' \(FID_IID\) occurs on lines 1 and 4; "):
        read_plink(tmp_path / "e")


def test_the_same_note_of_a_tunes_outer_units_is_said_once(caplog):
    from snpcnn.tune import _said_once

    lg = logging.getLogger("snpcnn.cv")
    with caplog.at_level(logging.WARNING, logger="snpcnn.cv"):
        with _said_once("snpcnn.cv"):
            for _ in range(3):
                lg.warning("trait 'case' has two values")
            lg.warning("another note")
        lg.warning("trait 'case' has two values")  # the filter is gone after the block
    said = [r.getMessage() for r in caplog.records]
    assert said.count("trait 'case' has two values") == 2 and said.count("another note") == 1


def test_tune_resume_with_nothing_to_resume_says_so(tiny_fit, tmp_path, caplog):
    pytest.importorskip("optuna")
    from pathlib import Path

    from snpcnn.tune import tune

    space = {
        "model": str(Path(__file__).parent.parent / "benchmarks" / "configs" / "tiny_arch.toml"),
        "fixed": {"epochs": 1, "batch_size": 16},
        "params": {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}},
    }
    with caplog.at_level(logging.WARNING, logger="snpcnn.tune"):
        tune(
            tiny_fit / "sim" / "sim.vcf.gz",
            tiny_fit / "sim" / "phenotypes.csv",
            pd.read_csv(tiny_fit / "sim" / "phenotypes.csv").columns[1],
            space=space,
            folds=2,
            inner_folds=2,
            n_trials=1,
            splits=[(0, 1)],
            compare_default=False,
            out=tmp_path / "t",
            resume=True,
        )
    assert any("nothing to resume in" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "t" / "summary.md").is_file()
