"""Genotype loading: snpcnn vs the plain library calls, side by side, one fresh process per run.

One command times (median of ``--repeats`` runs) and measures the peak resident memory of, at
the synthetic size ``--size`` (default 2,000 x 20,000) and on the shipped wheat and mice data:

* VCF:   ``snpcnn.io.read_genotypes(path, cache=False, convert_large=False)`` vs ``allel.read_vcf(path,
  fields=["calldata/GT"])`` vs a cyvcf2 per-record loop (``v.gt_types``); plus opening and
  reading our converted cache;
* BCF:   ours vs the same cyvcf2 loop over the BCF;
* PLINK: ours vs ``bed_reader.open_bed(path).read(dtype="int8")``, also at ``--plink-size``
  (default 5,000 x 100,000);
* PGEN:  ours vs ``pgenlib.PgenReader(path).read_range(...)`` at both synthetic sizes.

Synthetic data (written into a temporary directory): a gzipped GT-only VCF with 1% missing,
the same records as BCF (cyvcf2 Writer), PLINK filesets (bed_reader.to_bed) and PGEN filesets
written from them with pgenlib.

Every measurement runs in a fresh Python subprocess so runs do not share caches or memory. Peak
memory: after the imports the process resets its peak-RSS counter (``/proc/self/clear_refs`` = 5,
Linux), then reports ``VmHWM`` after the load minus ``VmRSS`` before it, divided by the number of
genotypes: the memory the load itself needed at its peak, result included.

Run (writes docs/bench/load.md; a few minutes on 2 cores)::

    nice .venv/bin/python benchmarks/bench_load.py
    nice .venv/bin/python benchmarks/bench_load.py --quick   # small synthetic sizes
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
    import allel, bed_reader, cyvcf2, pgenlib
    from snpcnn.io import read_genotypes
    import snpcnn.io.vcf, snpcnn.io.plink, snpcnn.io.table, snpcnn.io.cache
    import snpcnn.io.bcf, snpcnn.io.pgen
    def status(key):
        with open("/proc/self/status") as fh:
            return int(re.search(key + r":\\s+(\\d+)", fh.read()).group(1)) * 1024
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    rss0 = status("VmRSS")
    t0 = time.perf_counter()
    if method == "snpcnn":
        # the reader itself: without the conversion of files above 2**28 genotypes to a
        # memory-mapped cache that fit/predict do (snpcnn.io.LARGE_GENOTYPES)
        g = read_genotypes(path, cache=False, convert_large=False); shape = g.shape
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
    elif method == "cyvcf2_loop":
        # a plain cyvcf2 loop: one int8 row of genotype classes per record (3 = missing)
        rows = [v.gt_types.astype(np.int8) for v in cyvcf2.VCF(path, gts012=True, lazy=True)]
        x = np.stack(rows); shape = (x.shape[1], x.shape[0])
    elif method == "pgenlib":
        # pgenlib's own bulk read: every variant's hard calls, variant-major int8
        r = pgenlib.PgenReader(path.encode())
        x = np.empty((r.get_variant_ct(), r.get_raw_sample_ct()), dtype=np.int8)
        r.read_range(0, x.shape[0], x); r.close(); shape = (x.shape[1], x.shape[0])
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


def measure(method: str, path: Path, repeats: int, runs: list[dict] | None = None) -> dict:
    runs = runs or [run_child(method, path) for _ in range(repeats)]
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


def measure_pair(ref: str, ours: str, path: Path, repeats: int) -> tuple[dict, dict]:
    """Both methods in fresh processes, alternated run by run (the machine's drift and page
    cache state then touch both alike)."""
    runs: dict[str, list[dict]] = {ref: [], ours: []}
    for _ in range(repeats):
        for method in (ref, ours):
            runs[method].append(run_child(method, path))
    return (measure(ref, path, repeats, runs[ref]), measure(ours, path, repeats, runs[ours]))


def fmt_row(dataset: str, fmt: str, r: dict, ref: dict | None) -> str:
    ratio = f"{ref['seconds'] / r['seconds']:.2f}x" if ref else ""
    return (
        f"| {dataset} | {fmt} | {r['n']:,} x {r['m']:,} | `{r['method']}` | {r['seconds']:.3f} "
        f"| {', '.join(f'{s:.3f}' for s in r['all_seconds'])} | {r['gps'] / 1e6:.1f} "
        f"| {r['peak_extra_mb']:.0f} | {r['bytes_per_genotype']:.2f} | {ratio} |"
    )


def write_bcf_from_vcf(vcf: Path, bcf: Path) -> None:
    """The same records as BGZF-compressed BCF, written with cyvcf2 (htslib)."""
    import cyvcf2

    r = cyvcf2.VCF(str(vcf))
    r.add_to_header("##contig=<ID=1>")
    w = cyvcf2.Writer(str(bcf), r, mode="wb")
    for v in r:
        w.write_record(v)
    w.close()
    r.close()


def write_pgen_from_bed(prefix: Path, out: Path) -> None:
    """A .pgen/.pvar/.psam holding the PLINK 1 fileset ``prefix`` (ALT = A1, REF = A2)."""
    import pgenlib

    sys.path.insert(0, str(REPO))
    from snpcnn.io.plink import read_bim, read_fam

    bim, fam = read_bim(prefix.with_suffix(".bim")), read_fam(prefix.with_suffix(".fam"))
    n, m = len(fam), len(bim)
    r = pgenlib.PgenReader(bytes(prefix.with_suffix(".bed")), raw_sample_ct=n, variant_ct=m)
    w = pgenlib.PgenWriter(bytes(out.with_suffix(".pgen")), n, m, nonref_flags=True)
    step = max(1, (64 << 20) // n)
    buf = np.empty((min(step, m), n), dtype=np.int8)
    for j in range(0, m, step):
        k = min(step, m - j)
        r.read_range(j, j + k, buf[:k])
        w.append_biallelic_batch(buf[:k])
    w.close()
    r.close()
    pvar = "#CHROM\tPOS\tID\tREF\tALT\n" + "".join(
        f"{c}\t{p}\t{i}\t{a2}\t{a1}\n"
        for c, p, i, a1, a2 in bim[["chrom", "pos", "id", "a1", "a2"]].itertuples(index=False)
    )
    out.with_suffix(".pvar").write_text(pvar)
    psam = "#FID\tIID\n" + "".join(
        f"{f}\t{i}\n" for f, i in fam[["fid", "iid"]].itertuples(index=False)
    )
    out.with_suffix(".psam").write_text(psam)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", default="2000x20000", help="synthetic N x M for every format")
    ap.add_argument("--plink-size", default="5000x100000", help="larger synthetic PLINK/PGEN")
    ap.add_argument("--quick", action="store_true", help="synthetic 500x5000 / 1000x20000")
    ap.add_argument("--out", default=str(REPO / "docs" / "bench" / "load.md"))
    args = ap.parse_args()
    if args.quick:
        args.size, args.plink_size = "500x5000", "1000x20000"
    sn, sm = (int(v) for v in args.size.split("x"))
    pn, pm = (int(v) for v in args.plink_size.split("x"))

    sys.path.insert(0, str(REPO))
    from snpcnn.io.cache import convert

    rows: list[str] = []
    summary: list[str] = []
    load0 = os.getloadavg()
    t_start = time.time()

    def ratio(ref: dict, r: dict) -> float:
        return ref["seconds"] / r["seconds"]

    with tempfile.TemporaryDirectory(prefix="snpcnn-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["SNPCNN_CACHE_DIR"] = str(tmp / "auto-cache")
        t = time.perf_counter()
        write_synthetic_vcf(tmp / "synth.vcf.gz", sn, sm)
        write_bcf_from_vcf(tmp / "synth.vcf.gz", tmp / "synth.bcf")
        write_synthetic_plink(tmp / "synth", sn, sm)
        write_pgen_from_bed(tmp / "synth", tmp / "synth_pgen")
        write_synthetic_plink(tmp / "big", pn, pm)
        write_pgen_from_bed(tmp / "big", tmp / "big_pgen")
        vcf_mb = (tmp / "synth.vcf.gz").stat().st_size / 1e6
        print(f"synthetic data written in {time.perf_counter() - t:.1f} s", flush=True)
        syn = f"synthetic {sn}x{sm}"
        big = f"synthetic {pn}x{pm}"

        # --- VCF: ours vs scikit-allel vs a cyvcf2 loop; the cache of ours
        for name, path in (
            ("wheat", SHARED / "wheat" / "wheat.vcf.gz"),
            ("mice", SHARED / "mice" / "mice.vcf.gz"),
            (syn, tmp / "synth.vcf.gz"),
        ):
            if not path.exists():
                print(f"skip {name}: {path} missing")
                continue
            print(f"VCF {name} ...", flush=True)
            ref = measure("allel", path, args.repeats)
            cy = measure("cyvcf2_loop", path, args.repeats)
            ours = measure("snpcnn", path, args.repeats)
            cache = convert(path, tmp / f"{path.name}.snpcnn", force=True)
            c_open = measure("cache_open", cache, args.repeats)
            c_ram = measure("cache_ram", cache, args.repeats)
            rows += [
                fmt_row(name, "vcf", ref, None),
                fmt_row(name, "vcf", cy, ref),
                fmt_row(name, "vcf", ours, ref),
                fmt_row(name, "cache", c_open, ours),
                fmt_row(name, "cache", c_ram, ours),
            ]
            summary.append(
                f"- {name} VCF: snpcnn **{ratio(ref, ours):.2f}x** scikit-allel's speed (target "
                f">= 5: {'met' if ratio(ref, ours) >= 5 else 'MISSED'}), {ratio(cy, ours):.2f}x "
                f"a cyvcf2 loop ({ratio(ref, cy):.2f}x allel); peak {ours['bytes_per_genotype']:.2f}"
                f" B/genotype vs allel {ref['bytes_per_genotype']:.2f}; reading its cache into "
                f"RAM is {ratio(ours, c_ram):.0f}x faster than parsing"
            )
        # --- BCF: ours (htslib via cyvcf2) vs the cyvcf2 loop
        print(f"BCF {syn} ...", flush=True)
        cy = measure("cyvcf2_loop", tmp / "synth.bcf", args.repeats)
        ours = measure("snpcnn", tmp / "synth.bcf", args.repeats)
        rows += [fmt_row(syn, "bcf", cy, None), fmt_row(syn, "bcf", ours, cy)]
        summary.append(
            f"- {syn} BCF: snpcnn {ratio(cy, ours):.2f}x the cyvcf2 loop over the same BCF "
            f"({ours['gps'] / 1e6:.0f} M genotypes/s)"
        )
        # --- PLINK 1 and PLINK 2: ours vs the plain library calls
        for name, prefix, pg in (
            ("wheat", SHARED / "wheat" / "wheat", None),
            ("mice", SHARED / "mice" / "mice", None),
            (syn, tmp / "synth", tmp / "synth_pgen"),
            (big, tmp / "big", tmp / "big_pgen"),
        ):
            bed = prefix.with_suffix(".bed")
            if not bed.exists():
                print(f"skip {name}: {bed} missing")
                continue
            print(f"PLINK {name} ...", flush=True)
            ref8, ours = measure_pair("bedreader_int8", "snpcnn", bed, args.repeats)
            rows += [fmt_row(name, "plink", ref8, None), fmt_row(name, "plink", ours, ref8)]
            summary.append(
                f"- {name} PLINK: snpcnn **{ratio(ref8, ours):.2f}x** bed-reader's "
                f'`read(dtype="int8")` (target >= 0.8: '
                f"{'met' if ratio(ref8, ours) >= 0.8 else 'MISSED'}); peak "
                f"{ours['bytes_per_genotype']:.2f} B/genotype vs {ref8['bytes_per_genotype']:.2f}"
            )
            if pg is not None:
                print(f"PGEN {name} ...", flush=True)
                pref, pours = measure_pair(
                    "pgenlib", "snpcnn", pg.with_suffix(".pgen"), args.repeats
                )
                rows += [fmt_row(name, "pgen", pref, None), fmt_row(name, "pgen", pours, pref)]
                summary.append(
                    f"- {name} PGEN: snpcnn {ratio(pref, pours):.2f}x pgenlib's `read_range` "
                    "(variant-major int8, no ids or variant table)"
                )
    load1 = os.getloadavg()
    minutes = (time.time() - t_start) / 60

    from snpcnn.report import cpu_model

    cpu = cpu_model()
    import importlib.metadata

    import allel

    import snpcnn

    def ver(pkg: str) -> str:
        return importlib.metadata.version(pkg)

    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    cmd = "nice .venv/bin/python benchmarks/bench_load.py" + (" --quick" if args.quick else "")
    text = (
        f"""# Genotype loading benchmark

