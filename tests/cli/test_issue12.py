"""Issue 12: every corrupt, malformed or unwritable input gets one clear line (regressions).

Each case runs the CLI (click's CliRunner) and checks the exit code, a single
``Error:`` line that names the file (and line or sample) and the fix, and that
the output location was left untouched.  Accepted-with-a-warning cases check
the single ``Warning:`` line and the values that were loaded.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY_TOML = """
name = "tiny"
[[blocks]]
type = "conv"
filters = 2
kernel_size = 4
strides = 4
[[blocks]]
type = "flatten"
[[blocks]]
type = "dense"
units = 4
"""
FAST = ["--epochs", "1", "--baselines", "none", "--folds", "2"]


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(tmp_path / "cache-home"))


@pytest.fixture(autouse=True)
def restore_verbosity():
    """-vv sets the 'snpcnn' logger to DEBUG for the whole process: undo it after each test."""
    import logging

    log = logging.getLogger("snpcnn")
    level = log.level
    yield
    log.setLevel(level)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(result, *fragments, code=1):
    """The one ``Error:`` line of ``result``; checks the exit code and the fragments."""
    assert result.exit_code == code, result.output
    err = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(err) >= 1 and err[-1].startswith("Error: "), result.stderr
    errors = [ln for ln in err if ln.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in result.output, result.output
    assert "Aborted" not in result.output, result.output
    for f in fragments:
        assert f in errors[0], (f, errors[0])
    return errors[0]


def warning_lines(result):
    return [ln for ln in result.stderr.splitlines() if ln.startswith("Warning: ")]


@pytest.fixture(scope="module")
def small(example_data, tmp_path_factory):
    """40 samples x 100 SNPs of the wheat data as CSV, plus phenotypes and a tiny model."""
    d = tmp_path_factory.mktemp("issue12")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:40, :101]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph[ph.sample_id.isin(x.sample_id)]
    ph.to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(TINY_TOML)
    return d


@pytest.fixture(scope="module")
def bundle(small):
    """A model.keras from a tiny fit (about 10 s)."""
    out = small / "run"
    r = run(
        "fit", small / "geno.csv", small / "pheno.csv", "--trait", "GY_E1",
        "--model", small / "tiny.toml", *FAST, "--out", out,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out / "model.keras"


def vcf_text(samples, records, extra_header=""):
    head = "##fileformat=VCFv4.2\n" + extra_header
    head += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
    body = "".join(
        f"{c}\t{p}\t{i}\tA\tC\t.\tPASS\t.\tGT\t" + "\t".join(gts) + "\n" for c, p, i, gts in records
    )
    return head + body


RECORDS = [
    ("1", "100", "m1", ["0/0", "0/1", "1/1"]),
    ("1", "200", "m2", ["0/1", "1/1", "0/0"]),
    ("1", "300", "m3", ["1/1", "0/0", "./."]),
    ("2", "50", "m4", ["0/0", "1/1", "0/1"]),
]


# ------------------------------------------------------------- damaged .vcf.gz (cases 1-4)
@pytest.fixture
def cut_vcf(example_data, tmp_path):
    data = (example_data / "wheat.vcf.gz").read_bytes()
    p = tmp_path / "cut.vcf.gz"
    p.write_bytes(data[: len(data) // 2])  # mid-BGZF-block, well after the header
    return p


@pytest.fixture
def corrupt_vcf(example_data, tmp_path):
    data = bytearray((example_data / "wheat.vcf.gz").read_bytes())
    mid = len(data) // 2
    data[mid : mid + 40] = bytes(b ^ 0x55 for b in data[mid : mid + 40])
    p = tmp_path / "corrupt.vcf.gz"
    p.write_bytes(bytes(data))
    return p


def test_01_truncated_vcf_gz_info(cut_vcf):
    error_line(run("info", "--no-cache", cut_vcf), str(cut_vcf), "cut short or damaged")


def test_02_corrupt_vcf_gz_info(corrupt_vcf):
    error_line(run("info", "--no-cache", corrupt_vcf), str(corrupt_vcf), "cut short or damaged")


def test_03_truncated_vcf_gz_fit(cut_vcf, small, tmp_path):
    out = tmp_path / "out"
    r = run("fit", cut_vcf, small / "pheno.csv", *FAST, "--out", out)
    error_line(r, str(cut_vcf), "cut short or damaged")
    assert not out.exists()


def test_04_debug_mode_shows_traceback_then_the_line(cut_vcf):
    r = run("-vv", "info", "--no-cache", cut_vcf)
    assert r.exit_code == 1
    assert "Traceback" in r.stderr and "Aborted" not in r.output
    assert r.stderr.strip().splitlines()[-1].startswith(f"Error: {cut_vcf}")


def test_04b_debug_mode_traceback_for_internal_errors_too(small, monkeypatch):
    import snpcnn.io

    def boom(*a, **k):
        raise EOFError("simulated")

    monkeypatch.setattr(snpcnn.io, "read_genotypes", boom)
    r = run("-vv", "info", small / "geno.csv")
    assert r.exit_code == 1 and "Traceback" in r.stderr and "Aborted" not in r.output
    assert r.stderr.strip().splitlines()[-1].startswith("Error: internal error (EOFError")


# ------------------------------------------------------- unwritable outputs (cases 5-10)
def _read_only(monkeypatch):
    """Simulate a read-only file system for the up-front probe (tests run as root)."""
    import snpcnn.io.output as output

    def refuse(*a, dir=None, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))

    monkeypatch.setattr(output.tempfile, "mkstemp", refuse)


def _no_work(monkeypatch):
    """Fail the test if any genotype file is read (the output check must come first)."""
    import snpcnn.io

    def forbidden(*a, **k):
        raise AssertionError("genotypes were read before the output location was checked")

    monkeypatch.setattr(snpcnn.io, "read_genotypes", forbidden)


def test_05_fit_read_only_output_fails_before_any_work(small, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    _no_work(monkeypatch)
    out = tmp_path / "ro" / "out"
    r = run("fit", small / "geno.csv", small / "pheno.csv", *FAST, "--out", out)
    line = error_line(r, str(out), "Read-only file system", "choose another --out")
    assert ".tmp" not in line
    assert not out.exists()


def test_06_predict_read_only_output(small, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    _no_work(monkeypatch)
    out = tmp_path / "pred.csv"
    # the model is not even opened: the output is checked first
    r = run("predict", small / "pheno.csv", small / "geno.csv", "--out", out)
    error_line(r, str(out), "Read-only file system", "choose another --out")
    assert not out.exists()


def test_07_convert_read_only_output(small, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    _no_work(monkeypatch)
    out = tmp_path / "g.snpcnn"
    r = run("convert", small / "geno.csv", out)
    error_line(r, str(out), "Read-only file system", "choose another output path")
    assert not out.exists()


def test_08_benchmark_read_only_output(small, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    cfg = tmp_path / "b.toml"
    cfg.write_text("this is never read\n")
    out = tmp_path / "bench"
    r = run("benchmark", cfg, "--out", out)
    error_line(r, str(out), "Read-only file system", "choose another --out")
    assert not out.exists() and not (tmp_path / "bench.partial").exists()


@pytest.mark.parametrize("cmd", ["fit", "predict", "convert", "benchmark"])
def test_09_proc_output_names_the_given_path(small, tmp_path, cmd):
    args = {
        "fit": ["fit", small / "geno.csv", small / "pheno.csv", *FAST, "--out", "/proc/x"],
        "predict": ["predict", small / "pheno.csv", small / "geno.csv", "--out", "/proc/x"],
        "convert": ["convert", small / "geno.csv", "/proc/x"],
        "benchmark": ["benchmark", tmp_path / "b.toml", "--out", "/proc/x"],
    }[cmd]
    line = error_line(run(*args), "/proc/x: cannot be written")
    assert ".tmp" not in line and ".x." not in line


def test_10_disk_full_while_writing_predictions(small, bundle, tmp_path, monkeypatch):
    import snpcnn.report as report

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))

    monkeypatch.setattr(report.os, "replace", full)
    out = tmp_path / "pred.csv"
    line = error_line(
        run("predict", bundle, small / "geno.csv", "--out", out),
        f"{out}: writing failed (No space left on device)",
        "nothing was written",
        "free some space",
    )
    assert ".tmp" not in line
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temp file


def test_10b_short_write_while_converting(small, tmp_path, monkeypatch):
    import snpcnn.io.cache as cache

    def short(*a, **k):
        raise OSError("766121 requested and 65408 written")

    monkeypatch.setattr(cache.os, "rename", short)
    out = tmp_path / "g.snpcnn"
    error_line(
        run("convert", small / "geno.csv", out),
        f"{out}: writing failed (a short write, the disk or a quota full or a size limit "
        "reached: 766121 requested and 65408 written)",
        "nothing was written",
        "free some space",
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "cache-home"] or list(tmp_path.iterdir()) == []


def test_10c_disk_full_while_saving_fit_results(small, tmp_path, monkeypatch):
    import snpcnn.report as report

    real = report.os.replace

    def full(src, dst):
        if str(dst).endswith("out"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real(src, dst)

    monkeypatch.setattr(report.os, "replace", full)
    out = tmp_path / "out"
    r = run(
        "fit", small / "geno.csv", small / "pheno.csv", "--trait", "GY_E1",
        "--model", small / "tiny.toml", *FAST, "--no-refit", "--out", out,
    )  # fmt: skip
    line = error_line(r, f"{out}: writing failed (No space left on device)", "free some space")
    assert ".tmp" not in line
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


# ---------------------------------------------------------- damaged bundles (cases 11-14)
MEMBER = "snpcnn/preprocessing.npz"


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return dst


def _arrays(members):
    with np.load(io.BytesIO(members[MEMBER])) as npz:
        return {k: npz[k] for k in npz.files}


def _put(members, arrays, allow_pickle=False):
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=allow_pickle, **arrays)
    members[MEMBER] = buf.getvalue()


def _object_array(m):
    a = _arrays(m)
    a["fill"] = np.array([{"x": 1}] * len(a["fill"]), dtype=object)
    _put(m, a, allow_pickle=True)


def _garbage_member(m):
    m[MEMBER] = b"garbage" * 50


def _meta_without_traits(m):
    a = _arrays(m)
    meta = json.loads(str(a["meta_json"]))
    del meta["traits"]
    a["meta_json"] = np.array(json.dumps(meta))
    _put(m, a)


def _foreign_initializer(m):
    c = json.loads(m["config.json"])

    def walk(o):
        if isinstance(o, dict):
            for k in list(o):
                if k == "kernel_initializer":
                    o[k] = {"module": "os", "class_name": "system", "config": {"command": "true"}}
                else:
                    walk(o[k])
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(c)
    m["config.json"] = json.dumps(c).encode()


@pytest.mark.parametrize(
    "change, fragment",
    [
        (_object_array, "holds Python objects, which are never loaded"),
        (_garbage_member, "damaged snpcnn preprocessing"),
        (_meta_without_traits, "meta_json has no 'traits'"),
        (_foreign_initializer, "cannot load the model"),
    ],
    ids=["11-object-array", "12-garbage-member", "13-meta-without-traits", "14-foreign-class"],
)
def test_11_14_damaged_bundle(small, bundle, tmp_path, change, fragment):
    bad = _rewrite(bundle, tmp_path / "bad.keras", change)
    out = tmp_path / "pred.csv"
    line = error_line(
        run("predict", bad, small / "geno.csv", "--out", out),
        str(bad),
        fragment,
        "use a model.keras written by snpcnn fit",
    )
    assert len(line) < 600
    assert not out.exists()


# -------------------------------------------------------- silent wrong results (15-17)
def test_15_short_csv_row_is_refused(small, tmp_path):
    lines = (small / "geno.csv").read_text().splitlines()
    cells = lines[3].split(",")
    lines[3] = ",".join(cells[:-7])  # 7 values lost
    p = tmp_path / "short.csv"
    p.write_text("\n".join(lines) + "\n")
    error_line(
        run("info", "--no-cache", p),
        str(p),
        "line 4",
        f"sample '{cells[0]}'",
        "93 value(s)",
        "100 SNPs",
        "give every SNP a cell",
    )


def test_16_single_sample_fold_is_refused(small, tmp_path):
    ids = pd.read_csv(small / "pheno.csv", dtype={"sample_id": str}).sample_id
    folds = pd.DataFrame({"sample_id": ids, "fold": [1] * 20 + [2] * 19 + [3]})
    folds.to_csv(tmp_path / "folds.csv", index=False)
    out = tmp_path / "out"
    r = run(
        "fit", small / "geno.csv", small / "pheno.csv", "--trait", "GY_E1",
        "--folds", tmp_path / "folds.csv", "--epochs", "1", "--out", out,
    )  # fmt: skip
    error_line(r, str(tmp_path / "folds.csv"), "fold 3", f"'{ids.iloc[-1]}'", "another fold")
    assert not out.exists()


def test_16b_too_many_random_folds(small, tmp_path):
    r = run(
        "fit", small / "geno.csv", small / "pheno.csv", "--folds", "30", "--out", tmp_path / "o"
    )
    error_line(r, "--folds 30", "test folds of 1 sample(s)", "--folds 13 or fewer")


def test_17_fold_file_extras_and_unscored_fold_are_reported(small, tmp_path):
    """Fold-table rows outside the data are counted; a fold left with one value keeps a note."""
    ph = pd.read_csv(small / "pheno.csv", dtype={"sample_id": str})
    folds = pd.DataFrame({"sample_id": ph.sample_id, "fold": [1] * 20 + [2] * 20})
    extra = pd.DataFrame({"sample_id": ["ghost1", "ghost2", "ghost3", "ghost4"], "fold": 1})
    pd.concat([folds, extra]).to_csv(tmp_path / "folds.csv", index=False)
    ph.loc[21:, "GY_E2"] = np.nan  # fold 2 keeps a single GY_E2 value (row 20)
    ph.to_csv(tmp_path / "pheno.csv", index=False)
    out = tmp_path / "out"
    r = run(
        "fit", small / "geno.csv", tmp_path / "pheno.csv", "--trait", "GY_E1", "--trait",
        "GY_E2", "--model", small / "tiny.toml", "--folds", tmp_path / "folds.csv",
        "--epochs", "1", "--baselines", "none", "--no-refit", "--out", out,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    warns = [w for w in warning_lines(r) if "folds.csv" in w]
    assert len(warns) == 1
    assert "4 of its 44 samples are not among the 40 samples used" in warns[0]
    # fitted with GY_E1, the network still learns; the one-value training part is said
    (one,) = [w for w in warning_lines(r) if "the training part of fold 1" in w]
    assert "trait 'GY_E2'" in one and "no model learns 'GY_E2' there" in one
    assert "'ghost1', 'ghost2', 'ghost3'" in warns[0]
    summary = (out / "summary.md").read_text()
    assert "fold 2: only 1 test sample(s) with a value of 'GY_E2'" in summary
    pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    kept = pred[(pred.trait == "GY_E2") & (pred.fold == 2)]
    assert kept.sample_id.tolist() == [ph.sample_id.iloc[20]]


# ------------------------------------------------------- accepted without a word (18-23)
def test_18_pos_with_letters_is_refused(tmp_path):
    recs = [list(r) for r in RECORDS]
    recs[1][1] = "12x"
    p = tmp_path / "pos.vcf"
    p.write_text(vcf_text(["a", "b", "c"], recs))
    error_line(run("info", "--no-cache", p), str(p), "line 4", "POS '12x'", "fix the POS column")


def test_19_unsorted_positions_are_sorted_with_a_warning(tmp_path):
    p = tmp_path / "unsorted.vcf"
    p.write_text(vcf_text(["a", "b", "c"], [RECORDS[1], RECORDS[0], RECORDS[3], RECORDS[2]]))
    r = run("info", "--no-cache", p)
    assert r.exit_code == 0, r.output
    (w,) = warning_lines(r)
    assert "not sorted" in w and "snpcnn sorted them" in w and "bcftools sort" in w
    from snpcnn.io import read_genotypes

    with pytest.warns(UserWarning, match="not sorted"):
        g = read_genotypes(p, cache=False)
    assert g.variants["id"].tolist() == ["m1", "m2", "m3", "m4"]
    assert g.dosages[:, 0].tolist() == [0, 1, 2] and g.dosages[:, 2].tolist() == [2, 0, -1]


def test_20_duplicate_variant_ids_warned(tmp_path):
    recs = [list(r) for r in RECORDS]
    recs[2][2] = "m1"
    p = tmp_path / "dupid.vcf"
    p.write_text(vcf_text(["a", "b", "c"], recs))
    r = run("info", "--no-cache", p)
    assert r.exit_code == 0, r.output
    (w,) = warning_lines(r)
    assert str(p) in w and "1 variant(s) repeat an ID" in w and "'m1'" in w and "bcftools" in w


def test_21_duplicate_positions_warned(tmp_path):
    recs = [list(r) for r in RECORDS]
    recs[2][1] = "200"
    p = tmp_path / "duppos.vcf"
    p.write_text(vcf_text(["a", "b", "c"], recs))
    r = run("info", "--no-cache", p)
    assert r.exit_code == 0, r.output
    (w,) = warning_lines(r)
    assert "1 record(s) repeat a chrom:pos" in w and "'1:200'" in w and "bcftools norm" in w


def test_22_infinite_trait_value_is_called_infinite(small, tmp_path):
    text = (small / "pheno.csv").read_text().splitlines()
    cells = text[5].split(",")
    cells[1] = "inf"
    text[5] = ",".join(cells)
    p = tmp_path / "pheno.csv"
    p.write_text("\n".join(text) + "\n")
    out = tmp_path / "out"
    r = run("fit", small / "geno.csv", p, *FAST, "--out", out)
    line = error_line(r, f"{p} line 6", "infinite value 'inf'", f"sample '{cells[0]}'")
    assert "non-numeric" not in line
    assert not out.exists()


def test_23_padded_ids_are_warned(small, tmp_path):
    ph = pd.read_csv(small / "pheno.csv", dtype={"sample_id": str})
    ph.loc[:2, "sample_id"] = "  " + ph.sample_id[:3] + " "
    ph.to_csv(tmp_path / "pheno.csv", index=False)
    from snpcnn.io.phenotypes import read_phenotypes

    with pytest.warns(UserWarning, match="3 sample id") as rec:
        got = read_phenotypes(tmp_path / "pheno.csv")
    assert "line 2" in str(rec[0].message)
    assert got.sample_ids[:3].tolist() == ph.sample_id[:3].str.strip().tolist()
    # the CLI prints it as one Warning: line (fit stops early on a bad option here)
    r = run("fit", small / "geno.csv", tmp_path / "pheno.csv", "--folds", "99", "--out",
            tmp_path / "o")  # fmt: skip
    assert any("surrounding spaces" in w for w in warning_lines(r)), r.stderr
    error_line(r, "--folds 99")


def test_24_warnings_survive_a_table_genotype_file(small, tmp_path):
    text = (small / "geno.csv").read_text().splitlines()
    text[1] = " " + text[1].split(",", 1)[0] + " ," + text[1].split(",", 1)[1]
    p = tmp_path / "g.csv"
    p.write_text("\n".join(text) + "\n")
    r = run("info", "--no-cache", p)
    assert r.exit_code == 0, r.output
    assert any("surrounding spaces" in w for w in warning_lines(r)), r.stderr


def test_gzip_header_damage_is_one_line(tmp_path):
    p = tmp_path / "x.vcf.gz"
    raw = gzip.compress(vcf_text(["a", "b", "c"], RECORDS).encode())
    p.write_bytes(raw[:15])
    error_line(run("info", "--no-cache", p), str(p))


def test_output_untouched_when_it_already_exists(small, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    out = tmp_path / "pred.csv"
    out.write_text("keep me\n")
    r = run("predict", small / "pheno.csv", small / "geno.csv", "--out", out, "--force")
    error_line(r, str(out))
    assert out.read_text() == "keep me\n"
    shutil.rmtree(tmp_path / "cache-home", ignore_errors=True)


def test_19b_predict_and_explain_read_unsorted_files_without_the_order_warning(tmp_path):
    """predict and explain match SNPs to the saved model by id, so the warning that SNP
    order feeds the convolutions is true for fit only (session 32)."""
    import warnings

    from snpcnn.cli import read_cli_genotypes

    text = vcf_text(["a", "b", "c"], [RECORDS[1], RECORDS[0], RECORDS[3], RECORDS[2]])
    (tmp_path / "fit.vcf").write_text(text)
    with pytest.warns(UserWarning, match="feeds the convolutions"):
        read_cli_genotypes(tmp_path / "fit.vcf", None)
    p = tmp_path / "unsorted.vcf"  # another file: nothing read from a cache
    p.write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = read_cli_genotypes(p, None, by_id=True)
    assert not [w for w in caught if "feeds the convolutions" in str(w.message)]
    assert g.variants["id"].tolist() == ["m1", "m2", "m3", "m4"]
