"""The converted cache: round trip, memmap, staleness, automatic reuse, atomic writes."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import snpcnn.io as sio
from snpcnn.errors import InputError
from snpcnn.io import read_genotypes
from snpcnn.io.cache import (
    auto_cache_path,
    cache_dir,
    convert,
    find_cache,
    is_fresh,
    load_cache,
    write_cache,
)


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache-home"
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(d))
    return d


@pytest.fixture
def wheat_copy(shared_data, tmp_path):
    """A writable copy of the wheat VCF and PLINK files."""
    d = tmp_path / "src"
    d.mkdir()
    for name in ("wheat.vcf.gz", "wheat.bed", "wheat.bim", "wheat.fam"):
        shutil.copy(shared_data / "wheat" / name, d / name)
    return d


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a.dosages), np.asarray(b.dosages))
    assert a.samples.tolist() == b.samples.tolist()
    for col in ("chrom", "pos", "id", "ref", "alt"):
        assert a.variants[col].tolist() == b.variants[col].tolist(), col


def test_round_trip_is_memmap_and_identical(wheat_copy, tmp_path):
    src = wheat_copy / "wheat.vcf.gz"
    out = convert(src, tmp_path / "w.snpcnn")
    assert sorted(p.name for p in out.iterdir()) == [
        "dosages.npy",
        "meta.json",
        "samples.txt",
        "variants.tsv",
    ]
    g = load_cache(out)
    assert isinstance(g.dosages, np.memmap) and g.dosages.dtype == np.int8
    assert not g.dosages.flags.writeable
    same(g, read_genotypes(src, cache=False))
    meta = json.loads((out / "meta.json").read_text())
    rec = meta["source"]["files"][0]
    assert rec["size"] == src.stat().st_size and rec["mtime_ns"] == src.stat().st_mtime_ns
    assert len(rec["sha256"]) == 64 and meta["read_options"] == {
        "snps_only": False,
        "multiallelic": "drop",
    }
    assert meta["load_report"]["records"] == 1279
    assert read_genotypes(out).report["cache"] == str(out)


def test_memmap_container_serves_batches(wheat_copy, tmp_path):
    g = load_cache(convert(wheat_copy / "wheat", tmp_path / "p.snpcnn"))
    ref = read_genotypes(wheat_copy / "wheat", cache=False)
    rows = np.array([5, 1, 598])
    np.testing.assert_array_equal(g.batch(rows), ref.dosages[rows])
    for (r1, b1), (r2, b2) in zip(g.iter_batches(128), ref.iter_batches(128)):
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(b1, b2)
    np.testing.assert_allclose(g.maf(), ref.maf())
    sub = g.subset(samples=[3, 4], variants=g.snp_ids[:10])
    np.testing.assert_array_equal(sub.dosages, ref.dosages[3:5, :10])


def test_default_destination_is_reused_automatically(wheat_copy):
    src = wheat_copy / "wheat.vcf.gz"
    out = convert(src)
    assert out == wheat_copy / "wheat.vcf.gz.snpcnn"
    g = read_genotypes(src)
    assert g.report["cache"] == str(out) and isinstance(g.dosages, np.memmap)
    # other read options do not reuse it
    g2 = read_genotypes(src, multiallelic="alt1")
    assert "cache" not in g2.report
    assert read_genotypes(src, cache=False).report.get("cache") is None


def test_changed_source_makes_the_cache_stale(wheat_copy):
    src = wheat_copy / "wheat.vcf.gz"
    out = convert(src)
    assert is_fresh(out, [src])[0]
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: mtime differs
    # the same content (its sha256): still fresh, and used (before session 39 the file was
    # parsed again into a second, automatic cache without a word)
    assert is_fresh(out, [src]) == (True, "fresh")
    assert read_genotypes(src, cache="read").report["cache"] == str(out)
    # other content of the same size with a new time stamp: stale
    import gzip

    plain = wheat_copy / "plain.vcf"
    text = gzip.decompress(src.read_bytes()).decode()
    plain.write_text(text)
    out = convert(plain)
    last = text.rindex("0/0")
    plain.write_text(text[:last] + "1/1" + text[last + 3 :])
    os.utime(plain, ns=(st.st_atime_ns, plain.stat().st_mtime_ns + 10**9))
    fresh, why = is_fresh(out, [plain])
    assert not fresh and "modification time and content" in why
    assert "cache" not in read_genotypes(plain, cache="read").report
    g = load_cache(out)  # explicit load still works, but says so
    assert "changed" in g.report["source_changed"]


def test_same_size_and_mtime_but_new_content_is_stale(wheat_copy):
    src = wheat_copy / "wheat.bim"
    out = convert(wheat_copy / "wheat")
    st = src.stat()
    text = src.read_text()
    src.write_text(text.replace("wPt.0538", "wPt.9999", 1))  # same length
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size and src.stat().st_mtime_ns == st.st_mtime_ns
    fresh, why = is_fresh(out, [wheat_copy / f"wheat.{e}" for e in ("bed", "bim", "fam")])
    assert not fresh and "fingerprint" in why
    g = read_genotypes(wheat_copy / "wheat")
    assert "cache" not in g.report and g.variants["id"].iloc[0] == "wPt.9999"


def test_auto_cache_written_to_cache_dir_not_next_to_source(wheat_copy, monkeypatch):
    src = wheat_copy / "wheat.vcf.gz"
    # small files are not cached by default
    read_genotypes(src)
    assert not cache_dir().exists() or not any(cache_dir().iterdir())
    monkeypatch.setattr(sio, "AUTO_CACHE_MIN_BYTES", 0)
    g1 = read_genotypes(src)
    expected = auto_cache_path(src, {"snps_only": False, "multiallelic": "drop"})
    assert expected.parent == cache_dir() and expected.is_dir()
    assert not (wheat_copy / "wheat.vcf.gz.snpcnn").exists()
    g2 = read_genotypes(src)
    assert g2.report["cache"] == str(expected)
    same(g1, g2)
    assert find_cache(src, "vcf", {"snps_only": True, "multiallelic": "drop"}) is None
    # a changed source is parsed again and the automatic cache rebuilt
    with open(src, "ab") as fh:
        fh.write(b"")
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 5))
    # a new time stamp alone, the same content: the cache is used
    assert read_genotypes(src).report["cache"] == str(expected)
    with open(src, "ab") as fh:
        fh.write(__import__("gzip").compress(b""))  # an empty gzip member: new bytes
    g3 = read_genotypes(src)
    assert "cache" not in g3.report
    assert is_fresh(expected, [src])[0]


def test_cache_read_mode_and_always_mode(wheat_copy):
    src = wheat_copy / "wheat"
    read_genotypes(src, cache="read")
    assert not cache_dir().exists()
    read_genotypes(src, cache="always")
    assert len(list(cache_dir().iterdir())) == 1
    assert "cache" in read_genotypes(src, cache="read").report
    with pytest.raises(InputError, match="cache"):
        read_genotypes(src, cache="sometimes")


def test_existing_output_needs_force(wheat_copy, tmp_path):
    src = wheat_copy / "wheat.vcf.gz"
    out = convert(src, tmp_path / "w.snpcnn")
    before = (out / "meta.json").read_text()
    with pytest.raises(InputError, match="exists; use force=True"):
        convert(src, out)
    assert (out / "meta.json").read_text() == before
    convert(src, out, force=True, multiallelic="alt1")
    assert json.loads((out / "meta.json").read_text())["read_options"]["multiallelic"] == "alt1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_non_cache_destination_never_overwritten(wheat_copy, tmp_path):
    victim = tmp_path / "important"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    for force in (False, True):
        with pytest.raises(InputError, match="not a snpcnn cache"):
            convert(wheat_copy / "wheat.vcf.gz", victim, force=force)
    assert (victim / "notes.txt").read_text() == "keep me"


def test_failed_write_leaves_nothing_behind(wheat_copy, tmp_path, monkeypatch):
    g = read_genotypes(wheat_copy / "wheat", cache=False)
    out = tmp_path / "x.snpcnn"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        write_cache(g, out)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.snpcnn")]


def test_failed_forced_rewrite_keeps_the_old_cache(wheat_copy, tmp_path, monkeypatch):
    out = convert(wheat_copy / "wheat", tmp_path / "x.snpcnn")
    g = read_genotypes(wheat_copy / "wheat", cache=False)
    monkeypatch.setattr(np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_cache(g, out, force=True)
    monkeypatch.undo()
    same(load_cache(out), g)


def test_corrupt_or_foreign_cache_is_a_clear_error(tmp_path):
    d = tmp_path / "bad.snpcnn"
    d.mkdir()
    with pytest.raises(InputError, match="not a snpcnn cache"):
        load_cache(d)
    (d / "dosages.npy").write_bytes(b"junk")
    (d / "meta.json").write_text('{"snpcnn_cache": 99}')
    with pytest.raises(InputError, match="cache format version 99"):
        load_cache(d)


def _big_table(tmp_path, seed: int):
    """A 600 x 2,000 dosage CSV of more than 2 MiB: its middle is outside the fingerprint
    (size, first and last MiB) that cache reuse checks."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.integers(0, 3, size=(600, 2000)))
    table.columns = [f"snp{j}" for j in range(2000)]
    table.insert(0, "sample_id", [f"s{i}" for i in range(600)])
    path = tmp_path / "geno.csv"
    table.to_csv(path, index=False)
    assert path.stat().st_size > 2 * (1 << 20)
    return path


