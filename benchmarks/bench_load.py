"""Genotype loading: snpcnn vs the plain library calls, side by side, one fresh process per run.

For each data set and format it times (median of ``--repeats`` runs) and measures the peak
resident memory of:

* VCF:   ``snpcnn.io.read_genotypes(path, cache=False)``   vs ``allel.read_vcf(path, fields=["calldata/GT"])``
* PLINK: ``snpcnn.io.read_genotypes(prefix, cache=False)`` vs ``bed_reader.open_bed(path).read()``
  (its default float32) and ``open_bed(path).read(dtype="int8")``
* cache: ``read_genotypes(cache_dir)`` (opens the memmap) and the same plus reading every row
  into RAM, vs parsing the VCF.

Data sets: example wheat (599 x 1,279), mice (1,814 x 10,346) from ../shared/data, and synthetic
PLINK (default 5,000 x 100,000, written with bed_reader.to_bed) and synthetic gzipped VCF (default
5,000 x 10,000; a 5,000 x 100,000 VCF is ~2 GB of text and takes minutes per parse on 2 shared
cores) generated into a temporary directory.

Every measurement runs in a fresh Python subprocess so runs do not share caches or memory. Peak
memory: after the imports the process resets its peak-RSS counter (``/proc/self/clear_refs`` = 5,
Linux), then reports ``VmHWM`` after the load minus ``VmRSS`` before it, divided by the number of
genotypes: the memory the load itself needed at its peak, result included.

Run (writes docs/bench/load.md)::

    .venv/bin/python benchmarks/bench_load.py
    .venv/bin/python benchmarks/bench_load.py --quick   # small synthetic sizes, 3 repeats
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()

CHILD = textwrap.dedent(
    """
    import gc, json, os, re, sys, time
    import numpy as np
    method, path = sys.argv[1], sys.argv[2]
    import allel, bed_reader
    from snpcnn.io import read_genotypes
    import snpcnn.io.vcf, snpcnn.io.plink, snpcnn.io.table, snpcnn.io.cache
    def status(key):
        with open("/proc/self/status") as fh:
            return int(re.search(key + r":\\s+(\\d+)", fh.read()).group(1)) * 1024
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    rss0 = status("VmRSS")
    t0 = time.perf_counter()
    if method == "snpcnn":
        g = read_genotypes(path, cache=False); shape = g.shape
    elif method == "allel":
        d = allel.read_vcf(path, fields=["calldata/GT"]); gt = d["calldata/GT"]
        shape = (gt.shape[1], gt.shape[0])
    elif method == "raw_chunks":
        # the raw read inside snpcnn's VCF reader: scikit-allel parsing the same fields
        # in the same chunks, each chunk dropped at once (no decoding, no output)
        from snpcnn.io.vcf import _FIELDS, _GT_WIDTH, _chunk_length, _open_binary
        from pathlib import Path
        n_smp = len(allel.read_vcf_headers(path).samples)
        with _open_binary(Path(path)) as fh:
            _, _, _, it = allel.iter_vcf_chunks(
                fh, fields=_FIELDS, types={"calldata/GT": "S%d" % _GT_WIDTH},
                numbers={"calldata/GT": 1}, alt_number=1,
                chunk_length=_chunk_length(n_smp), buffer_size=1 << 20)
            m = 0
            for chunk, n, *_ in it:
                m += n
                del chunk
        shape = (n_smp, m)
    elif method == "bedreader":
        x = bed_reader.open_bed(path).read(); shape = x.shape
    elif method == "bedreader_int8":
        x = bed_reader.open_bed(path).read(dtype="int8"); shape = x.shape
    elif method == "bedreader_int8_C":
        x = bed_reader.open_bed(path).read(dtype="int8", order="C"); shape = x.shape
    elif method == "cache_open":
        g = read_genotypes(path); shape = g.shape
    elif method == "cache_ram":
        g = read_genotypes(path); x = np.array(g.dosages); shape = x.shape
    else:
        raise SystemExit("unknown method " + method)
    sec = time.perf_counter() - t0
    peak = status("VmHWM")
    print(json.dumps({"seconds": sec, "rss0": rss0, "peak": peak, "shape": list(shape)}))
    """
)


def run_child(method: str, path: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", ""))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, method, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{method} on {path} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_synthetic_plink(prefix: Path, n: int, m: int, seed: int = 0) -> None:
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    x = np.empty((n, m), dtype=np.int8)
    step = max(1, (1 << 26) // m)
    for i in range(0, n, step):
        p = rng.uniform(0.05, 0.5, size=m)
        block = (rng.random((min(step, n - i), m)) < p).astype(np.int8)
        block += rng.random(block.shape) < p
        block[rng.random(block.shape) < 0.01] = -127
        x[i : i + step] = block
    to_bed(prefix.with_suffix(".bed"), x, properties={"allele_1": ["G"] * m, "allele_2": ["A"] * m})


def write_synthetic_vcf(path: Path, n: int, m: int, seed: int = 1) -> None:
    """Diploid GT-only VCF with 1% missing (./.), gzip level 1 (plain gzip, not bgzip)."""
    rng = np.random.default_rng(seed)
    codes = np.frombuffer(b"0/0\t0/1\t1/1\t./.\t", dtype=np.uint8).reshape(4, 4)
    header = (
        "##fileformat=VCFv4.2\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
        + "\t".join(f"S{i}" for i in range(n))
        + "\n"
    )
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        fh.write(comp.compress(header.encode()))
        step = max(1, (1 << 24) // n)
        for j in range(0, m, step):
            k = min(step, m - j)
            p = rng.uniform(0.05, 0.5, size=(k, 1))
            g = (rng.random((k, n)) < p).astype(np.int8) + (rng.random((k, n)) < p)
            g[rng.random((k, n)) < 0.01] = 3
            body = codes[g].reshape(k, n * 4)
            body[:, -1] = ord("\n")
            lines = []
            for r in range(k):
                pos = j + r + 1
                lines.append(f"1\t{pos}\tv{pos}\tA\tG\t.\tPASS\t.\tGT\t".encode())
                lines.append(body[r].tobytes())
            fh.write(comp.compress(b"".join(lines)))
        fh.write(comp.flush())


def measure(method: str, path: Path, repeats: int) -> dict:
    runs = [run_child(method, path) for _ in range(repeats)]
    n, m = runs[0]["shape"]
    sec = statistics.median(r["seconds"] for r in runs)
    extra = statistics.median(r["peak"] - r["rss0"] for r in runs)
    return {
        "method": method,
        "n": n,
        "m": m,
        "seconds": sec,
        "all_seconds": [round(r["seconds"], 3) for r in runs],
        "gps": n * m / sec,
        "peak_extra_mb": extra / 1e6,
        "bytes_per_genotype": extra / (n * m),
    }


def fmt_row(dataset: str, fmt: str, r: dict, ref: dict | None) -> str:
    ratio = f"{ref['seconds'] / r['seconds']:.2f}x" if ref else ""
    return (
        f"| {dataset} | {fmt} | {r['n']:,} x {r['m']:,} | `{r['method']}` | {r['seconds']:.3f} "
        f"| {', '.join(f'{s:.3f}' for s in r['all_seconds'])} | {r['gps'] / 1e6:.1f} "
        f"| {r['peak_extra_mb']:.0f} | {r['bytes_per_genotype']:.2f} | {ratio} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--plink-size", default="5000x100000", help="synthetic PLINK N x M")
    ap.add_argument("--vcf-size", default="5000x10000", help="synthetic VCF N x M")
    ap.add_argument("--quick", action="store_true", help="synthetic 1000x20000 / 1000x5000")
    ap.add_argument("--out", default=str(REPO / "docs" / "bench" / "load.md"))
    args = ap.parse_args()
    if args.quick:
        args.plink_size, args.vcf_size = "1000x20000", "1000x5000"
    pn, pm = (int(v) for v in args.plink_size.split("x"))
    vn, vm = (int(v) for v in args.vcf_size.split("x"))

    sys.path.insert(0, str(REPO))
    from snpcnn.io.cache import convert

    rows: list[str] = []
    summary: list[str] = []
    load0 = os.getloadavg()
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="snpcnn-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["SNPCNN_CACHE_DIR"] = str(tmp / "auto-cache")
        t = time.perf_counter()
        write_synthetic_plink(tmp / "synth", pn, pm)
        print(f"synthetic PLINK {pn}x{pm} written in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        write_synthetic_vcf(tmp / "synth.vcf.gz", vn, vm)
        vcf_mb = (tmp / "synth.vcf.gz").stat().st_size / 1e6
        print(f"synthetic VCF {vn}x{vm} written in {time.perf_counter() - t:.1f} s", flush=True)

        vcfs = [
            ("wheat", SHARED / "wheat" / "wheat.vcf.gz"),
            ("mice", SHARED / "mice" / "mice.vcf.gz"),
            (f"synthetic {vn}x{vm}", tmp / "synth.vcf.gz"),
        ]
        plinks = [
            ("wheat", SHARED / "wheat" / "wheat.bed"),
            ("mice", SHARED / "mice" / "mice.bed"),
            (f"synthetic {pn}x{pm}", tmp / "synth.bed"),
        ]
        for name, path in vcfs:
            if not path.exists():
                print(f"skip {name}: {path} missing")
                continue
            print(f"VCF {name} ...", flush=True)
            ours = measure("snpcnn", path, args.repeats)
            ref = measure("allel", path, args.repeats)
            raw = measure("raw_chunks", path, args.repeats)
            cache = convert(path, tmp / f"{path.name}.snpcnn", force=True)
            c_open = measure("cache_open", cache, args.repeats)
            c_ram = measure("cache_ram", cache, args.repeats)
            rows += [
                fmt_row(name, "vcf", ref, None),
                fmt_row(name, "vcf", raw, ref),
                fmt_row(name, "vcf", ours, ref),
                fmt_row(name, "cache", c_open, ours),
                fmt_row(name, "cache", c_ram, ours),
            ]
            beyond = ours["bytes_per_genotype"] - raw["bytes_per_genotype"]
            summary.append(
                f"- {name} VCF: snpcnn {ref['seconds'] / ours['seconds']:.2f}x scikit-allel's speed "
                f"(target >= 1.0: {'met' if ours['seconds'] <= ref['seconds'] else 'MISSED'}); "
                f"peak {ours['bytes_per_genotype']:.2f} B/genotype vs allel "
                f"{ref['bytes_per_genotype']:.2f}; beyond the raw chunked read "
                f"({raw['bytes_per_genotype']:.2f}): {beyond:.2f} B/genotype (target <= 2: "
                f"{'met' if beyond <= 2 else 'MISSED'}); cache open "
                f"{ours['seconds'] / c_open['seconds']:.0f}x and cache read-into-RAM "
                f"{ours['seconds'] / c_ram['seconds']:.0f}x faster than parsing (target >= 20: "
                f"{'met' if ours['seconds'] / c_ram['seconds'] >= 20 else 'MISSED'})"
            )
        for name, path in plinks:
            if not path.exists():
                print(f"skip {name}: {path} missing")
                continue
            print(f"PLINK {name} ...", flush=True)
            ours = measure("snpcnn", path, args.repeats)
            ref = measure("bedreader", path, args.repeats)
            ref8 = measure("bedreader_int8", path, args.repeats)
            ref8c = measure("bedreader_int8_C", path, args.repeats)
            rows += [
                fmt_row(name, "plink", ref, None),
                fmt_row(name, "plink", ref8, ref),
                fmt_row(name, "plink", ref8c, ref),
                fmt_row(name, "plink", ours, ref),
            ]
            summary.append(
                f"- {name} PLINK: snpcnn {ref['seconds'] / ours['seconds']:.2f}x bed-reader's "
                f"default read(), {ref8['seconds'] / ours['seconds']:.2f}x its int8 read and "
                f"{ref8c['seconds'] / ours['seconds']:.2f}x its int8 C-order (sample-major, like "
                "ours) read "
                f"(target >= 0.8: {'met' if ref['seconds'] / ours['seconds'] >= 0.8 else 'MISSED'}"
                f" vs default, {'met' if ref8['seconds'] / ours['seconds'] >= 0.8 else 'MISSED'} "
                f"vs int8); peak {ours['bytes_per_genotype']:.2f} B/genotype vs "
                f"{ref['bytes_per_genotype']:.2f} (float32) and {ref8['bytes_per_genotype']:.2f} "
                "(int8)"
            )
    load1 = os.getloadavg()
    minutes = (time.time() - t_start) / 60

    from snpcnn.report import cpu_model

    cpu = cpu_model()
    import importlib.metadata

    import allel

    import snpcnn

    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    text = (
        f"""# Genotype loading benchmark

