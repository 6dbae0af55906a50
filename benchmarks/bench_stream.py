"""Streamed CNN training (snpcnn.datapath): peak RSS and wall time of ``snpcnn fit``, streamed
next to in memory.

    python benchmarks/bench_stream.py --n 2000 --snps 200000 --modes stream
    python benchmarks/bench_stream.py --n 2000 --snps 20000 --modes memory,stream

For each size the script writes a snpcnn cache of simulated int8 genotypes (HWE, row chunks,
no float copy; a trait with 200 additive causal SNPs, h2 = 0.5) and a phenotype CSV, then
runs, in a child process each, ``snpcnn fit CACHE PHENO --folds 3 --baselines gblup
--epochs E --no-refit --threads T`` with ``SNPCNN_STREAM=0`` (in memory) or ``=1``
(streamed), under ``/usr/bin/time -v`` (peak RSS of the child).  It prints a Markdown row
per run: wall seconds, peak RSS, the CNN's training samples/s (run.json), and the largest
difference between the two modes' CNN predictions.

    /usr/bin/time -v python benchmarks/bench_stream.py --holdout --n 50000 --snps 50000 --epochs 1

``--holdout --start``: the same with the default as it is (the ridge start by the large-n
solver, snpcnn.datapath.fit_ridge_large, and the 5 cross-fitted networks).

``--holdout``: the large stand-in.  In this process: the cache is memory-mapped, the fold
statistics are fitted on 80% of the rows, and the default network (``linear_init="zeros"``:
the ridge start needs an n x n Gram matrix, 12.8 GB at 40,000 rows) trains streamed for
``--epochs`` epochs (inner validation split 10%), then predicts the other 20%.  Prints
seconds, training samples/s and the test r; the peak RSS is /usr/bin/time's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snpcnn.genotypes import Genotypes  # noqa: E402
from snpcnn.io.cache import is_cache, write_cache  # noqa: E402


def make_data(root: Path, n: int, m: int, seed: int = 7) -> tuple[Path, Path]:
    """A cache of n x m int8 genotypes and a phenotype CSV under ``root`` (reused if there)."""
    cache = root / f"sim_{n}x{m}.snpcnn"
    pheno = root / f"sim_{n}x{m}.csv"
    if is_cache(cache) and pheno.exists():
        return cache, pheno
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.5, m)
    lo, hi = (1 - p) ** 2, 1 - p * p
    X = np.empty((n, m), dtype=np.int8)
    for s in range(0, n, 500):
        u = rng.random((min(500, n - s), m), dtype=np.float32)
        X[s : s + len(u)] = (u > lo).astype(np.int8) + (u > hi)
    causal = rng.choice(m, 200, replace=False)
    g = (X[:, causal] - 2 * p[causal]) @ rng.normal(size=200)
    y = g / g.std() * np.sqrt(0.5) + rng.normal(scale=np.sqrt(0.5), size=n)
    ids = [f"s{i}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    write_cache(Genotypes(X, ids, source="bench_stream"), cache, force=True)
    pd.DataFrame({"sample_id": ids, "phenotype": y}).to_csv(pheno, index=False)
    return cache, pheno


def _child_rss(pid: int) -> dict:
    """Resident bytes, anonymous and file-backed (the memory-mapped cache), of the Python
    process that ``/usr/bin/time`` (``pid``) runs."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        text = Path(f"/proc/{kids[0]}/status").read_text() if kids else ""
    except (OSError, IndexError):
        return {}
    got = {}
    for line in text.splitlines():
        key = line.split(":")[0]
        if key in ("RssAnon", "RssFile"):
            got["anon" if key == "RssAnon" else "file"] = int(line.split()[1]) * 1024
    return got