def _edit_the_middle(path) -> None:
    """Swap 0 and 2 in the row of sample s299 (same length) and restore the time stamp."""
    st = path.stat()
    lines = path.read_bytes().split(b"\n")
    row = lines[300].split(b",")
    row[1:] = [b"2" if v == b"0" else b"0" for v in row[1:]]
    lines[300] = b",".join(row)
    path.write_bytes(b"\n".join(lines))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_fit_predict_and_explain_do_not_read_a_cache_of_an_older_file(tmp_path, monkeypatch):
    """Reuse checks size, time stamp and the first and last MiB: an edit in the middle with
    the time stamp restored passed, and fit read the old genotypes while run.json recorded
    the new file's checksum (a checking helper, session 33). The commands that record
    checksums compare the full sha256 and rebuild the automatic cache."""
    from snpcnn.cli import read_cli_genotypes

    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(tmp_path / "cache"))
    path = _big_table(tmp_path, seed=0)
    first = read_cli_genotypes(path, None)
    assert not first.report.get("cache")  # parsed, and an automatic cache written
    _edit_the_middle(path)
    again = read_cli_genotypes(path, None)
    want = pd.read_csv(path, skiprows=range(1, 300), nrows=1).iloc[0, 1:].to_numpy()
    np.testing.assert_array_equal(np.asarray(again.dosages[299]), want)
    # the rebuilt cache is fresh: the next read reuses it
    third = read_cli_genotypes(path, None)
    assert third.report.get("cache")
    np.testing.assert_array_equal(np.asarray(third.dosages[299]), want)