Generated by `benchmarks/bench_load.py` on {dt.date.today().isoformat()} in {minutes:.1f} min.
Regenerate with:

    .venv/bin/python benchmarks/bench_load.py{" --quick" if args.quick else ""}

Machine: {cpu}, {os.cpu_count()} CPUs, {mem_gb:.0f} GB RAM, Python {platform.python_version()},
numpy {np.__version__}, scikit-allel {allel.__version__}, bed-reader
{importlib.metadata.version("bed-reader")}, snpcnn {snpcnn.__version__}.
Load average (1 min) at start / end: {load0[0]:.1f} / {load1[0]:.1f}. **The machine was shared with
other jobs while this ran**, so absolute times are noisy; ratios compare runs taken back to back.

Each row is the median of {args.repeats} runs, each in a fresh process. *Peak MB* is the rise of
the process's peak resident memory over its size just before the load; *B/genotype* divides it by
samples x SNPs. *Ratio* is the reference time divided by this row's time (> 1 = faster than the
reference: scikit-allel for VCF, bed-reader's default `read()` for PLINK, our VCF parse for the
cache rows). The synthetic VCF is {vn:,} x {vm:,} ({vcf_mb:.0f} MB gzipped, plain gzip level 1),
smaller than the {pn:,} x {pm:,} PLINK set, because a VCF of that size is ~2 GB of text and takes
minutes per parse on this machine.