Generated by `benchmarks/bench_load.py` on {dt.date.today().isoformat()} in {minutes:.1f} min,
every row in one run, side by side. Regenerate with:

    {cmd}

Machine: {cpu}, {os.cpu_count()} CPUs, {mem_gb:.0f} GB RAM, Python {platform.python_version()},
numpy {np.__version__}, scikit-allel {allel.__version__}, bed-reader {ver("bed-reader")},
cyvcf2 {ver("cyvcf2")}, pgenlib {ver("pgenlib")}, snpcnn {snpcnn.__version__}.
Load average (1 min) at start / end: {load0[0]:.1f} / {load1[0]:.1f}. **Other jobs shared the
{os.cpu_count()} cores while this ran**, so absolute times are noisy; the ratios compare runs taken
back to back in the same conditions.

Each row is the median of {args.repeats} runs, each in a fresh process (imports done before the
clock starts); the PLINK and PGEN pairs alternate run by run (reference, ours, reference, ...).
The readers allocate their result without numpy's transparent-huge-page advice
(`snpcnn/io/_alloc.py`): with the kernel's THP defrag at `madvise`, the first write to an
advised 500 MB array stalled in memory compaction in some fresh processes, which made the
5,000 x 100,000 PLINK load bimodal (0.39-1.57 s, median ratio 0.58x in a session-10 check).
*Peak MB* is the rise of the process's peak resident memory over its size just
before the load; *B/genotype* divides it by samples x SNPs. *Ratio* is the first row of each group
(the reference) divided by this row's time: > 1 = faster than the reference. The synthetic VCF is
{sn:,} x {sm:,} diploid GT-only with 1% `./.` ({vcf_mb:.0f} MB, plain gzip level 1); the BCF,
PLINK and PGEN files hold the same kind of data (the PGEN files are written from the .bed).

Methods: `allel` = `allel.read_vcf(path, fields=["calldata/GT"])` (int8 variants x samples x 2);
`cyvcf2_loop` = `np.stack([v.gt_types.astype(np.int8) for v in cyvcf2.VCF(path, gts012=True,
lazy=True)])` (one row of genotype classes per record, 3 = missing; htslib parses the text or
BCF); `snpcnn` = `snpcnn.io.read_genotypes(path, cache=False, convert_large=False)` (int8 samples x SNPs in C order,
-1 = missing, with ids, variant table and load report); `bedreader_int8` =
`bed_reader.open_bed(path).read(dtype="int8")` (Fortran order); `pgenlib` =
`pgenlib.PgenReader(path).read_range(0, m, buf)` into a preallocated variant-major int8 buffer;
`cache_open` = `read_genotypes(cache)` (memmap, rows read on demand); `cache_ram` = the same plus
`np.array(g.dosages)`.

| data | format | samples x SNPs | method | median s | runs s | M genotypes/s | peak MB | B/genotype | ratio |
|---|---|---|---|---|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n\n## Ratios and targets\n\n"
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