def test_info_and_verify_do_not_read_a_converted_cache_of_an_older_file(tmp_path, capsys):
    """`snpcnn info`, `benchmark` and `tune` trusted size, time stamp and ends (session 33's
    note): they now pass verify=True.  A cache made by `snpcnn convert` is bypassed, not
    deleted, and the default read (verify=False) still reuses it, as documented."""
    from click.testing import CliRunner

    from snpcnn.cli import main

    path = _big_table(tmp_path, seed=1)
    out = convert(path)
    _edit_the_middle(path)
    want = pd.read_csv(path, skiprows=range(1, 300), nrows=1).iloc[0, 1:].to_numpy()
    stale = read_genotypes(path)  # the default trusts the cheap checks
    assert stale.report.get("cache")
    assert not np.array_equal(np.asarray(stale.dosages[299]), want)
    checked = read_genotypes(path, verify=True)
    assert not checked.report.get("cache")
    np.testing.assert_array_equal(np.asarray(checked.dosages[299]), want)
    err = capsys.readouterr().err
    assert "earlier version of" in err and "snpcnn convert" in err and "--force" in err
    assert out.is_dir()  # the user's converted cache is left alone
    res = CliRunner().invoke(main, ["info", str(path)])
    assert res.exit_code == 0, res.output
    assert "earlier version of" in res.output  # the one-line note (stderr is mixed in)


def test_a_damaged_code_in_the_cache_is_refused_where_it_is_read(tmp_path):
    """A byte of dosages.npy set to 7 was read as a dosage of 7 by info, fit and predict
    without a word (a cache is checked when written, not when opened; a checking helper,
    session 43): every read of the map now checks the codes it read."""
    from click.testing import CliRunner

    from snpcnn.cli import main
    from snpcnn.datapath import EncodedRows
    from snpcnn.genotypes import Genotypes
    from snpcnn.preprocess import GenotypePreprocessor

    rng = np.random.default_rng(1)
    x = rng.integers(-1, 3, size=(50, 30), dtype=np.int8)
    g0 = Genotypes(x, [f"s{i}" for i in range(50)], source="test")
    write_cache(g0, tmp_path / "c.snpcnn")
    pre = GenotypePreprocessor().fit(load_cache(tmp_path / "c.snpcnn"), np.arange(50))
    npy = tmp_path / "c.snpcnn" / "dosages.npy"
    data = bytearray(npy.read_bytes())
    data[len(data) - 30 * 10 + 4] = 7  # sample 40, SNP 4
    npy.write_bytes(bytes(data))
    g = load_cache(tmp_path / "c.snpcnn")  # opening reads nothing
    msg = "dosages.npy: genotype code 7 .*the cache is damaged; rebuild it"
    with pytest.raises(InputError, match=msg):
        g.counts()
    with pytest.raises(InputError, match=msg):
        g.batch(np.arange(35, 45))
    np.testing.assert_array_equal(g.batch(np.arange(10)), x[:10])  # rows read that are whole
    with pytest.raises(InputError, match=msg):
        EncodedRows(g, pre, np.arange(50)).columns(0, 30)
    from snpcnn.stats import marginal_association

    with pytest.raises(InputError, match=msg):  # explain reads these two
        g.subset(samples=np.arange(30, 50))
    with pytest.raises(InputError, match=msg):
        marginal_association(g, np.arange(50.0))
    # a user's own memory map is not called a cache
    np.save(tmp_path / "mine.npy", np.where(np.arange(30) == 4, 7, 0).astype(np.int8)[None, :])
    own = Genotypes(np.load(tmp_path / "mine.npy", mmap_mode="r"), ["a"])
    with pytest.raises(InputError, match=r"mine\.npy: genotype code 7 .*must be 0, 1 or 2"):
        own.counts()
    res = CliRunner().invoke(main, ["info", str(tmp_path / "c.snpcnn")])
    assert res.exit_code == 1
    err = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert len(err) == 1 and "genotype code 7" in err[0] and "Traceback" not in res.output
