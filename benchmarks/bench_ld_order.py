"""The sparse LD tree (snpcnn.ldorder.knn_ld_order) on shuffled simulated panels: seconds,
the adjacent mean r^2 it restores against the map order's, and the process's peak RSS.

    python benchmarks/bench_ld_order.py            # 960 x 12,000 and 1,300 x 50,000

Prints one line per size (docs/bench/ld_order_large.md).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snpcnn.ldorder import knn_ld_order, order_ld  # noqa: E402
from snpcnn.simulate import simulate_genotypes, unmap  # noqa: E402


def main() -> None:
    for n, p in [(960, 12000), (1300, 50000)]:
        g = simulate_genotypes(n, p, n_chrom=10, seed=1)
        u, _ = unmap(g, seed=2)
        x = np.asarray(u.dosages, np.float32)
        t = time.perf_counter()
        order = knn_ld_order(x)
        dt = time.perf_counter() - t
        mapped = order_ld(np.asarray(g.dosages, np.float32))[0]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(
            f"{n} x {p}: knn_ld_order {dt:.1f} s; adjacent r2 file {order_ld(x)[0]:.4f} -> "
            f"{order_ld(x[:, order])[0]:.4f}; map {mapped:.4f}; peak RSS {rss:.2f} GB",
            flush=True,
        )


if __name__ == "__main__":
    main()
