"""Cost of dropping the memory-mapped cache's pages after each streamed read
(snpcnn.genotypes.release_pages), side by side with not dropping them, in one process.

    python benchmarks/bench_release_pages.py --work bench_out/stream   # uses bench_stream's cache

The cache is bench_stream.py's simulated 2,000 x 200,000 matrix (made if absent).  Three
passes of what a streamed fold does over a training part of 1,333 rows: the fold statistics
(row chunks), a column-block pass (the start choice's Gram matrix, the screen) and the
training batches (32 rows, one epoch).  Each pass runs with the release and with a no-op in
its place, alternated, ``--rounds`` times; printed: median seconds of each and the resident
cache pages (RssFile growth) after each pass.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def _rss_file_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from bench_stream import make_data

    import snpcnn.datapath as dp
    import snpcnn.genotypes as gt
    from snpcnn.io.cache import load_cache

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(REPO / "bench_out" / "stream"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--snps", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cache, _ = make_data(Path(args.work), args.n, args.snps)
    os.environ[gt.RELEASE_ENV] = "1"  # the "release" rounds; the others patch it out
    g = load_cache(cache)
    rows = np.sort(np.random.default_rng(0).permutation(args.n)[: args.n * 2 // 3])
    real = gt.release_pages

    def passes() -> dict[str, float]:
        out = {}
        t = time.perf_counter()
        pre = dp.fold_statistics(g, rows, {})
        out["fold statistics"] = time.perf_counter() - t
        x = dp.EncodedRows(g, pre, rows)
        t = time.perf_counter()
        s = 0.0
        for c0, c1 in x.column_blocks(itemsize=4):
            s += float(x.columns(c0, c1)[:, :1].sum())
        out["column blocks"] = time.perf_counter() - t
        t = time.perf_counter()
        order = np.random.default_rng(1).permutation(len(rows))
        for b in range(0, len(rows), 32):
            s += float(x[order[b : b + 32]].encode()[:, :1].sum())
        out["training batches"] = time.perf_counter() - t
        return out

    times: dict[str, dict[str, list[float]]] = {"release": {}, "keep": {}}
    rss: dict[str, float] = {}
    for _ in range(args.rounds):
        for mode in ("release", "keep"):
            fn = real if mode == "release" else (lambda d: None)
            gt.release_pages = dp.release_pages = fn
            real(g.dosages)  # start each pass with nothing resident
            base = _rss_file_mb()
            for k, v in passes().items():
                times[mode].setdefault(k, []).append(v)
            rss[mode] = _rss_file_mb() - base
    gt.release_pages = dp.release_pages = real
    print("| pass | with release (s) | without (s) | ratio |")
    print("|---|---|---|---|")
    for k in times["release"]:
        a, b = statistics.median(times["release"][k]), statistics.median(times["keep"][k])
        print(f"| {k} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    print(
        f"\ncache pages left resident after the passes: {rss['release']:.0f} MB with release, "
        f"{rss['keep']:.0f} MB without"
    )


if __name__ == "__main__":
    main()
