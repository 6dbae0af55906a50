"""With SNPCNN_RELEASE_PAGES=1, streamed reads of a memory-mapped cache leave no cache pages
resident in the process (snpcnn.genotypes.release_pages): the resident set does not grow
with samples x SNPs.  Without it (the default) the pages stay mapped."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from snpcnn.genotypes import Genotypes, release_pages
from snpcnn.io.cache import load_cache, write_cache

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/smaps (Linux)"
)


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of the file ``path`` (only this test's cache:
    a cache that another test in the same worker keeps open is not counted)."""
    name = str(Path(path).resolve())
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
            inside = line.rstrip().endswith(name)
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


@pytest.fixture
def cache(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(-1, 3, size=(300, 40_000), dtype=np.int8)  # 12 MB
    write_cache(Genotypes(x, [f"s{i}" for i in range(300)], source="test"), tmp_path / "c.snpcnn")
    return x, tmp_path / "c.snpcnn"


def test_by_default_the_pages_stay_mapped(cache, monkeypatch):
    monkeypatch.delenv("SNPCNN_RELEASE_PAGES", raising=False)
    x, path = cache
    g = load_cache(path)
    np.testing.assert_array_equal(g.batch(np.arange(300)), x)
    assert _mapped_kb(path / "dosages.npy") > 8_000
    release_pages(g.dosages)
    assert _mapped_kb(path / "dosages.npy") > 8_000


def test_streamed_reads_release_the_cache_pages(cache, monkeypatch):
    from snpcnn.datapath import EncodedRows
    from snpcnn.preprocess import GenotypePreprocessor

    monkeypatch.setenv("SNPCNN_RELEASE_PAGES", "1")
    x, path = cache
    g = load_cache(path)
    # a plain read of the whole map leaves it resident (what every pass did before)
    assert int(np.asarray(g.dosages).astype(np.int64).sum()) == int(x.astype(np.int64).sum())
    assert _mapped_kb(path / "dosages.npy") > 8_000
    release_pages(g.dosages)
    assert _mapped_kb(path / "dosages.npy") < 200
    # the streamed paths: row batches, chunked statistics, column blocks, scattered columns
    rows = np.arange(0, 300, 2)
    np.testing.assert_array_equal(g.batch(rows), x[rows])
    assert _mapped_kb(path / "dosages.npy") < 200
    counts = g.counts()
    assert int(counts["n2"].sum()) == int((x == 2).sum())
    assert _mapped_kb(path / "dosages.npy") < 200
    pre = GenotypePreprocessor().fit(g, rows)
    enc = EncodedRows(g, pre, rows)
    np.testing.assert_array_equal(enc.columns(100, 5_000), pre.transform(g, rows)[:, 100:5_000, 0])
    np.testing.assert_array_equal(
        enc.take_columns(np.array([7, 30_000, 11])), pre.transform(g, rows)[:, [7, 30_000, 11], 0]
    )
    assert _mapped_kb(path / "dosages.npy") < 200


def test_release_is_a_no_op_in_memory():
    x = np.ones((3, 4), dtype=np.int8)
    release_pages(x)
    release_pages(None)
    assert x.sum() == 12


def test_a_bad_setting_is_refused(monkeypatch):
    from snpcnn.errors import InputError

    monkeypatch.setenv("SNPCNN_RELEASE_PAGES", "maybe")
    with pytest.raises(InputError, match="SNPCNN_RELEASE_PAGES must be 1"):
        release_pages(np.ones(3, dtype=np.int8))


def test_predict_releases_the_cache_pages(cache, monkeypatch):
    """`snpcnn predict` read the cache without releasing its pages, so its RSS grew by a byte
    per genotype with SNPCNN_RELEASE_PAGES=1 as without (a checking helper, session 43)."""
    from snpcnn.bundle import ModelBundle
    from snpcnn.models import build_model
    from snpcnn.preprocess import GenotypePreprocessor

    monkeypatch.setenv("SNPCNN_RELEASE_PAGES", "1")
    x, path = cache
    g = load_cache(path)
    pre = GenotypePreprocessor().fit(g, np.arange(0, 300, 3))
    release_pages(g.dosages)
    arch = {"name": "tiny", "blocks": [{"type": "global_avgpool"}, {"type": "dense", "units": 2}]}
    b = ModelBundle(
        model=build_model(arch, (len(pre.variants_), 1)),
        preprocessor=pre,
        traits=["y"],
        target_coef=[np.array([0.5])],
        target_sd=np.array([2.0]),
        covariate_means=np.zeros(0),
    )
    assert _mapped_kb(path / "dosages.npy") < 200
    pred = b.predict(g)
    assert len(pred) == 300 and np.isfinite(pred["y"].to_numpy(dtype=float)).all()
    assert _mapped_kb(path / "dosages.npy") < 200
