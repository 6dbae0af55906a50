"""Session 56, an adversarial tester's findings on overwriting: predict --out over a file of
its own input (a PLINK .fam, a VCF's .tbi, a cache's files), predict --force into a convert
or images folder, images fit into other commands' folders, and simulate --genotypes's
suggested fit and record of a --genotypes-coding it did not apply."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def files(tmp_path_factory, example_data):
    """Copies of the wheat PLINK fileset and VCF (with its .tbi), a fake PLINK 2 fileset,
    a cache of the VCF next to it, a simulate folder, and a stand-in model file: predict's
    checks of --out come before the model is read."""
    d = tmp_path_factory.mktemp("s56_safety")
    for name in ("wheat.bed", "wheat.bim", "wheat.fam", "wheat.vcf.gz", "wheat.vcf.gz.tbi"):
        shutil.copy(example_data / name, d / name)
    for ext in (".pgen", ".pvar", ".psam"):
        (d / f"p2{ext}").write_text(f"not read {ext}\n")
    r = CliRunner().invoke(main, ["convert", str(d / "wheat.vcf.gz")])
    assert r.exit_code == 0, r.output
    assert (d / "wheat.vcf.gz.snpcnn" / "meta.json").is_file()
    r = CliRunner().invoke(
        main, ["simulate", "--samples", "60", "--snps", "80", "--out", str(d / "sim")]
    )
    assert r.exit_code == 0, r.output
    (d / "model.keras").write_bytes(b"stand-in")
    return d


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("genotypes", "out"),
    [
        ("wheat", "wheat.fam"),
        ("wheat", "wheat.bim"),
        ("wheat.bed", "wheat.bim"),
        ("wheat.bed", "wheat.fam"),
        ("wheat.fam", "wheat.bed"),
        ("wheat.vcf.gz", "wheat.vcf.gz.tbi"),
        ("wheat.vcf.gz", "wheat.vcf.gz.snpcnn/meta.json"),
        ("wheat.vcf.gz", "wheat.vcf.gz.snpcnn/samples.txt"),
        ("wheat.vcf.gz.snpcnn", "wheat.vcf.gz.snpcnn/variants.tsv"),
        ("p2", "p2.psam"),
        ("p2.pgen", "p2.pvar"),
    ],
)
def test_predict_never_overwrites_its_input_files(files, genotypes, out):
    """F1: --out a file of the input fileset was replaced with --force (only the typed
    genotypes path was compared)."""
    before = _snapshot(files)
    r = CliRunner().invoke(
        main,
        ["predict", str(files / "model.keras"), str(files / genotypes), "--out",
         str(files / out), "--force"],
    )  # fmt: skip
    assert r.exit_code != 0
    assert f"is a file of the input {files / genotypes}" in r.output, r.output
    assert "even with --force" in r.output
    assert _snapshot(files) == before


def test_predict_refuses_files_of_a_convert_folder(files):
    """F2: a cache folder (`snpcnn convert`) is another command's results for predict."""
    before = _snapshot(files)
    r = CliRunner().invoke(
        main,
        ["predict", str(files / "model.keras"), str(files / "wheat.bed"), "--out",
         str(files / "wheat.vcf.gz.snpcnn" / "meta.json"), "--force"],
    )  # fmt: skip
    assert r.exit_code != 0
    assert "snpcnn convert" in r.output and "even with --force" in r.output, r.output
    assert _snapshot(files) == before


@pytest.mark.parametrize("marked", [True, False])
def test_predict_refuses_files_of_an_images_folder(files, tmp_path, marked):
    """F2: an `images fit` folder (model.keras, metrics.json; with its written_by, or an
    older one without) is refused too."""
    img = tmp_path / "img"
    img.mkdir()
    (img / "model.keras").write_bytes(b"a keras model")
    record = {"test_accuracy": 0.9, **({"written_by": "snpcnn images fit"} if marked else {})}
    (img / "metrics.json").write_text(json.dumps(record))
    before = _snapshot(img)
    for name in ("metrics.json", "model.keras"):
        r = CliRunner().invoke(
            main,
            ["predict", str(files / "model.keras"), str(files / "wheat.bed"), "--out",
             str(img / name), "--force"],
        )  # fmt: skip
        assert r.exit_code != 0
        assert "snpcnn images" in r.output and "even with --force" in r.output, r.output
    assert _snapshot(img) == before


def test_results_folder_owner_other_folders_unchanged(tmp_path):
    """A folder of the user's own files, and a metrics.json with no model beside it, stay
    no command's."""
    from snpcnn.report import results_folder_owner

    (tmp_path / "metrics.json").write_text(json.dumps({"test_accuracy": 1}))
    (tmp_path / "meta.json").write_text("{}")
    assert results_folder_owner(tmp_path) is None


