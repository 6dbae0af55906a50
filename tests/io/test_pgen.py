"""PLINK 2 reading: a .pgen written from a PLINK 1 fileset reads to the same container; dosages."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.io import detect_format, read_genotypes
from snpcnn.io.pgen import read_pgen
from snpcnn.io.plink import read_plink

pgenlib = pytest.importorskip("pgenlib")


def write_pgen_from(g, prefix, dosages=None, psam_header="#FID\tIID"):
    """A .pgen/.pvar/.psam holding ``g`` (counted allele = ALT), written with pgenlib."""
    n, m = g.shape
    present = dosages is not None
    w = pgenlib.PgenWriter(
        bytes(prefix.with_suffix(".pgen")), n, m, nonref_flags=True, dosage_present=present
    )
    for j in range(m):
        if present:
            w.append_dosages(np.ascontiguousarray(dosages[:, j], dtype=np.float32))
        else:
            col = np.ascontiguousarray(g.dosages[:, j]).astype(np.int8)
            col[col < 0] = -9
            w.append_biallelic(col)
    w.close()
    v = g.variants
    lines = ["##fileformat=PVARv1.0", "#CHROM\tPOS\tID\tREF\tALT"]
    lines += [
        f"{c}\t{p}\t{i}\t{r}\t{a}"
        for c, p, i, r, a in v[["chrom", "pos", "id", "ref", "alt"]].itertuples(index=False)
    ]
    prefix.with_suffix(".pvar").write_text("\n".join(lines) + "\n")
    fam = [f"{s}\t{s}" for s in g.samples]
    prefix.with_suffix(".psam").write_text(psam_header + "\n" + "\n".join(fam) + "\n")
    return prefix


@pytest.fixture(scope="module")
def wheat_pgen(shared_data, tmp_path_factory):
    g = read_plink(shared_data / "wheat" / "wheat")
    g = g.subset(samples=np.arange(0, 599, 7), variants=np.arange(0, 1279, 5))
    prefix = tmp_path_factory.mktemp("pgen") / "wheat"
    return g, write_pgen_from(g, prefix)


def test_pgen_matches_the_bed_it_was_made_from(wheat_pgen):
    g, prefix = wheat_pgen
    p = read_pgen(prefix)
    assert p.dosages.dtype == np.int8 and p.dosages.flags.c_contiguous
    np.testing.assert_array_equal(p.dosages, g.dosages)
    assert list(p.samples) == list(g.samples)
    cols = ["chrom", "pos", "id", "ref", "alt"]
    assert p.variants[cols].equals(g.variants[cols])
    assert p.report["dosages"] == "hard calls"


def test_upper_case_extensions_name_the_fileset(wheat_pgen, tmp_path):
    g, prefix = wheat_pgen
    for ext in ("pgen", "pvar", "psam"):
        shutil.copy(f"{prefix}.{ext}", tmp_path / f"UP.{ext.upper()}")
    for p in ("UP.PGEN", "UP.PVAR", "UP"):
        np.testing.assert_array_equal(read_genotypes(tmp_path / p, cache=False).dosages, g.dosages)


def test_pgen_with_missing_calls_and_format_detection(shared_data, tmp_path):
    g = read_plink(shared_data / "vcf_cases" / "bed-reader" / "some_missing")
    assert (g.dosages < 0).any()
    prefix = write_pgen_from(g, tmp_path / "miss")
    for form in (prefix, prefix.with_suffix(".pgen"), prefix.with_suffix(".psam")):
        assert detect_format(form) == "pgen"
    p = read_genotypes(prefix, cache=False)
    np.testing.assert_array_equal(p.dosages, g.dosages)
    q = read_genotypes(prefix.with_suffix(".pgen"), format="plink2", cache=False)
    np.testing.assert_array_equal(q.dosages, g.dosages)


def test_dosages_are_rounded_halves_up_missing_stays_missing(wheat_pgen, tmp_path):
    g, _ = wheat_pgen
    g = g.subset(samples=np.arange(8), variants=np.arange(3))
    d = np.array(
        [
            [0.0, 0.49, 2.0],
            [0.5, 0.51, 1.0],
            [1.5, 1.49, -9],
            [2.0, 0.0, 1.9],
            [0.1, 1.0, 0.0],
            [1.0, 2.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.25, 1.75, 1.2],
        ],
        dtype=np.float32,
    )
    prefix = write_pgen_from(g, tmp_path / "dos", dosages=d)
    p = read_pgen(prefix)
    want = np.array(
        [[0, 0, 2], [1, 1, 1], [2, 1, -1], [2, 0, 2], [0, 1, 0], [1, 2, 0], [0, 0, 0], [0, 2, 1]],
        dtype=np.int8,
    )
    np.testing.assert_array_equal(p.dosages, want)
    assert p.report["dosages"].startswith("dosages rounded")


def test_pvar_with_a_space_inside_a_tab_separated_field(wheat_pgen, tmp_path):
    """A .pvar is tab-separated; an INFO holding a space gave 'line 3 has 9 columns'."""
    g, prefix = wheat_pgen
    for suf in (".pgen", ".psam"):
        shutil.copy(prefix.with_suffix(suf), tmp_path / f"s{suf}")
    lines = prefix.with_suffix(".pvar").read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("#CHROM"))
    lines[k] += "\tQUAL\tFILTER\tINFO"
    for i in range(k + 1, len(lines)):
        lines[i] += "\t.\t.\t" + ("NOTE=two words" if i % 2 else "X=1")
    (tmp_path / "s.pvar").write_text("\n".join(lines) + "\n")
    p = read_pgen(tmp_path / "s")
    np.testing.assert_array_equal(p.dosages, g.dosages)
    cols = ["chrom", "pos", "id", "ref", "alt"]
    assert p.variants[cols].equals(read_pgen(prefix).variants[cols])


def test_pgen_errors_are_one_line(wheat_pgen, tmp_path):
    g, prefix = wheat_pgen
    bad = tmp_path / "bad"
    for suf in (".pgen", ".pvar", ".psam"):
        bad.with_suffix(suf).write_bytes(prefix.with_suffix(suf).read_bytes())
    # one sample fewer in the .psam than the .pgen holds
    lines = bad.with_suffix(".psam").read_text().splitlines()
    bad.with_suffix(".psam").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputError, match=r"cannot open .*samples") as e:
        read_pgen(bad)
    assert "\n" not in str(e.value)
    # multi-allelic variant
    bad.with_suffix(".psam").write_bytes(prefix.with_suffix(".psam").read_bytes())
    pv = bad.with_suffix(".pvar").read_text().splitlines()
    pv[3] += ",T"  # second variant: a second ALT allele
    bad.with_suffix(".pvar").write_text("\n".join(pv) + "\n")
    with pytest.raises(InputError, match=r"line 4: .* 2 ALT alleles .*max-alleles 2"):
        read_pgen(bad)
    # compressed .pvar.zst only
    z = tmp_path / "z"
    z.with_suffix(".pgen").write_bytes(prefix.with_suffix(".pgen").read_bytes())
    z.with_suffix(".psam").write_bytes(prefix.with_suffix(".psam").read_bytes())
    (tmp_path / "z.pvar.zst").write_bytes(b"(\xb5/\xfd")
    with pytest.raises(InputError, match=r"\.pvar\.zst is not read"):
        read_pgen(z)
    # a .bed named .pgen, and garbage
    (tmp_path / "e.pgen").write_bytes(b"\x6c\x1b\x01\x00")
    (tmp_path / "e.pvar").write_bytes(prefix.with_suffix(".pvar").read_bytes())
    (tmp_path / "e.psam").write_bytes(prefix.with_suffix(".psam").read_bytes())
    with pytest.raises(InputError, match="PLINK 1 .bed"):
        read_pgen(tmp_path / "e")
    (tmp_path / "e.pgen").write_bytes(b"\x6c\x1b\x10garbage")
    with pytest.raises(InputError, match="e.pgen") as e:
        read_pgen(tmp_path / "e")
    assert "\n" not in str(e.value)


def test_pgen_converts_to_a_cache_that_tracks_all_three_files(wheat_pgen, tmp_path):
    from snpcnn.io.cache import convert, load_cache

    g, prefix = wheat_pgen
    out = convert(prefix.with_suffix(".pgen"), tmp_path / "w.snpcnn")
    c = load_cache(out)
    np.testing.assert_array_equal(np.asarray(c.dosages), g.dosages)
    assert c.report["format"] == "pgen" and "source_changed" not in c.report
    import json

    files = json.loads((out / "meta.json").read_text())["source"]["files"]
    assert [f["path"].rsplit(".", 1)[1] for f in files] == ["pgen", "pvar", "psam"]


def test_pgenlibs_reason_and_a_repeated_iid_read_as_written(wheat_pgen, tmp_path):
    """pgenlib's bytes message printed as "b'PgfiInitPhase1() ...\\n'", and a repeated IID
    in a .psam without FID was named 'IID_IID' (FID_IID) (a checking helper, session 41)."""
    g, prefix = wheat_pgen
    bad = tmp_path / "short"
    for suf in (".pgen", ".psam"):
        bad.with_suffix(suf).write_bytes(prefix.with_suffix(suf).read_bytes())
    pv = prefix.with_suffix(".pvar").read_text().splitlines()
    bad.with_suffix(".pvar").write_text("\n".join(pv[:-5]) + "\n")  # 5 variants fewer
    with pytest.raises(InputError, match=r"cannot open \(PgfiInitPhase1\(\)") as e:
        read_pgen(bad)
    assert "b'" not in str(e.value) and "\\n" not in str(e.value)
    dup = tmp_path / "dup"
    write_pgen_from(g, dup, psam_header="#IID")
    ids = dup.with_suffix(".psam").read_text().splitlines()
    ids = ["#IID"] + [ln.split("\t")[0] for ln in ids[1:]]
    ids[2] = ids[1]
    dup.with_suffix(".psam").write_text("\n".join(ids) + "\n")
    with pytest.raises(InputError, match=rf"sample '{ids[1]}' \(IID\) occurs on lines 2 and 3"):
        read_pgen(dup)


def test_cut_pvar_line_and_ragged_headerless_psam_are_one_line_errors(wheat_pgen, tmp_path):
    """A .pvar cut after a tab ('1<TAB>123<TAB>id<TAB>A<TAB>') and a headerless .psam with
    ragged lines crashed the reader (ValueError from reshape, IndexError; a fuzzer, session
    43)."""
    _, prefix = wheat_pgen
    for ext in ("pgen", "pvar", "psam"):
        shutil.copy(prefix.with_suffix(f".{ext}"), tmp_path / f"x.{ext}")
    pvar = (tmp_path / "x.pvar").read_text().splitlines()
    cut = pvar[-1].rsplit("\t", 1)[0] + "\t"  # the ALT field emptied by a cut
    (tmp_path / "x.pvar").write_text("\n".join(pvar[:-1] + [cut]))
    with pytest.raises(InputError, match=rf"x\.pvar: line {len(pvar)} has 4 columns; expected 5"):
        read_pgen(tmp_path / "x")
    shutil.copy(prefix.with_suffix(".pvar"), tmp_path / "x.pvar")
    psam = (tmp_path / "x.psam").read_text().splitlines()
    (tmp_path / "x.psam").write_text("\n".join(["X0\t" + psam[0][1:]] + psam[1:]) + "\n")
    with pytest.raises(InputError, match=r"x\.psam: line 2 has 2 columns, the first line 3"):
        read_pgen(tmp_path / "x")


def test_pvar_lines_are_checked_one_by_one(tmp_path):
    """A cut line in a .pvar whose INFO holds a space, and a line with a field too many
    balanced by a cut one, were read silently (a review, session 43); a trailing tab is
    still no empty column."""
    from snpcnn.io.pgen import read_pvar

    head = "#CHROM\tPOS\tID\tREF\tALT\tINFO\n"
    (tmp_path / "a.pvar").write_text(head + "1\t10\ts1\tA\tG\tX=a b\n1\t20\ts2\tC\t\t.\n")
    with pytest.raises(InputError, match=r"a\.pvar: line 3: column ALT is empty"):
        read_pvar(tmp_path / "a.pvar")
    head = "#CHROM\tPOS\tID\tREF\tALT\n"
    (tmp_path / "b.pvar").write_text(head + "1\t10\ts1\tA\tG\tEXTRA\n1\t20\ts2\tC\n")
    with pytest.raises(InputError, match=r"b\.pvar: line 2 has 6 columns; expected 5"):
        read_pvar(tmp_path / "b.pvar")
    (tmp_path / "c.pvar").write_text(head + "1\t10\ts1\tA\tG\t\n1\t20\ts2\tC\tT\n")
    assert list(read_pvar(tmp_path / "c.pvar")["alt"]) == ["G", "T"]
