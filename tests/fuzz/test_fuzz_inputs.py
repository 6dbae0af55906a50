"""Fuzzing the loaders (issue 12): mutated example files load correctly or fail with one line.

Each test mutates one small slice of a shipped example file (truncation,
bit flips, dropped/duplicated/swapped/shuffled lines, removed or extra
columns, other delimiters, encodings, a BOM, NaN/inf/huge values, empty
files) and calls the loader.  The outcome must be

* an :class:`snpcnn.errors.InputError` whose message is one line naming the
  file, or
* a successful load that is well formed, equal to the unmutated data where
  the mutation is benign, and equal to it on every line the mutation did not
  touch otherwise (no silent shift, padding or change of values);

never another exception type and never a hang (60 s alarm per example).

Hypothesis runs derandomized (a fixed seed, no example database), so CI is
reproducible.  Default: a few dozen examples per format (well under a minute
in all).  ``SNPCNN_FUZZ_LONG=1`` runs ``SNPCNN_FUZZ_EXAMPLES`` (default 1000)
per format, 8,000 in all; ``SNPCNN_FUZZ_REPORT=file.json`` writes the
counts.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import signal
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fuzzlib import ALL, COUNTS, Mutation, apply, mutations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snpcnn.errors import InputError

LONG = os.environ.get("SNPCNN_FUZZ_LONG", "") not in ("", "0")
N_LONG = int(os.environ.get("SNPCNN_FUZZ_EXAMPLES", "1000"))


def fuzz_settings(ci: int):
    return settings(
        max_examples=N_LONG if LONG else ci,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


pytestmark = pytest.mark.filterwarnings("ignore")


#: the warnings of the last successful load
WARNINGS: list[str] = []


class Hang(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int = 60):
    def on_alarm(signum, frame):
        raise Hang(f"no outcome after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def workdir():
    d = Path(tempfile.mkdtemp(prefix="snpcnn-fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def attempt(kind: str, load, where: Path):
    """Run ``load()``; count the outcome; return the result or None for a clean error."""
    WARNINGS.clear()
    try:
        with alarm(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = load()
        WARNINGS.extend(str(w.message) for w in caught)
    except InputError as exc:
        msg = str(exc)
        ok = "\n" not in msg and str(where) in msg
        if not ok:
            COUNTS[kind]["failure"] += 1
        assert "\n" not in msg, f"a multi-line error: {msg!r}"
        assert str(where) in msg, f"the error does not name the file: {msg!r}"
        COUNTS[kind]["clean error"] += 1
        return None
    except BaseException:
        COUNTS[kind]["failure"] += 1
        raise
    COUNTS[kind]["loaded"] += 1
    return result


def _fail_count(kind):
    COUNTS[kind]["failure"] += 1
    COUNTS[kind]["loaded"] -= 1


# --------------------------------------------------------------- genotype checks
def check_well_formed(g, kind, values=True):
    try:
        assert g.dosages.dtype == np.int8
        assert g.dosages.shape == (len(g.samples), len(g.variants))
        assert len(set(map(str, g.samples))) == len(g.samples), "duplicate sample ids"
        if values:
            assert set(np.unique(np.asarray(g.dosages))) <= {-1, 0, 1, 2}
    except AssertionError:
        _fail_count(kind)
        raise


def _unique(ids) -> dict[str, int]:
    s = pd.Series([str(i) for i in ids])
    dup = set(s[s.duplicated(keep=False)])
    return {v: i for i, v in enumerate(s) if v not in dup}


def compare_genotypes(g, g0, kind, skip_samples=(), skip_snps=(), exact=False):
    """Cells of samples and SNPs the mutation did not touch must be unchanged (by id)."""
    try:
        sa, sa0 = _unique(g.samples), _unique(g0.samples)
        va, va0 = _unique(g.variants["id"]), _unique(g0.variants["id"])
        if exact:
            assert set(sa) == set(sa0) and set(va) == set(va0), "benign mutation changed the ids"
        rows = [s for s in sa if s in sa0 and s not in skip_samples]
        cols = [v for v in va if v in va0 and v not in skip_snps]
        a = np.asarray(g.dosages)[np.ix_([sa[s] for s in rows], [va[v] for v in cols])]
        b = np.asarray(g0.dosages)[np.ix_([sa0[s] for s in rows], [va0[v] for v in cols])]
        bad = np.argwhere(a != b)
        assert not len(bad), (
            f"silent change: sample {rows[bad[0][0]]}, SNP {cols[bad[0][1]]}: "
            f"{a[tuple(bad[0])]} instead of {b[tuple(bad[0])]}"
        )
    except AssertionError:
        _fail_count(kind)
        raise


# ------------------------------------------------------------------------- VCF
def _vcf_ids(data: bytes) -> dict[int, str]:
    out = {}
    for i, ln in enumerate(data.splitlines()):
        if ln.startswith(b"#"):
            continue
        f = ln.split(b"\t")
        out[i] = f[2].decode() if len(f) > 2 and f[2] not in (b".", b"") else ""
    return out


def _vcf_header_lines(data: bytes) -> int:
    return sum(1 for ln in data.splitlines() if ln.startswith(b"#"))


def _run_vcf(base, m: Mutation, gz: bool):
    from snpcnn.io.vcf import read_vcf

    orig = base["files"]["vcf"]
    kind = "vcf.gz" if gz else "vcf"
    with workdir() as d:
        if gz and m.params.get("container"):
            data, touched = apply(m, __import__("gzip").compress(orig, mtime=0), data_start=0)
            touched = ALL
            exact = False
        else:
            data, touched = apply(m, orig, data_start=_vcf_header_lines(orig))
            exact = m.benign
            if gz:
                data = __import__("gzip").compress(data, mtime=0)
        path = d / ("x.vcf.gz" if gz else "x.vcf")
        path.write_bytes(data)
        g = attempt(kind, lambda: read_vcf(path), path)
        if g is None:
            return
        check_well_formed(g, kind)
        if touched == ALL and not exact:
            return
        ids = _vcf_ids(orig)
        skip = {ids[i] for i in touched if i in ids}
        compare_genotypes(g, base["vcf"], kind, skip_snps=skip, exact=exact)


VCF_MUTATIONS = mutations(seps=(b"\t",))


@fuzz_settings(60)
@given(m=VCF_MUTATIONS)
def test_fuzz_vcf(base, m):
    _run_vcf(base, m, gz=False)


@fuzz_settings(40)
@given(m=VCF_MUTATIONS, container=st.booleans())
def test_fuzz_vcf_gz(base, m, container):
    if container and m.kind in ("truncate", "bitflip", "empty"):
        m = Mutation(m.kind, {**m.params, "container": True})
    _run_vcf(base, m, gz=True)


# ----------------------------------------------------------------------- PLINK
PLINK_TEXT = mutations(seps=(b"\t", b" "), benign_shuffle=False)
PLINK_BINARY = mutations(text=False, line_ops=False)


@fuzz_settings(60)
@given(
    which=st.sampled_from(["bed", "bim", "fam"]),
    m_text=PLINK_TEXT,
    m_bin=PLINK_BINARY,
)
def test_fuzz_plink(base, which, m_text, m_bin):
    from snpcnn.io.plink import read_plink

    m = m_bin if which == "bed" else m_text
    if which != "bed" and m.kind == "swap_lines":
        # .bed rows are matched to .fam/.bim lines by position: a swap relabels
        # genotypes and no reader can see it (PLINK files carry no checksum)
        m = Mutation("dup_line", {"i": m.params["i"]})
    files = base["files"]
    with workdir() as d:
        for ext in ("bed", "bim", "fam"):
            (d / f"x.{ext}").write_bytes(files[ext])
        data, touched = apply(m, files[which], data_start=0 if which != "bed" else 0)
        (d / f"x.{which}").write_bytes(data)
        g = attempt("plink", lambda: read_plink(d / "x"), d)
        if g is None:
            return
        check_well_formed(g, "plink")
        g0 = base["plink"]
        if m.benign:
            compare_genotypes(g, g0, "plink", exact=False)
            return
        if touched == ALL:
            return
        if which == "bed":
            per_snp = (len(g0.samples) + 3) // 4
            skip = set()
            for off, _bit in m.params.get("flips", []):
                off %= len(files["bed"])
                if off < 3:
                    return
                skip.add(str(g0.variants["id"].iloc[(off - 3) // per_snp]))
            compare_genotypes(g, g0, "plink", skip_snps=skip)
            return
        lines = files[which].splitlines()
        names = {
            i: (ln.split()[1].decode() if len(ln.split()) > 1 else "") for i, ln in enumerate(lines)
        }
        skip = {names[i] for i in touched if i in names}
        if which == "fam":
            compare_genotypes(g, g0, "plink", skip_samples=skip)
        else:
            compare_genotypes(g, g0, "plink", skip_snps=skip)


# ---------------------------------------------------------------- CSV matrix
@fuzz_settings(60)
@given(m=mutations(seps=(b",",)))
def test_fuzz_table(base, m):
    from snpcnn.io.table import read_table

    orig = base["files"]["table"]
    with workdir() as d:
        data, touched = apply(m, orig, data_start=1)
        path = d / "x.csv"
        path.write_bytes(data)
        g = attempt("table", lambda: read_table(path), path)
        if g is None:
            return
        check_well_formed(g, "table")
        if touched == ALL and not m.benign:
            return
        if any("--coding auto chose 012" in w for w in WARNINGS):
            return  # a stray 2 in 0/1 data: the reinterpretation is announced
        lines = orig.splitlines()
        skip = {lines[i].split(b",")[0].decode() for i in touched if 0 < i < len(lines)}
        compare_genotypes(g, base["table"], "table", skip_samples=skip, exact=m.benign)


# ------------------------------------------------------------------ phenotypes
@fuzz_settings(60)
@given(m=mutations(seps=(b",",)))
def test_fuzz_phenotypes(base, m):
    from snpcnn.io.phenotypes import read_phenotypes

    orig = base["files"]["pheno"]
    with workdir() as d:
        data, touched = apply(m, orig, data_start=1)
        path = d / "x.csv"
        path.write_bytes(data)
        ph = attempt("pheno", lambda: read_phenotypes(path), path)
        if ph is None:
            return
        try:
            t = ph.table
            assert t.index.is_unique
            for trait in ph.traits:
                v = t[trait].to_numpy(dtype=np.float64)
                assert not np.isinf(v).any(), "an infinite trait value was accepted"
            if touched == ALL and not m.benign:
                return
            t0 = base["pheno"].table
            if m.benign:
                assert sorted(t.index) == sorted(t0.index) and ph.traits == base["pheno"].traits
            lines = orig.splitlines()
            skip = {lines[i].split(b",")[0].decode() for i in touched if 0 < i < len(lines)}
            rows = [s for s in t.index if s in t0.index and s not in skip]
            for trait in ph.traits:
                if trait not in t0.columns:
                    continue
                a = t.loc[rows, trait].to_numpy(dtype=np.float64)
                b = t0.loc[rows, trait].to_numpy(dtype=np.float64)
                np.testing.assert_array_equal(a, b, err_msg=f"silent change in {trait}")
        except AssertionError:
            _fail_count("pheno")
            raise


# ----------------------------------------------------------------------- folds
@fuzz_settings(50)
@given(m=mutations(seps=(b",",)))
def test_fuzz_folds(base, m):
    from snpcnn.folds import read_folds

    orig = base["files"]["folds"]
    ids = np.asarray(base["ids"], dtype=object)
    with workdir() as d:
        data, touched = apply(m, orig, data_start=1)
        path = d / "x.csv"
        path.write_bytes(data)
        table = attempt("folds", lambda: read_folds(path, ids), path)
        if table is None:
            return
        try:
            assert table["sample_id"].tolist() == list(ids)
            assert table["fold"].min() >= 1 and table["fold"].nunique() >= 2
            if touched == ALL and not m.benign:
                return
            lines = orig.splitlines()
            f0 = {ln.split(b",")[0].decode(): ln.split(b",")[1].decode() for ln in lines[1:]}
            skip = {lines[i].split(b",")[0].decode() for i in touched if 0 < i < len(lines)}
            pairs = {}
            for sid, fold in zip(table["sample_id"], table["fold"]):
                if sid in skip:
                    continue
                assert pairs.setdefault(f0[sid], fold) == fold, f"fold of {sid} changed"
            assert len(set(pairs.values())) == len(pairs), "two folds merged silently"
        except AssertionError:
            _fail_count("folds")
            raise


# ----------------------------------------------------------------------- cache
CACHE_TEXT = mutations(seps=(b"\t",), benign_shuffle=False)
CACHE_BINARY = mutations(text=False, line_ops=False)


@fuzz_settings(50)
@given(
    member=st.sampled_from(["meta.json", "samples.txt", "variants.tsv", "dosages.npy"]),
    m_text=CACHE_TEXT,
    m_bin=CACHE_BINARY,
)
def test_fuzz_cache(base, member, m_text, m_bin):
    from snpcnn.io.cache import load_cache

    m = m_bin if member == "dosages.npy" else m_text
    if member in ("samples.txt", "variants.tsv") and m.kind == "swap_lines":
        m = Mutation("dup_line", {"i": m.params["i"]})  # positional, like PLINK (see there)
    with workdir() as d:
        c = d / "x.snpcnn"
        c.mkdir()
        for name, data in base["cache"].items():
            (c / name).write_bytes(data)
        data, touched = apply(m, base["cache"][member], data_start=0)
        (c / member).write_bytes(data)
        g = attempt("cache", lambda: load_cache(c, mmap=False), c)
        if g is None:
            return
        # a flipped bit in dosages.npy changes a cell legitimately (the cache has no checksum)
        flipped_data = member == "dosages.npy" and m.kind == "bitflip"
        check_well_formed(g, "cache", values=not flipped_data)
        if m.benign or (member in ("meta.json",) and touched == ALL):
            compare_genotypes(g, base["table"], "cache")
            return
        if member == "dosages.npy":
            if m.kind != "bitflip":
                compare_genotypes(g, base["table"], "cache", exact=True)
                return
            header = len(base["cache"][member]) - base["table"].dosages.size
            n_snps = base["table"].n_snps
            skip = set()
            for off, _bit in m.params["flips"]:
                off %= len(base["cache"][member])
                if off < header:
                    return
                skip.add(str(base["table"].samples[(off - header) // n_snps]))
            compare_genotypes(g, base["table"], "cache", skip_samples=skip)
            return
        if touched == ALL:
            return
        lines = base["cache"][member].splitlines()
        if member == "samples.txt":
            skip = {lines[i].decode() for i in touched if i < len(lines)}
            compare_genotypes(g, base["table"], "cache", skip_samples=skip)
        elif member == "variants.tsv":
            col = lines[0].split(b"\t").index(b"id")
            skip = {lines[i].split(b"\t")[col].decode() for i in touched if 0 < i < len(lines)}
            compare_genotypes(g, base["table"], "cache", skip_snps=skip)


# ---------------------------------------------------------------------- bundle
def _mutate_member(raw: bytes, member: str, m: Mutation, text: bool) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if member in members:
        members[member], _ = apply(m, members[member], data_start=0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out.getvalue()


def _mutate_npz_array(raw: bytes, key_seed: int, value: str) -> bytes:
    """Replace one array of the preprocessing npz by NaN/inf/huge/odd values or drop it."""
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = "snpcnn/preprocessing.npz"
    with np.load(io.BytesIO(members[name])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    keys = sorted(arrays)
    key = keys[key_seed % len(keys)]
    a = arrays[key]
    if value == "drop":
        del arrays[key]
    elif value == "empty":
        arrays[key] = a[:0]
    elif value == "string":
        arrays[key] = np.full(a.shape, "x")
    elif value == "scalar":
        arrays[key] = np.asarray(1.0)
    elif a.dtype.kind in "fi" and a.size:
        b = a.astype(np.float64).copy()
        b.flat[random.Random(key_seed).randrange(b.size)] = float(value)
        arrays[key] = b
    else:
        arrays[key] = np.asarray([float(value)])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    members[name] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out.getvalue()


@fuzz_settings(25)
@given(
    where=st.sampled_from(["file", "config.json", "metadata.json", "npz", "npz-array"]),
    m_bin=mutations(text=False, line_ops=False),
    m_text=mutations(seps=(b",", b":"), line_ops=False),
    key_seed=st.integers(0, 2**31 - 1),
    value=st.sampled_from(["nan", "inf", "-inf", "1e308", "drop", "empty", "string", "scalar"]),
)
def test_fuzz_bundle(base, bundle_base, where, m_bin, m_text, key_seed, value):
    from snpcnn.bundle import load_bundle

    raw = bundle_base["bytes"]
    if where == "file":
        data, _ = apply(m_bin, raw, data_start=0)
    elif where == "npz":
        data = _mutate_member(raw, "snpcnn/preprocessing.npz", m_bin, text=False)
    elif where == "npz-array":
        data = _mutate_npz_array(raw, key_seed, value)
    else:
        data = _mutate_member(raw, where, m_text, text=True)
    with workdir() as d:
        path = d / "model.keras"
        path.write_bytes(data)
        b = attempt("bundle", lambda: load_bundle(path), path)
        if b is None:
            return
        try:
            with alarm():
                pred = b.predict(base["table"])
        except InputError:
            return
        except BaseException:
            _fail_count("bundle")
            raise
        try:
            assert pred.shape == bundle_base["expected"].shape
            if where == "file":  # the zip's CRCs protect every member: same predictions
                pd.testing.assert_frame_equal(pred, bundle_base["expected"])
        except AssertionError:
            _fail_count("bundle")
            raise


# ---------------------------------------------------------- through the CLI
@fuzz_settings(30)
@given(
    fmt=st.sampled_from(["vcf", "table", "plink-fam", "plink-bim"]),
    m=mutations(seps=(b"\t", b",", b" ")),
)
def test_fuzz_cli_info(base, fmt, m):
    """`snpcnn info` on a mutated file: exit 0, or exit 1 with one `Error:` line naming it."""
    from click.testing import CliRunner

    from snpcnn.cli import main

    files = base["files"]
    with workdir() as d:
        if fmt == "vcf":
            target = d / "x.vcf"
            target.write_bytes(apply(m, files["vcf"], data_start=1)[0])
            arg = target
        elif fmt == "table":
            target = d / "x.csv"
            target.write_bytes(apply(m, files["table"], data_start=1)[0])
            arg = target
        else:
            ext = fmt.split("-")[1]
            for e in ("bed", "bim", "fam"):
                (d / f"x.{e}").write_bytes(files[e])
            (d / f"x.{ext}").write_bytes(apply(m, files[ext], data_start=0)[0])
            arg = d / "x"
        with alarm():
            r = CliRunner().invoke(main, ["info", "--no-cache", str(arg)])
        try:
            assert r.exit_code in (0, 1), r.output
            assert "Traceback" not in r.output and "internal error" not in r.output, r.output
            if r.exit_code == 1:
                err = [ln for ln in r.stderr.splitlines() if ln.startswith("Error")]
                assert len(err) == 1 and r.stderr.strip().splitlines()[-1] == err[0], r.stderr
                assert str(d) in err[0], err[0]
        except AssertionError:
            COUNTS["cli"]["failure"] += 1
            raise
        COUNTS["cli"]["loaded" if r.exit_code == 0 else "clean error"] += 1