def test_images_fit_refuses_other_commands_folders(files, tmp_path):
    """F3: images fit --out a simulate folder wrote into it; with --force, it replaced a
    fit folder's model.keras."""
    fit = tmp_path / "fit"
    fit.mkdir()
    (fit / "run.json").write_text(json.dumps({"snpcnn_version": "0", "written_by": "fit"}))
    (fit / "model.keras").write_bytes(b"the fit's model")
    for folder, force in ((files / "sim", []), (fit, ["--force"]), (fit, [])):
        before = _snapshot(folder)
        r = CliRunner().invoke(
            main, ["images", "fit", "--epochs", "1", "--out", str(folder), *force]
        )
        assert r.exit_code != 0
        assert "never writes into, even with --force" in r.output, r.output
        assert _snapshot(folder) == before


def test_images_check_outputs_keeps_its_own_folder(tmp_path):
    """An earlier images folder stays replaceable with --force."""
    from snpcnn.images import check_outputs

    (tmp_path / "model.keras").write_bytes(b"m")
    (tmp_path / "metrics.json").write_text(json.dumps({"written_by": "snpcnn images fit"}))
    names = ("model.keras", "metrics.json")
    assert set(check_outputs(tmp_path, names, force=True)) == set(names)


@pytest.fixture(scope="module")
def table012(tmp_path_factory, example_data):
    """A 0/1/2 table whose first rows hold only 0 and 1 (what --coding auto reads as
    presence/absence)."""
    d = tmp_path_factory.mktemp("s56_sim")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=60).iloc[:, :80]
    x.to_csv(d / "geno.txt", index=False)
    return d


def test_simulate_next_fit_reads_as_simulate_did(table012):
    """F4: the suggested fit left out --coding 012 and --format."""
    d = table012
    r = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", str(d / "geno.txt"), "--genotypes-coding", "012",
         "--genotypes-format", "table", "--out", str(d / "s")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    nxt = next(line for line in r.output.splitlines() if line.startswith("next:"))
    assert " --format table" in nxt and " --coding 012" in nxt, nxt
    record = json.loads((d / "s" / "simulation.json").read_text())
    assert record["genotypes"]["coding"] == "012"


def test_simulate_records_no_coding_it_did_not_apply(files, tmp_path):
    """F5: --genotypes-coding on a PLINK fileset warns, and simulation.json does not record
    it as the coding read with (nor does the suggested fit pass it)."""
    r = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", str(files / "wheat.bed"), "--genotypes-coding", "012",
         "--out", str(tmp_path / "s")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "does nothing for a PLINK 1 fileset" in r.output
    record = json.loads((tmp_path / "s" / "simulation.json").read_text())
    assert "coding" not in record["genotypes"], record["genotypes"]
    nxt = next(line for line in r.output.splitlines() if line.startswith("next:"))
    assert "--coding" not in nxt


def test_images_fit_marks_its_folder(files, tmp_path):
    """images fit's metrics.json says who wrote it; the folder stays replaceable by images
    fit (--force) and is refused by predict."""
    from snpcnn.images import MNIST_FILES, load_digits_small, write_idx

    data = tmp_path / "digits"
    data.mkdir()
    (xtr, ytr), (xte, yte) = load_digits_small()
    for key, arr in (
        ("train_images", xtr[:100]),
        ("train_labels", ytr[:100]),
        ("test_images", xte[:30]),
        ("test_labels", yte[:30]),
    ):
        write_idx(data / f"{MNIST_FILES[key]}.gz", arr)
    out = tmp_path / "img"
    args = ["images", "fit", "--data", str(data), "--epochs", "1", "--image-size", "16"]
    for force in ([], ["--force"]):
        r = CliRunner().invoke(main, [*args, "--out", str(out), *force])
        assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["written_by"] == "snpcnn images fit"
    r = CliRunner().invoke(
        main,
        ["predict", str(files / "model.keras"), str(files / "wheat.bed"), "--out",
         str(out / "metrics.json"), "--force"],
    )  # fmt: skip
    assert r.exit_code != 0 and "snpcnn images" in r.output, r.output


def test_predict_out_with_a_trailing_slash_is_a_folder_not_a_file(files, tmp_path):
    """`--out newdir/` wrote a file named newdir; `--out p.csv/ --force` replaced p.csv."""
    for out in (tmp_path / "newdir", tmp_path / "p.csv"):
        if out.name == "p.csv":
            out.write_text("sample_id,prediction\n")
        r = CliRunner().invoke(
            main,
            ["predict", str(files / "model.keras"), str(files / "wheat.bed"), "--out",
             f"{out}/", "--force"],
        )  # fmt: skip
        assert r.exit_code != 0 and "names a folder; give a file name" in r.output, r.output
        assert out.name != "newdir" or not out.exists()
    assert (tmp_path / "p.csv").read_text() == "sample_id,prediction\n"
