"""The bulk numpy VCF parser gives exactly what the scikit-allel path gives.

Exactly: the same int8 matrix, sample ids, variant table, load report and
warnings, or the same one-line error (files the bulk parser declines go to
scikit-allel).  Checked on every shipped edge-case VCF, on generated files with
every GT form, across block boundaries, and on Hypothesis mutations (the fuzz
suite's mutation strategies) of a 40-sample slice of the mice VCF.
"""

from __future__ import annotations

import gzip
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import snpcnn.io.vcf as vcf
from snpcnn.errors import InputError
from snpcnn.io.vcf import read_vcf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from fuzzlib import apply, mutations  # noqa: E402

OPTIONS = ({}, {"multiallelic": "alt1"}, {"snps_only": True})


def outcome(path, engine, **kw):
    """What reading gives: the container's content and warnings, or the error message."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            g = read_vcf(path, engine=engine, **kw)
        except InputError as exc:
            return ("error", str(exc))
    return (
        "ok",
        g.dosages.tobytes(),
        g.dosages.shape,
        list(g.samples),
        g.variants.to_dict("list"),
        {k: v for k, v in g.report.items()},
        sorted(str(x.message) for x in w),
    )


@pytest.fixture
def numpy_always(monkeypatch):
    """engine="auto" tries the bulk parser whatever the number of samples."""
    monkeypatch.setattr(vcf, "_NUMPY_MIN_SAMPLES", 0)


def test_every_case_file_same_as_allel(shared_data, numpy_always):
    cases = sorted((shared_data / "vcf_cases" / "scikit-allel").glob("*.vcf*"))
    handled = 0
    for path in cases:
        if path.name.endswith(".tbi"):
            continue
        for kw in OPTIONS:
            ref = outcome(path, "allel", **kw)
            assert outcome(path, "auto", **kw) == ref, (path.name, kw)
            strict = outcome(path, "numpy", **kw)
            if strict[0] == "ok":
                assert strict == ref, (path.name, kw)
                handled += 1
            else:
                assert ref[0] == "error" or "bulk VCF parser cannot read" in strict[1]
    assert handled >= 30  # 10 of the 15 files x 3 option sets go through the bulk parser


def test_real_data_same_as_allel(shared_data):
    path = shared_data / "mice" / "mice.vcf.gz"
    a = outcome(path, "allel")
    assert outcome(path, "numpy") == a


HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}\n"
)
FORMS = ["0/0", "0|1", "1/1", "./.", ".|.", ".", "0/.", "./1", "0", "1", "0/3", "1|0",
         "0/2", "2|2", "1/10", "", "0/0/1"]  # fmt: skip


def write(path, records, n, gz=False):
    text = HEADER.format(samples="\t".join(f"s{i}" for i in range(n)))
    text += "".join("\t".join(map(str, r)) + "\n" for r in records)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def records(forms, fmt="GT", n_extra=0, rng=None):
    rng = rng or np.random.default_rng(0)
    out = []
    for i, (ref, alt) in enumerate(
        [("A", "G"), ("C", "T,A"), ("G", "."), ("AT", "A"), ("T", "<DEL>")]
    ):
        gts = list(rng.choice(forms, size=len(forms)))
        if fmt != "GT":
            gts = [f"{g}:{rng.integers(0, 99)}" if g else g for g in gts]
        out.append(["1", 100 + i, f"r{i}" if i % 2 else ".", ref, alt, ".", "PASS", ".", fmt, *gts])
    for j in range(n_extra):
        gts = list(rng.choice(["0/0", "0/1", "1/1", "./."], size=len(forms)))
        if fmt != "GT":
            gts = [f"{g}:{j}" for g in gts]
        out.append(["2", 10 + j, ".", "A", "C", ".", ".", ".", fmt, *gts])
    return out


@pytest.mark.parametrize("fmt", ["GT", "GT:DP"])
@pytest.mark.parametrize("gz", [False, True])
def test_every_gt_form_same_as_allel(tmp_path, numpy_always, fmt, gz):
    forms = [f for f in FORMS if f != "0/0/1"]
    for seed in range(3):
        p = write(
            tmp_path / f"f{seed}.vcf",
            records(forms, fmt, 20, np.random.default_rng(seed)),
            len(forms),
            gz,
        )
        for kw in OPTIONS:
            assert outcome(p, "auto", **kw) == outcome(p, "allel", **kw)
    # the fixed-width path (GT only, every call 3 bytes) and the general one agree too
    fixed = write(tmp_path / "fixed.vcf", records(["0/0", "0|1", "1/1", "./."], fmt, 30), 4, gz)
    assert outcome(fixed, "numpy") == outcome(fixed, "allel")
    tri = write(tmp_path / "tri.vcf", records(FORMS, fmt, 3), len(FORMS), gz)
    assert outcome(tri, "auto")[0] == "error"
    assert outcome(tri, "auto") == outcome(tri, "allel")


def test_block_boundaries_do_not_change_values(tmp_path, monkeypatch):
    p = write(tmp_path / "b.vcf", records(["0/0", "0|1", "1/1", "./.", "0"], "GT", 200), 5)
    ref = outcome(p, "allel")
    for size in (64, 1000, 4093):
        monkeypatch.setattr(vcf, "_BLOCK_BYTES", size)
        assert outcome(p, "numpy") == ref


BASE_SAMPLES, BASE_RECORDS = 40, 60


@pytest.fixture(scope="module")
def base_vcf(shared_data):
    """Header + 60 records x 40 samples of mice, with GT forms of every kind mixed in."""
    lines = []
    with gzip.open(shared_data / "mice" / "mice.vcf.gz", "rt") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if line.startswith("##"):
                lines.append(line.rstrip("\n"))
                continue
            lines.append("\t".join(f[: 9 + BASE_SAMPLES]))
            if not line.startswith("#") and len(lines) > 60 + BASE_RECORDS:
                break
    body = [ln for ln in lines if not ln.startswith("#")][:BASE_RECORDS]
    rng = np.random.default_rng(1)
    extra = []
    for i, row in enumerate(body[:6]):
        f = row.split("\t")
        f[1] = str(int(f[1]) + 1)
        f[2] = f"x{i}"
        f[9:] = list(rng.choice(FORMS[:-1], size=BASE_SAMPLES))
        extra.append("\t".join(f))
    head = [ln for ln in lines if ln.startswith("#")]
    return ("\n".join(head + body[:30] + extra + body[30:]) + "\n").encode(), len(head)


@settings(max_examples=80, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(m=mutations(seps=(b"\t",)))
def test_mutated_files_same_as_allel(base_vcf, tmp_path_factory, m):
    data, n_head = base_vcf
    mutated, _ = apply(m, data, data_start=n_head)
    d = tmp_path_factory.mktemp("mut")
    for name, raw in (("x.vcf", mutated), ("x.vcf.gz", gzip.compress(mutated, mtime=0))):
        p = d / name
        p.write_bytes(raw)
        if not raw:
            continue
        assert outcome(p, "auto") == outcome(p, "allel"), m
