"""The Genotypes container: subsetting, QC statistics, encodings, memmap backing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes, encode, n_channels

D = np.array(
    [
        [0, 1, 2, 0, -1],
        [2, 1, 2, 0, 0],
        [1, -1, 2, 0, 2],
        [0, 0, 2, -1, 1],
    ],
    dtype=np.int8,
)


@pytest.fixture
def g():
    variants = pd.DataFrame(
        {
            "chrom": ["1", "1", "2", "2", "X"],
            "pos": [10, 20, 5, 6, 7],
            "id": ["a", "b", "c", "d", "e"],
            "ref": list("AAAAA"),
            "alt": list("CGTCG"),
        }
    )
    return Genotypes(D.copy(), ["s1", "s2", "s3", "s4"], variants, source="toy")


def test_subset_by_ids_masks_and_indices(g):
    by_id = g.subset(samples=["s3", "s1"], variants=["e", "a"])
    assert by_id.samples.tolist() == ["s3", "s1"]
    np.testing.assert_array_equal(by_id.dosages, D[np.ix_([2, 0], [4, 0])])
    by_mask = g.subset(variants=np.array([True, False, True, False, False]))
    assert by_mask.snp_ids.tolist() == ["a", "c"]
    by_idx = g.subset(samples=[1, 3])
    np.testing.assert_array_equal(by_idx.dosages, D[[1, 3]])
    assert g.subset(samples=slice(0, 2)).n_samples == 2
    with pytest.raises(InputError, match="sample id 'zz' is not in toy"):
        g.subset(samples=["zz"])
    with pytest.raises(InputError, match="mask has length 2"):
        g.subset(variants=np.array([True, False]))
    with pytest.raises(InputError, match="index out of range"):
        g.subset(samples=[7])


def test_qc_statistics(g):
    # SNP a: 0,2,1,0 -> alt sum 3 over 4 calls: p = 3/8
    np.testing.assert_allclose(g.alt_freq()[0], 3 / 8)
    np.testing.assert_allclose(g.maf()[0], 3 / 8)
    # SNP c: all 2 -> p = 1, maf 0, monomorphic
    assert g.maf()[2] == 0 and g.is_monomorphic()[2]
    np.testing.assert_allclose(g.call_rate_snp(), [1, 0.75, 1, 0.75, 0.75])
    np.testing.assert_allclose(g.call_rate_sample(), [0.8, 1.0, 0.8, 0.8])
    np.testing.assert_allclose(g.mean_dosage()[1], 2 / 3)
    assert g.qc_mask().tolist() == [True, True, False, False, True]
    assert g.qc_mask(min_maf=0.4).tolist() == [False, False, False, False, True]
    assert g.qc_mask(rows=[0, 1]).tolist() == [True, False, False, False, False]
    f = g.filter(min_call_rate=0.8)
    assert f.snp_ids.tolist() == ["a"] and f.report["qc"]["snps_removed"] == 4


def test_summary_text(g):
    text = g.format_summary()
    assert "samples:       4" in text and "SNPs:          5" in text
    assert "3 genotypes (15.000%)" in text


def test_dosage_encoding_fill_center_scale():
    block = np.array([[0, 2, -1], [1, -1, 2]], dtype=np.int8)
    x = encode(block, "dosage")
    assert x.shape == (2, 3, 1) and x.dtype == np.float32
    assert x[..., 0].tolist() == [[0, 2, 0], [1, 0, 2]]
    fill = np.array([0.5, 1.5, 1.0])
    x = encode(block, "dosage", fill=fill, center=fill, scale=np.array([1.0, 0.5, 2.0]))
    np.testing.assert_allclose(x[..., 0], [[-0.5, 1.0, 0.0], [0.5, 0.0, 0.5]])


def test_onehot_all_zero_where_missing():
    block = np.array([[0, 1, 2, -1]], dtype=np.int8)
    x = encode(block, "onehot")
    assert x.shape == (1, 4, 3) and n_channels("onehot") == 3
    assert x[0].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]
    with pytest.raises(InputError, match="unknown encoding"):
        encode(block, "binary")


def test_memmap_backed_container(tmp_path, g):
    path = tmp_path / "d.npy"
    np.save(path, D)
    mm = np.load(path, mmap_mode="r")
    m = Genotypes(mm, g.samples, g.variants)
    assert isinstance(m.dosages, np.memmap)
    np.testing.assert_allclose(m.maf(), g.maf())
    np.testing.assert_array_equal(m.batch([3, 0]), D[[3, 0]])
    rows = [r.tolist() for r, _ in m.iter_batches(3)]
    assert rows == [[0, 1, 2], [3]]
    np.testing.assert_array_equal(m.subset(variants=["b"]).dosages, D[:, [1]])


def test_invalid_construction():
    with pytest.raises(InputError, match="sample id 'x' occurs 2 times"):
        Genotypes(D[:2], ["x", "x"])
    with pytest.raises(InputError, match="2-D"):
        Genotypes(np.zeros(3, dtype=np.int8), ["a", "b", "c"])
    with pytest.raises(InputError, match="3 sample ids"):
        Genotypes(D, ["a", "b", "c"])
    f = Genotypes(np.array([[0.0, np.nan]]), ["a"])
    assert f.dosages.tolist() == [[0, -1]] and f.dosages.dtype == np.int8


def test_call_rates_of_a_cache_are_read_once(tmp_path, monkeypatch):
    """The benchmark's dataset check and each of its cross-validations read the whole matrix
    for the samples' call rates (session 43): a read-only cache keeps them; an in-memory
    matrix, which a caller may change in place, is read each time."""
    from snpcnn.genotypes import Genotypes
    from snpcnn.io.cache import load_cache, write_cache

    x = np.random.default_rng(0).integers(-1, 3, size=(20, 30), dtype=np.int8)
    write_cache(Genotypes(x, [f"s{i}" for i in range(20)], source="t"), tmp_path / "c.snpcnn")
    reads = []
    real = Genotypes._row_chunks

    def counting(self, *a, **k):
        reads.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(Genotypes, "_row_chunks", counting)
    g = load_cache(tmp_path / "c.snpcnn")
    a = g.call_rate_sample()
    a[:] = -1.0  # the caller's copy
    np.testing.assert_allclose(g.call_rate_sample(), (x >= 0).mean(axis=1))
    assert len(reads) == 1
    import copy
    import pickle

    for h in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):  # a copy may be changed
        h.dosages[0, :] = -1
        assert h.call_rate_sample()[0] == 0.0
    reads.clear()
    m = Genotypes(x.copy(), [f"s{i}" for i in range(20)])
    m.call_rate_sample()
    m.dosages[0, :] = -1  # changed in place: read again
    assert m.call_rate_sample()[0] == 0.0 and len(reads) == 2
