"""`snpcnn info` and `snpcnn convert` through click's CliRunner."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.io import read_genotypes
from snpcnn.io.cache import load_cache


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(tmp_path / "cache-home"))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in err[0]


def test_info_on_example_vcf(example_data):
    r = run("info", example_data / "wheat.vcf.gz")
    assert r.exit_code == 0, r.output
    assert "samples:       599" in r.stdout
    assert "SNPs:          1,279" in r.stdout
    assert "multiallelic_dropped=0" in r.stdout


@pytest.mark.parametrize("name", ["wheat", "wheat.bed", "wheat_X_dart01.csv.gz"])
def test_info_other_forms(example_data, name):
    r = run("info", example_data / name)
    assert r.exit_code == 0, r.output
    assert "SNPs:          1,279" in r.stdout


def test_info_format_option(example_data, tmp_path):
    odd = tmp_path / "genotypes.data"
    shutil.copy(example_data / "wheat_X_dart01.csv.gz", odd)
    assert_one_line_error(run("info", odd), "cannot tell the genotype format", "--format")
    r = run("info", odd, "--format", "table", "--coding", "012")
    assert r.exit_code == 0, r.output
    assert "coding=012" in r.stdout


def test_convert_then_info_and_force(example_data, tmp_path):
    out = tmp_path / "wheat.snpcnn"
    r = run("convert", example_data / "wheat.vcf.gz", out)
    assert r.exit_code == 0, r.output
    assert "599 samples x 1,279 SNPs" in r.stdout
    g = load_cache(out)
    ref = read_genotypes(example_data / "wheat.vcf.gz", cache=False)
    np.testing.assert_array_equal(np.asarray(g.dosages), ref.dosages)
    assert_one_line_error(run("convert", example_data / "wheat.vcf.gz", out), "--force")
    r = run("convert", example_data / "wheat", out, "--force")
    assert r.exit_code == 0, r.output
    assert load_cache(out).report["format"] == "plink"
    r = run("info", out)
    assert r.exit_code == 0 and f"cache={out}" in r.stdout


def test_convert_default_output_next_to_input(example_data, tmp_path):
    src = tmp_path / "w.vcf.gz"
    shutil.copy(example_data / "wheat.vcf.gz", src)
    r = run("convert", src, "--multiallelic", "alt1")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "w.vcf.gz.snpcnn" / "dosages.npy").exists()


VCF_CASES = [
    ("empty.vcf", "no variant records"),
    ("ann.vcf", "sites-only"),
    ("test48a.vcf", "not a readable VCF"),
    ("test48b.vcf", "more sample columns"),
    ("test63.vcf", "ploidy above 2"),
]


@pytest.mark.parametrize("name, fragment", VCF_CASES)
def test_bad_vcf_one_line_error(shared_data, name, fragment):
    path = shared_data / "vcf_cases" / "scikit-allel" / name
    assert_one_line_error(run("info", path), fragment, name)
    assert_one_line_error(run("info", path, "--no-cache"), fragment)


PLINK_CASES = [
    ("smallmodebad.bed", "small.bim", "small.fam", "mode byte"),
    ("small_too_short.bed", "small.bim", "small.fam", "truncated"),
    ("badfile.bed", "small.bim", "small.fam", "magic bytes"),
    ("empty.bed", "small.bim", "small.fam", "empty file"),
    ("small.bed", "small.bim_bad_positions.bim", "small.fam", "line 2"),
    ("small.bed", "small.bad_bim", "small.fam", "line 3 has 5 columns"),
    ("small.bed", "small.bim", "small.fam_bad", "line 4 has 1 columns"),
]


@pytest.mark.parametrize("bed, bim, fam, fragment", PLINK_CASES)
def test_bad_plink_one_line_error(shared_data, tmp_path, bed, bim, fam, fragment):
    cases = shared_data / "vcf_cases" / "bed-reader"
    for src, ext in ((bed, "bed"), (bim, "bim"), (fam, "fam")):
        shutil.copy(cases / src, tmp_path / f"x.{ext}")
    assert_one_line_error(run("info", tmp_path / "x"), fragment)
    assert_one_line_error(run("convert", tmp_path / "x", tmp_path / "x.snpcnn"), fragment)
    assert not (tmp_path / "x.snpcnn").exists()


def test_missing_file_and_bcf(tmp_path):
    assert_one_line_error(run("info", tmp_path / "nope.vcf"), "no such file")
    (tmp_path / "a.bcf").write_bytes(b"BCF\x02\x02")
    assert_one_line_error(run("info", tmp_path / "a.bcf"), "not a readable BCF")


def test_bad_table_value(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("id,m1,m2\na,0,1\nb,7,2\n")
    assert_one_line_error(run("info", p), "sample 'b', SNP 'm1': value '7'")


def test_every_manifest_genotype_file_loads_or_fails_in_one_clear_line(shared_data):
    """Sweep vcf_cases/MANIFEST.tsv: each VCF/PLINK file loads or gives one `Error:` line."""
    import csv

    cases = shared_data / "vcf_cases"
    with open(cases / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    files = [
        r["file"]
        for r in rows
        if r["kind"] in ("vcf", "vcf.gz")
        and not r["file"].endswith(".tbi")
        or (r["kind"] == "plink" and r["file"].endswith(".bed"))
    ]
    assert len(files) >= 20
    loaded = failed = 0
    for name in files:
        r = run("info", cases / name, "--no-cache")
        assert "Traceback" not in r.output and "internal error" not in r.output, name
        if r.exit_code == 0:
            assert "samples:" in r.stdout
            loaded += 1
        else:
            assert_one_line_error(r)
            failed += 1
    assert loaded >= 15 and failed >= 5


# --------------------------------------------------------- one set of format names
def test_format_names_are_the_same_everywhere(tmp_path):
    from snpcnn.io import FORMAT_HELP, FORMAT_NAMES, FORMATS

    assert {"vcf", "bcf", "plink", "pgen", "table", "cache", "csv"} <= set(FORMAT_NAMES)
    p = tmp_path / "m.txt"  # a name that says nothing: the format must be forced
    p.write_text("id,m1,m2\na,0,1\nb,2,1\n")
    for name in ("csv", "table", "CSV", "tsv"):
        r = run("info", "--format", name, p, "--no-cache")
        assert r.exit_code == 0, r.output
        assert "format=table" in r.stdout
    out = tmp_path / "m.snpcnn"
    r = run("convert", p, out, "--format", "csv")
    assert r.exit_code == 0, r.output
    # every command that takes --format lists the same names, in help and errors
    for cmd in (["info"], ["convert"], ["fit"], ["predict"], ["explain"]):
        h = run(*cmd, "--help")
        assert h.exit_code == 0
        assert " ".join(FORMAT_HELP.split()) in " ".join(h.output.split()), cmd
        bad = run(*cmd, "--format", "vcf2", "x", "y", "z")
        assert bad.exit_code == 2
        assert all(f"'{f}'" in bad.output for f in FORMATS), (cmd, bad.output)
    with pytest.raises(Exception, match="choose one of vcf, bcf, plink"):
        read_genotypes(p, format="vcf2")


# ---------------------------------------------------- where caches go, and how to stop them
def big_vcf(path, n=50, m=6000):
    """A plain VCF of about 1.4 MB: over the 1 MiB from which parsed files are cached."""
    rng = np.random.default_rng(0)
    forms = np.array(["0/0", "0/1", "1/1", "./."])
    head = (
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
        + "\t".join(f"s{i}" for i in range(n))
        + "\n"
    )
    g = forms[rng.integers(0, 4, size=(m, n))]
    body = "".join(f"1\t{j + 1}\t.\tA\tG\t.\t.\t.\tGT\t" + "\t".join(g[j]) + "\n" for j in range(m))
    path.write_text(head + body)
    return path


def test_info_says_where_it_cached_and_how_to_turn_it_off(tmp_path, monkeypatch):
    src = big_vcf(tmp_path / "big.vcf")
    home = tmp_path / "cache-home"
    r = run("info", src)
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if "cached" in ln]
    assert len(lines) == 1, r.stderr
    written = list(home.glob("big.vcf-*.snpcnn"))
    assert len(written) == 1 and str(written[0]) in lines[0]
    assert "SNPCNN_NO_CACHE=1" in lines[0] and "--no-cache" in lines[0]
    assert "SNPCNN_CACHE_DIR" in lines[0]
    r = run("info", src)  # reused: nothing written, nothing said
    assert r.exit_code == 0 and "cached" not in r.stderr
    assert f"cache={written[0]}" in r.stdout
    # off: the environment variable (every command) and --no-cache (info)
    other = tmp_path / "other-home"
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(other))
    r = run("info", src, "--no-cache")
    assert r.exit_code == 0 and "cached" not in r.stderr and not other.exists()
    monkeypatch.setenv("SNPCNN_NO_CACHE", "1")
    r = run("info", src)
    assert r.exit_code == 0 and "cached" not in r.stderr and not other.exists()
    assert "cache=" not in r.stdout  # not reused either
    g = read_genotypes(src)  # the Python API honours it too
    assert "cache" not in g.report and not other.exists()


def test_a_damaged_automatic_cache_falls_back_to_the_source(tmp_path):
    src = big_vcf(tmp_path / "big.vcf")
    home = tmp_path / "cache-home"
    first = run("info", src)
    assert first.exit_code == 0
    (written,) = home.glob("big.vcf-*.snpcnn")
    dos = written / "dosages.npy"
    dos.write_bytes(dos.read_bytes()[:1000])  # truncated, as by a full disk
    r = run("info", src)
    assert r.exit_code == 0, r.output
    said = [ln for ln in r.stderr.splitlines() if "is damaged" in ln]
    assert len(said) == 1 and "reading" in said[0] and "Traceback" not in r.output

    def counts(text):
        return [ln for ln in text.splitlines() if "samples" in ln.lower()]

    assert counts(r.stdout) == counts(first.stdout) and counts(first.stdout)
    assert run("info", src).exit_code == 0  # rewritten: read from the cache again


def test_failed_cache_write_says_so_in_one_line(tmp_path, monkeypatch):
    src = big_vcf(tmp_path / "big.vcf")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(blocker / "sub"))
    r = run("info", src)
    assert r.exit_code == 0, r.output
    said = [ln for ln in r.stderr.splitlines() if "could not write a cache" in ln]
    assert len(said) == 1 and "SNPCNN_NO_CACHE=1" in said[0]


def test_convert_next_to_a_read_only_input_names_the_fix(example_data, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    src = ro / "w.vcf.gz"
    shutil.copy(example_data / "wheat.vcf.gz", src)
    import snpcnn.io.output as output

    real = output.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):  # the folder behaves as read-only (tests run as root)
        if dir is not None and Path(dir).resolve() == ro.resolve():
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(output.tempfile, "mkstemp", mkstemp)
    r = run("convert", src)
    assert_one_line_error(r, "cannot write the cache next to", "--out OUT.snpcnn")
    assert not (ro / "w.vcf.gz.snpcnn").exists()
    out = tmp_path / "elsewhere.snpcnn"
    r = run("convert", src, "--out", out)
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.stdout and (out / "dosages.npy").exists()
    assert_one_line_error(run("convert", src, tmp_path / "a.snpcnn", "-o", out), "two output paths")


def test_convert_force_never_deletes_an_input_or_a_users_files(example_data, tmp_path):
    """--force replaces a cache folder only where it holds nothing but a snpcnn cache: never
    one that holds the input being converted, other files, or a look-alike meta.json."""
    src = example_data / "wheat.vcf.gz"
    out = tmp_path / "c.snpcnn"
    assert run("convert", src, out).exit_code == 0
    inside = out / "in.vcf.gz"
    inside.write_bytes(src.read_bytes())
    assert_one_line_error(run("convert", inside, out, "--force"), "not replaced", "the input")
    assert inside.is_file()
    inside.unlink()
    (out / "notes.txt").write_text("precious")
    assert_one_line_error(run("convert", src, out, "--force"), "not replaced", "notes.txt")
    assert (out / "notes.txt").read_text() == "precious"
    (out / "notes.txt").unlink()
    assert run("convert", src, out, "--force").exit_code == 0  # a cache alone: replaced
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "meta.json").write_text('{"a": 1}')
    (fake / "dosages.npy").write_bytes(b"")
    assert_one_line_error(run("convert", src, fake, "--force"), "not replaced", "meta.json")
    assert (fake / "meta.json").read_text() == '{"a": 1}'


def test_latin1_vcf_and_a_wrong_format_give_the_fix(example_data, tmp_path):
    vcf = tmp_path / "latin1.vcf"
    vcf.write_bytes(
        b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tsampl\xe9\n"
        b"1\t1\trs1\tA\tG\t.\t.\t.\tGT\t0/1\n"
    )
    assert_one_line_error(run("info", vcf), "line 2", "not UTF-8", "iconv")
    assert_one_line_error(
        run("info", example_data / "wheat.vcf.gz", "--format", "plink"), "leave --format out"
    )
