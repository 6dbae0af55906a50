"""Issue 15: a large VCF/PLINK file is converted to a cache and read memory-mapped from it.

The size threshold (snpcnn.io.LARGE_GENOTYPES, 2**28 genotypes) is lowered so that small
simulated files count as large.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import snpcnn.io as sio
import snpcnn.io.cache as cache_mod
from snpcnn.errors import InputError
from snpcnn.io import read_genotypes
from snpcnn.simulate import write_example


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    plink = write_example(
        d, n_samples=40, n_snps=90, fmt="plink", seed=5, missing_rate=0.05, prefix="p"
    )
    vcf = write_example(
        d, n_samples=40, n_snps=90, fmt="vcf", seed=5, missing_rate=0.05, prefix="v"
    )
    return {"plink": plink["genotypes"], "vcf": vcf["genotypes"]}


@pytest.fixture(autouse=True)
def small_threshold(tmp_path, monkeypatch):
    """40 x 90 = 3,600 genotypes count as large; private cache and temporary folders."""
    monkeypatch.setattr(sio, "LARGE_GENOTYPES", 1000)
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(tmp_path / "cache-home"))
    monkeypatch.delenv(sio.NO_CACHE_ENV, raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    # the temporary cache is removed at exit: record the removal instead of registering it
    exits = []
    monkeypatch.setattr(sio.atexit, "register", exits.append)
    return exits


def in_memory(path):
    return read_genotypes(path, cache=False, convert_large=False)


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a.dosages), np.asarray(b.dosages))
    assert a.samples.tolist() == b.samples.tolist()
    for col in ("chrom", "pos", "id", "ref", "alt"):
        assert a.variants[col].tolist() == b.variants[col].tolist(), col


def contents(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("fmt", ["plink", "vcf"])
def test_large_file_is_read_memory_mapped_from_the_automatic_cache(files, fmt, tmp_path, capfd):
    ref = in_memory(files[fmt])
    assert not isinstance(ref.dosages, np.memmap)
    capfd.readouterr()
    g = read_genotypes(files[fmt])
    err = capfd.readouterr().err
    assert isinstance(g.dosages, np.memmap) and g.dosages.dtype == np.int8
    same(g, ref)
    folder = os.path.dirname(g.dosages.filename)
    assert os.path.dirname(folder) == str(tmp_path / "cache-home")
    assert g.report["cache"] == folder
    line = [ln for ln in err.splitlines() if "converting" in ln]
    assert len(line) == 1, err
    assert "40 samples x 90 SNPs" in line[0] and folder in line[0] and "later runs reuse" in line[0]
    assert "cached" not in err  # one line, not also the small-file cache notice
    # the next read reuses it, silently
    again = read_genotypes(files[fmt])
    assert "converting" not in capfd.readouterr().err
    assert os.path.dirname(again.dosages.filename) == folder
    same(again, ref)
    assert contents(tmp_path / "tmp") == []


def test_below_the_threshold_nothing_changes(files, monkeypatch, tmp_path, capfd):
    monkeypatch.setattr(sio, "LARGE_GENOTYPES", 40 * 90)  # "more than": equal is not large
    g = read_genotypes(files["plink"])
    assert not isinstance(g.dosages, np.memmap)
    assert "converting" not in capfd.readouterr().err
    assert contents(tmp_path / "cache-home") == []  # PLINK is not cached automatically
    # and convert_large=False keeps the matrix in memory whatever its size
    monkeypatch.setattr(sio, "LARGE_GENOTYPES", 1000)
    assert not isinstance(read_genotypes(files["vcf"], convert_large=False).dosages, np.memmap)


def test_without_caching_a_temporary_cache_removed_at_exit(
    files, monkeypatch, tmp_path, capfd, small_threshold
):
    monkeypatch.setenv(sio.NO_CACHE_ENV, "1")
    ref = in_memory(files["vcf"])
    capfd.readouterr()
    g = read_genotypes(files["vcf"])
    err = capfd.readouterr().err
    assert isinstance(g.dosages, np.memmap)
    same(g, ref)
    folder = os.path.dirname(g.dosages.filename)
    assert folder.startswith(str(tmp_path / "tmp"))
    assert "temporary cache at" in err and folder in err and "removed at exit" in err
    assert contents(tmp_path / "cache-home") == []
    # the exit handler removes the temporary folder
    assert len(small_threshold) == 1
    del g
    small_threshold[0]()
    assert contents(tmp_path / "tmp") == []


def test_unwritable_cache_folder_falls_back_to_a_temporary_cache(
    files, monkeypatch, tmp_path, capfd
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(blocker / "cache"))
    g = read_genotypes(files["plink"])
    err = capfd.readouterr().err
    assert isinstance(g.dosages, np.memmap)
    same(g, in_memory(files["plink"]))
    assert str(tmp_path / "tmp") in os.path.dirname(g.dosages.filename)
    assert "could not write that cache; converting" in err


def test_no_writable_folder_is_one_line_error_and_leaves_nothing(files, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SNPCNN_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))
    with pytest.raises(InputError) as e:
        read_genotypes(files["vcf"])
    msg = str(e.value)
    assert "\n" not in msg and str(files["vcf"]) in msg and "snpcnn convert" in msg
    assert "SNPCNN_CACHE_DIR" in msg and "TMPDIR" in msg


def test_a_write_failing_halfway_leaves_nothing(files, monkeypatch, tmp_path, small_threshold):
    """The disk fills up while dosages.npy is written: no partial cache anywhere."""
    real_save = np.save

    def full_disk(fh, arr, **kw):
        fh.write(b"\x93NUMPY partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_mod.np, "save", full_disk)
    try:
        with pytest.raises(InputError, match="No space left on device"):
            read_genotypes(files["plink"])
    finally:
        monkeypatch.setattr(cache_mod.np, "save", real_save)
    home = tmp_path / "cache-home"
    assert contents(home) == []  # the hidden .tmp folder is gone too
    assert contents(tmp_path / "tmp") == []
    assert small_threshold == []  # nothing registered for removal: nothing was left
    # and the next run converts normally
    assert isinstance(read_genotypes(files["plink"]).dosages, np.memmap)
    assert len(contents(home)) == 1


def test_a_reused_cache_names_the_file_as_given_now(files, tmp_path, monkeypatch):
    """A cache made from another folder named the path as typed then (run.json's
    data.genotypes.source and predict's warnings named a path that did not exist from
    here: a checking helper, session 41)."""
    src = files["vcf"]
    monkeypatch.chdir(src.parent)
    first = read_genotypes(src.name)  # makes the automatic cache, relative path
    assert first.source == src.name
    monkeypatch.chdir(src.parent.parent)
    given = os.path.join(src.parent.name, src.name)
    again = read_genotypes(given)
    assert isinstance(again.dosages, np.memmap)  # the cache, reused
    assert again.source == given
