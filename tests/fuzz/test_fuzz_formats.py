"""Fuzzing the formats the first fuzzer left out: PLINK 2, BCF and covariate files (session 43).

The same rules as ``test_fuzz_inputs.py`` (whose helpers this file uses): a mutated file
either loads, well formed and unchanged on every line the mutation did not touch, or fails
with an :class:`~snpcnn.errors.InputError` of one line naming the file; never another
exception and never a hang.  Binary containers add one rule: where a mutation's effect on
the records cannot be located (a flipped bit inside a compressed ``.pgen`` record or a BGZF
block), a load only has to be well formed, but a *truncated* ``.pgen`` or BCF must never
load with records missing (BGZF ends with an EOF block, and a ``.pgen`` header states its
variant count, so a cut file can always be told from a complete one).
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from fuzzlib import ALL, Mutation, apply, mutations
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_inputs import (
    attempt,
    check_well_formed,
    compare_genotypes,
    fuzz_settings,
    workdir,
)

pytestmark = pytest.mark.filterwarnings("ignore")


class _Quiet(dict):
    def __repr__(self) -> str:
        return "<fuzz base files>"


@pytest.fixture(scope="module")
def more_base(base, tmp_path_factory):
    """The fuzzer's VCF slice as PLINK 2 and BCF files, and a covariate file (bytes)."""
    pgenlib = pytest.importorskip("pgenlib")
    cyvcf2 = pytest.importorskip("cyvcf2")
    from snpcnn.io.bcf import read_bcf
    from snpcnn.io.pgen import read_pgen
    from snpcnn.io.phenotypes import read_phenotypes

    d = tmp_path_factory.mktemp("fuzz-more")
    g = base["vcf"]
    n, m = g.shape
    w = pgenlib.PgenWriter(bytes(d / "b.pgen"), n, m, nonref_flags=True)
    for j in range(m):
        col = np.ascontiguousarray(g.dosages[:, j]).astype(np.int8)
        col[col < 0] = -9
        w.append_biallelic(col)
    w.close()
    v = g.variants
    rows = v[["chrom", "pos", "id", "ref", "alt"]].itertuples(index=False)
    pvar = ["##fileformat=PVARv1.0", "#CHROM\tPOS\tID\tREF\tALT"]
    pvar += ["\t".join(map(str, r)) for r in rows]
    (d / "b.pvar").write_text("\n".join(pvar) + "\n")
    psam = ["#FID\tIID"] + [f"{s}\t{s}" for s in g.samples]
    (d / "b.psam").write_text("\n".join(psam) + "\n")

    (d / "b.vcf").write_bytes(base["files"]["vcf"])
    r = cyvcf2.VCF(str(d / "b.vcf"))
    have = set(r.seqnames) if hasattr(r, "seqnames") else set()
    for c in dict.fromkeys(v["chrom"].astype(str)):
        if c not in have:
            r.add_to_header(f"##contig=<ID={c}>")
    out = cyvcf2.Writer(str(d / "b.bcf"), r, mode="wb")
    for rec in r:
        out.write_record(rec)
    out.close()
    r.close()

    rng = np.random.default_rng(0)
    ids = list(base["ids"])
    cov = ["sample_id,age,site"] + [
        f"{s},{rng.integers(20, 60)},{'AB'[k % 2]}" for k, s in enumerate(ids)
    ]
    files = {
        "pgen": (d / "b.pgen").read_bytes(),
        "pvar": (d / "b.pvar").read_bytes(),
        "psam": (d / "b.psam").read_bytes(),
        "bcf": (d / "b.bcf").read_bytes(),
        "cov": ("\n".join(cov) + "\n").encode(),
    }
    (d / "c.csv").write_bytes(files["cov"])
    ph = read_phenotypes(base["dir"] / "p.csv", covariates_path=d / "c.csv", traits=["GY_E1"])
    return _Quiet(
        {
            "files": files,
            "pgen": read_pgen(d / "b"),
            "bcf": read_bcf(d / "b.bcf"),
            "cov": ph,
        }
    )


def _same_records(g, g0, kind):
    """A load of a cut binary file must hold every record of the original, unchanged."""
    check_well_formed(g, kind)
    compare_genotypes(g, g0, kind, exact=True)


# ---------------------------------------------------------------------- PLINK 2
PGEN_TEXT = mutations(seps=(b"\t",), benign_shuffle=False)
PGEN_BINARY = mutations(text=False, line_ops=False)