def run_fit(cache: Path, pheno: Path, out: Path, mode: str, args) -> dict:
    # unbuffered: the console lines are stamped as they come (see run_fit's timeline)
    env = dict(os.environ, SNPCNN_STREAM="1" if mode == "stream" else "0", PYTHONUNBUFFERED="1")
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "snpcnn",
        "fit",
        str(cache),
        str(pheno),
        "--folds",
        "3",
        "--baselines",
        args.baselines,
        "--epochs",
        str(args.epochs),
        "--no-refit",
        "--threads",
        str(args.threads),
        "--out",
        str(out),
        "--force",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    timeline: list[dict] = []
    lines: list[tuple[float, str]] = []
    stderr: list[str] = []
    import threading

    def read(stream, keep: list[str] | None) -> None:
        # console lines (stdout and the log on stderr), stamped: to place the memory peak
        for line in stream:
            lines.append((time.perf_counter() - t0, line.rstrip()))
            if keep is not None:
                keep.append(line)

    readers = [
        threading.Thread(target=read, args=(proc.stdout, None), daemon=True),
        threading.Thread(target=read, args=(proc.stderr, stderr), daemon=True),
    ]
    for t in readers:
        t.start()
    while proc.poll() is None:
        timeline.append({"t": time.perf_counter() - t0, **_child_rss(proc.pid)})
        time.sleep(0.5)
    for t in readers:
        t.join()
    wall = time.perf_counter() - t0
    err = "".join(stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    peak = max(timeline, key=lambda r: r.get("anon", 0) + r.get("file", 0), default={})
    row = {
        "mode": mode,
        "rc": proc.returncode,
        "wall_s": wall,
        "peak_rss_gb": int(rss.group(1)) * 1024 / 1e9 if rss else float("nan"),
        # sampled every 0.5 s (a shorter spike can be missed; the peak above is the kernel's)
        "sampled_peak_anon_gb": max((r.get("anon", 0) for r in timeline), default=0) / 1e9,
        "sampled_peak_file_gb": max((r.get("file", 0) for r in timeline), default=0) / 1e9,
        "at_sampled_peak": {
            "t": round(peak.get("t", 0), 1),
            "anon_gb": round(peak.get("anon", 0) / 1e9, 3),
            "file_gb": round(peak.get("file", 0) / 1e9, 3),
            "last_console_line": next(
                (ln for t, ln in reversed(lines) if t <= peak.get("t", 0)), ""
            ),
        },
        "stderr_tail": err[-1500:] if proc.returncode else "",
    }
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(timeline).to_csv(out / "rss_timeline.csv", index=False)
    (out / "console_stamped.txt").write_text("".join(f"{t:8.1f} {ln}\n" for t, ln in lines))
    run_json = out / "run.json"
    if run_json.exists():
        rate = json.loads(run_json.read_text()).get("timings", {})
        row["cnn_seconds"] = rate.get("cnn_seconds")
    hist = out / "predictions.csv"
    row["predictions"] = str(hist) if hist.exists() else None
    return row


def holdout(args) -> None:
    """One streamed holdout fit in this process (run it under /usr/bin/time -v): the CNN
    trained from the memory-mapped cache, ``--epochs`` epochs, no ridge start."""
    from snpcnn.datapath import EncodedRows, fold_statistics, predict_rows
    from snpcnn.io.cache import load_cache
    from snpcnn.threads import apply_threads
    from snpcnn.training import TrainConfig, train_cnn

    apply_threads(args.threads)
    work = Path(args.work)
    cache, pheno = make_data(work, args.n, args.snps)
    peak = {"RssAnon": 0, "RssFile": 0}

    def sample() -> None:  # anonymous vs file-backed (memory-mapped cache) resident memory
        while True:
            for line in Path("/proc/self/status").read_text().splitlines():
                key = line.split(":")[0]
                if key in peak:
                    peak[key] = max(peak[key], int(line.split()[1]))
            time.sleep(0.5)

    import threading

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    g = load_cache(cache)
    y = pd.read_csv(pheno)["phenotype"].to_numpy(np.float64)
    test = np.random.default_rng(0).permutation(args.n)[: args.n // 5]
    train = np.setdiff1d(np.arange(args.n), test)
    pre = fold_statistics(g, train, {})
    t_stats = time.perf_counter() - t0
    mu, sd = y[train].mean(), y[train].std()
    if args.start:  # the default as it is: ridge start (large-n solver) + cross-fitted nets
        cfg = TrainConfig(epochs=args.epochs, patience=args.epochs)
    else:
        cfg = TrainConfig(linear_init="zeros", epochs=args.epochs, patience=args.epochs)
    res = train_cnn(EncodedRows(g, pre, train), ((y[train] - mu) / sd)[:, None], cfg, seed=1)
    t1 = time.perf_counter()
    pred = predict_rows(res.model, EncodedRows(g, pre, test), 256)[:, 0]
    t_pred = time.perf_counter() - t1
    print(
        json.dumps(
            {
                "n_train": len(train),
                "n_test": len(test),
                "snps": pre.n_snps,
                "epochs": args.epochs,
                "fold_statistics_s": round(t_stats, 1),
                "train_s": round(res.seconds, 1),
                "train_samples_per_s": round(res.samples_per_second, 1),
                "predict_s": round(t_pred, 1),
                "test_r": float(np.corrcoef(pred, y[test])[0, 1]),
                "ridge_start": bool(args.start),
                "conv_kept": (res.conv or {}).get("kept"),
                "peak_rss_anon_gb": round(peak["RssAnon"] * 1024 / 1e9, 2),
                "peak_rss_file_gb": round(peak["RssFile"] * 1024 / 1e9, 2),
            }
        ),
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--snps", type=int, default=200_000)
    ap.add_argument("--modes", default="memory,stream")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--baselines", default="gblup")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=str(REPO / "bench_out" / "stream"))
    ap.add_argument("--holdout", action="store_true", help="one streamed holdout fit (below)")
    ap.add_argument(
        "--start",
        action="store_true",
        help="--holdout with the default's ridge start (large-n solver) and cross-fitted networks",
    )
    args = ap.parse_args()
    if args.holdout:
        holdout(args)
        return
    work = Path(args.work)
    t0 = time.perf_counter()
    cache, pheno = make_data(work, args.n, args.snps)
    print(f"data {args.n} x {args.snps}: {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for mode in args.modes.split(","):
        out = work / f"out_{args.n}x{args.snps}_{mode}"
        row = run_fit(cache, pheno, out, mode, args)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "predictions"}), flush=True)
    preds = [pd.read_csv(r["predictions"]) for r in rows if r.get("predictions")]
    diff = float("nan")
    if len(preds) == 2:
        a, b = (
            p[p["model"].str.match(r"CNN($| hybrid)")]
            .sort_values("sample_id")["predicted"]
            .to_numpy()
            for p in preds
        )
        diff = float(np.max(np.abs(a - b))) if len(a) == len(b) else float("nan")
    print()
    print("| n x SNPs | mode | wall (s) | peak RSS (GB) | CNN seconds |")
    print("|---|---|---|---|---|")
    for r in rows:
        cnn = r.get("cnn_seconds")
        print(
            f"| {args.n:,} x {args.snps:,} | {r['mode']} | {r['wall_s']:.0f} | "
            f"{r['peak_rss_gb']:.2f} | {cnn if cnn is None else f'{cnn:.0f}'} |"
        )
    if len(preds) == 2:
        print(f"\nlargest |CNN prediction difference| memory vs stream: {diff:.3g}")


if __name__ == "__main__":
    main()