Methods: `allel` = `allel.read_vcf(path, fields=["calldata/GT"])` (int8 variants x samples x 2);
`raw_chunks` = the raw read inside our VCF reader alone (scikit-allel parsing the same fields in the
same chunks, each chunk discarded: no decoding, no result), to separate its memory from ours;
`snpcnn` = `snpcnn.io.read_genotypes(path, cache=False)` (int8 samples x SNPs, ids, variant table,
load report); `bedreader` = `bed_reader.open_bed(path).read()` (float32); `bedreader_int8` =
`open_bed(path).read(dtype="int8")` (Fortran order, SNP columns contiguous); `bedreader_int8_C` =
`open_bed(path).read(dtype="int8", order="C")`, the same layout as ours (sample rows contiguous,
what minibatch training needs); `cache_open` = `read_genotypes(cache)` (memmap, rows read on
demand); `cache_ram` = the same plus `np.array(g.dosages)` (every genotype read into RAM).

| data | format | samples x SNPs | method | median s | runs s | M genotypes/s | peak MB | B/genotype | ratio |
|---|---|---|---|---|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n\n## Targets\n\n"
        + "\n".join(summary)
        + "\n"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.tmp")
    tmp_out.write_text(text)
    os.replace(tmp_out, out)
    print(text)


if __name__ == "__main__":
    main()