@fuzz_settings(60)
@given(
    which=st.sampled_from(["pgen", "pvar", "psam"]),
    m_text=PGEN_TEXT,
    m_bin=PGEN_BINARY,
)
def test_fuzz_pgen(base, more_base, which, m_text, m_bin):
    from snpcnn.io.pgen import read_pgen

    m = m_bin if which == "pgen" else m_text
    if which != "pgen" and m.kind == "swap_lines":
        # .pgen records are matched to .pvar/.psam lines by position: a swap relabels
        # genotypes and no reader can see it (as for PLINK 1)
        m = Mutation("dup_line", {"i": m.params["i"]})
    files = more_base["files"]
    start = {"pgen": 0, "pvar": 2, "psam": 1}[which]
    with workdir() as d:
        for ext in ("pgen", "pvar", "psam"):
            (d / f"x.{ext}").write_bytes(files[ext])
        data, touched = apply(m, files[which], data_start=start)
        (d / f"x.{which}").write_bytes(data)
        g = attempt("pgen", lambda: read_pgen(d / "x"), d)
        if g is None:
            return
        g0 = more_base["pgen"]
        if which == "pgen":
            if m.kind == "truncate":
                _same_records(g, g0, "pgen")
            else:
                check_well_formed(g, "pgen")
            return
        check_well_formed(g, "pgen")
        if m.benign:
            compare_genotypes(g, g0, "pgen")
            return
        if touched == ALL:
            return
        lines = files[which].splitlines()
        col = 2 if which == "pvar" else 1
        names = {}
        for i, ln in enumerate(lines):
            cells = ln.split(b"\t")
            names[i] = cells[col].decode("utf-8", "replace") if len(cells) > col else ""
        skip = {names[i] for i in touched if i in names}
        if which == "psam":
            compare_genotypes(g, g0, "pgen", skip_samples=skip)
        else:
            compare_genotypes(g, g0, "pgen", skip_snps=skip)


# -------------------------------------------------------------------------- BCF
@fuzz_settings(40)
@given(m=mutations(text=False, line_ops=False))
def test_fuzz_bcf(base, more_base, m):
    from snpcnn.io.bcf import read_bcf

    with workdir() as d:
        data, _ = apply(m, more_base["files"]["bcf"], data_start=0)
        path = d / "x.bcf"
        path.write_bytes(data)
        g = attempt("bcf", lambda: read_bcf(path), path)
        if g is None:
            return
        if m.kind == "truncate":
            _same_records(g, more_base["bcf"], "bcf")
        else:
            check_well_formed(g, "bcf")


# -------------------------------------------------------------- covariate files
@fuzz_settings(60)
@given(m=mutations(seps=(b",",)))
def test_fuzz_covariates(base, more_base, m):
    from snpcnn.io.phenotypes import read_phenotypes

    orig = more_base["files"]["cov"]
    pheno = base["dir"] / "p.csv"
    with workdir() as d:
        data, touched = apply(m, orig, data_start=1)
        path = d / "c.csv"
        path.write_bytes(data)
        ph = attempt(
            "covariates",
            lambda: read_phenotypes(pheno, covariates_path=path, traits=["GY_E1"]),
            path,
        )
        if ph is None:
            return
        try:
            t, t0 = ph.table, more_base["cov"].table
            assert t.index.is_unique
            for c in ph.covariates:
                if c not in ph.categorical:
                    v = t[c].to_numpy(dtype=np.float64)
                    assert not np.isinf(v).any(), f"an infinite covariate in {c} was accepted"
            if touched == ALL and not m.benign:
                return
            if m.benign:
                assert ph.covariates == more_base["cov"].covariates
            lines = orig.splitlines()
            skip = {lines[i].split(b",")[0].decode() for i in touched if 0 < i < len(lines)}
            # a sample whose line was dropped keeps its trait, without covariates
            text = gzip.decompress(data) if m.kind == "gzip" else data
            present = {
                ln.split(b",")[0].strip().decode("utf-8", "replace") for ln in text.splitlines()
            }
            rows = [s for s in t.index if s in t0.index and s not in skip and s in present]
            for c in ph.covariates:
                if c not in t0.columns:
                    continue
                a, b = t.loc[rows, c], t0.loc[rows, c]
                assert a.isna().equals(b.isna()), f"silent change of missingness in {c}"
                assert (a[a.notna()].astype(str) == b[b.notna()].astype(str)).all(), (
                    f"silent change in {c}"
                )
            # the trait comes from the untouched phenotype file
            np.testing.assert_array_equal(
                t.loc[rows, "GY_E1"].to_numpy(float), t0.loc[rows, "GY_E1"].to_numpy(float)
            )
        except AssertionError:
            from test_fuzz_inputs import _fail_count

            _fail_count("covariates")
            raise
