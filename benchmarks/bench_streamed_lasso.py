"""The LASSO's penalty search on a streamed training part (snpcnn.baselines.lasso.StreamedColumns,
column-block passes) against the same search in memory, on simulated genotypes and a sparse
trait (session 19, docs/io.md).

    .venv/bin/python benchmarks/bench_streamed_lasso.py 2000 20000 sparse_additive 10 --memory

Arguments: samples, SNPs, architecture, causal loci; 80 % of the rows form the training part.
Prints seconds, the chosen penalty, the nonzero effects and the process's peak RSS after the
streamed search; with ``--memory`` also the in-memory search and the largest difference of
the effects.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from snpcnn.baselines.lasso import StreamedColumns, cross_validated_lasso
from snpcnn.datapath import EncodedRows
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes, simulate_trait


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("snps", type=int)
    ap.add_argument("architecture")
    ap.add_argument("loci", type=int)
    ap.add_argument("--memory", action="store_true", help="also the in-memory search")
    a = ap.parse_args()
    g = simulate_genotypes(a.n, a.snps, seed=4)
    y, _ = simulate_trait(g, architecture=a.architecture, n_loci=a.loci, h2=0.5, seed=1)
    y = np.asarray(y, float)
    rows = np.arange(int(a.n * 0.8))
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    t = time.perf_counter()
    b = cross_validated_lasso(StreamedColumns(EncodedRows(g, pre, rows)), y[rows])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(
        f"streamed {time.perf_counter() - t:.1f} s, penalty {b.best}, "
        f"{np.count_nonzero(b.coef)} effects, peak RSS {rss:.0f} MB",
        flush=True,
    )
    if a.memory:
        x = pre.transform(g, rows).reshape(len(rows), -1).astype(np.float64)
        x -= x.mean(axis=0)
        t = time.perf_counter()
        m = cross_validated_lasso(x, y[rows])
        print(
            f"in memory {time.perf_counter() - t:.1f} s, penalty {m.best}, largest effect "
            f"difference {np.abs(m.coef - b.coef).max():.1e}"
        )


if __name__ == "__main__":
    main()
