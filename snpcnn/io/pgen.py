"""PLINK 2 genotypes (``.pgen/.pvar/.psam``) -> :class:`~snpcnn.genotypes.Genotypes`, via pgenlib.

Orientation: the dosage counts the **ALT** allele of the .pvar (allele index 1,
pgenlib's default); ``variants.alt`` is ALT and ``variants.ref`` is REF.  A
fileset made by ``plink2 --bfile X --make-pgen`` has REF = A2 and ALT = A1, so
it reads to exactly the container of the PLINK 1 fileset (tested).

Hard calls are read sample-major straight into the final int8 matrix
(``read_range(..., sample_maj=True)``); pgenlib's missing code -9 becomes -1
in place.  Files whose header allows dosages (storage modes 0x03/0x04, or
8-bit variant record types in modes 0x10/0x11) are read through
``read_dosages_range`` instead, a block of variants at a time in float32, and
each dosage ``d`` in [0, 2] becomes ``floor(d + 0.5)``: the nearest of 0, 1, 2
with halves rounded up (0.5 -> 1, 1.5 -> 2); missing stays -1.  Variants
without explicit dosages come back as their hard call either way.  The report
says which path was taken (``dosages``).

Sample ids are the .psam IIDs (``FID_IID`` when IIDs repeat across families,
as for PLINK 1).  A .pvar without a ``#CHROM`` header line is read in .bim
column order.  Multi-allelic variants (ALT with a comma) and compressed
``.pvar.zst`` are refused with a one-line error saying how to convert.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, InputWarning
from snpcnn.genotypes import Genotypes
from snpcnn.io._alloc import empty_int8

__all__ = ["read_pgen", "pgen_paths", "read_pvar", "read_psam", "ROUNDING_RULE"]

ROUNDING_RULE = "floor(dosage + 0.5): nearest of 0/1/2, halves up"
_MAGIC = b"\x6c\x1b"


def pgen_paths(path: str | os.PathLike) -> tuple[Path, Path, Path]:
    """The ``(.pgen, .pvar, .psam)`` paths for a prefix or any one of the three files."""
    from snpcnn.io.plink import fileset_path

    p = Path(path)
    name, given = p.name, ""
    for suf in (".pvar.zst", ".pgen", ".pvar", ".psam"):
        if name.lower().endswith(suf):  # in any case: UP.PGEN names the fileset UP
            name, given = name[: -len(suf)], name[-len(suf) :]
            break
    prefix = p.with_name(name)
    return tuple(fileset_path(prefix, e, given) for e in (".pgen", ".pvar", ".psam"))  # type: ignore[return-value]


def _lines(path: Path, what: str) -> list[str]:
    if not path.exists():
        zst = path.with_name(path.name + ".zst")
        if zst.exists():
            raise InputError(
                f"{zst}: compressed .pvar.zst is not read; decompress it first (`zstd -d "
                f"{zst.name}`) or rewrite the fileset with `plink2 --pfile PREFIX vzs "
                "--make-pgen --out NEW` without vzs"
            )
        raise InputError(f"{path}: no such file; a PLINK 2 fileset needs .pgen, .pvar and .psam")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(f"{what} file {not_utf8(path, exc)}") from None
    if not text.strip():
        raise InputError(f"{path}: empty {what} file")
    from snpcnn.io._checks import warn_if_no_final_newline

    warn_if_no_final_newline(path, text)
    return text.splitlines()


def read_psam(path: str | os.PathLike) -> pd.DataFrame:
    """Read a .psam (or .fam) into a table with at least ``fid`` and ``iid`` (strings)."""
    path = Path(path)
    lines = _lines(path, ".psam")
    first = 0
    if lines[0].startswith("#"):
        cols = [c.upper() for c in lines[0][1:].split()]
        first = 1
    else:  # no header: .fam column order
        cols = ["FID", "IID", "PAT", "MAT", "SEX", "PHENO1"]
    if "IID" not in cols:
        raise InputError(
            f"{path}: line 1: the header has no IID column; a .psam needs #IID or #FID IID"
        )
    rows = []
    width = None  # a headerless file's lines must agree with its first one (a fuzzer found
    # ragged lines crashing the reader)
    for i, ln in enumerate(lines[first:], start=first + 1):
        if not ln.strip():
            continue
        parts = ln.split()
        if len(parts) < cols.index("IID") + 1 or (first and len(parts) != len(cols)):
            raise InputError(
                f"{path}: line {i} has {len(parts)} columns; the header names {len(cols)}"
            )
        if not first:  # (.fam order: a 7th column and beyond is not read)
            used = min(len(parts), len(cols))
            width = used if width is None else width
            if used != width:
                raise InputError(
                    f"{path}: line {i} has {len(parts)} columns, the first line {width}; "
                    "give every sample the same columns"
                )
        rows.append(parts[: len(cols)])
    if not rows:
        raise InputError(f"{path}: no samples (only a header)")
    a = np.asarray(rows, dtype=object)
    iid = a[:, cols.index("IID")]
    fid = a[:, cols.index("FID")] if "FID" in cols else iid
    out = pd.DataFrame({"fid": fid, "iid": iid})
    out.attrs["has_fid"] = "FID" in cols
    out.attrs["header"] = bool(first)
    return out


def _reason(exc: BaseException) -> str:
    """pgenlib's reason in one line: it raises with a bytes message, which printed as
    "b'PgfiInitPhase1() ... variants.\\n'" (a checking helper, session 41)."""
    arg = exc.args[0] if len(exc.args) == 1 else str(exc)
    if isinstance(arg, bytes):
        arg = arg.decode("utf-8", "replace")
    return " ".join(str(arg).split())


def _fields(line: str) -> list[str]:
    """A .pvar line's fields: tab-separated where it has tabs (an INFO may hold a space),
    else split on whitespace (.bim style)."""
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    return line.split()


def read_pvar(path: str | os.PathLike) -> pd.DataFrame:
    """Read a .pvar (or .bim-style headerless file) into ``chrom, pos, id, ref, alt[, cm]``."""
    path = Path(path)
    lines = _lines(path, ".pvar")
    k = 0
    while k < len(lines) and lines[k].startswith("##"):
        k += 1
    if k < len(lines) and lines[k].startswith("#CHROM"):
        cols = [c.upper() for c in _fields(lines[k][1:])]
        missing = [c for c in ("CHROM", "POS", "ID", "REF", "ALT") if c not in cols]
        if missing:
            raise InputError(f"{path}: line {k + 1}: the #CHROM header lacks {', '.join(missing)}")
        k += 1
    else:  # .bim order: CHROM ID CM POS ALT REF
        cols = ["CHROM", "ID", "CM", "POS", "ALT", "REF"]
    body = [(i, ln) for i, ln in enumerate(lines[k:], start=k + 1) if ln.strip()]
    if not body:
        raise InputError(f"{path}: no variants")
    text = "\n".join(ln for _, ln in body)
    n = len(cols)

    def check(i: int, fields: list[str]) -> None:
        if len(fields) != n:
            raise InputError(f"{path}: line {i} has {len(fields)} columns; expected {n}")
        if "" in fields:  # 'x\t\tA' (a cut line ends so): split() lost it (a fuzzer)
            raise InputError(
                f"{path}: line {i}: column {cols[fields.index('')]} is empty; write '.' "
                "for a missing value, or re-export the file if the line was cut"
            )

    if " " in text and "\t" in text:  # tab-separated, and a field may hold a space
        tokens = []
        for i, ln in body:  # each line checked: nothing else would see a cut one here
            fields = _fields(ln.rstrip())  # (a trailing tab is no empty last column)
            check(i, fields)
            tokens += fields
    else:
        tokens = text.split()
        # per line, as the whole count can balance (a line with a field too many and a cut
        # one read as shifted rows; a review, session 43): tab counts, cheap per line
        tabbed = "\t" in text
        if len(tokens) != n * len(body) or (
            tabbed and any(ln.rstrip().count("\t") != n - 1 for _, ln in body)
        ):
            for i, ln in body:
                check(i, _fields(ln.rstrip()))
    a = np.asarray(tokens, dtype=object).reshape(len(body), n)
    col = {c: a[:, j] for j, c in enumerate(cols)}
    try:
        pos = col["POS"].astype(np.int64)
    except (ValueError, OverflowError):
        j = next(j for j, v in enumerate(col["POS"]) if not str(v).lstrip("-").isdigit())
        raise InputError(
            f"{path}: line {body[j][0]}: POS '{col['POS'][j]}' is not an integer"
        ) from None
    alt = col["ALT"]
    multi = np.flatnonzero([("," in str(v)) for v in alt])
    if len(multi):
        j = int(multi[0])
        raise InputError(
            f"{path}: line {body[j][0]}: variant {col['ID'][j]} has {str(alt[j]).count(',') + 1} "
            f"ALT alleles ({len(multi)} multi-allelic variants); snpcnn reads biallelic PLINK 2 "
            "files only: split or drop them with `plink2 --pfile PREFIX --max-alleles 2 "
            "--make-pgen --out NEW`"
        )
    out = pd.DataFrame(
        {
            "chrom": col["CHROM"].astype(str),
            "pos": pos,
            "id": col["ID"].astype(str),
            "ref": col["REF"].astype(str),
            "alt": np.where(alt == ".", "", alt).astype(str),
        }
    )
    if "CM" in col:
        out["cm"] = pd.to_numeric(pd.Series(col["CM"]), errors="coerce").to_numpy()
    return out


def _may_have_dosages(pgen: Path) -> bool:
    """From the .pgen header: can any variant record carry dosages?"""
    with open(pgen, "rb") as fh:
        head = fh.read(12)
    if len(head) < 3 or head[:2] != _MAGIC:
        raise InputError(
            f"{pgen}: not a PLINK 2 .pgen file (magic bytes {head[:3].hex()}); check the path"
        )
    mode = head[2]
    if mode in (0x01, 0x00):
        raise InputError(
            f"{pgen}: this is a PLINK 1 .bed file named .pgen; rename it .bed (with .bim/.fam)"
        )
    if mode in (0x03, 0x04):
        return True
    if mode in (0x10, 0x11) and len(head) >= 12:
        return (head[11] & 0x0F) >= 4  # 8-bit variant record types: phase/dosage possible
    return False


def read_pgen(path: str | os.PathLike, *, block_variants: int | None = None) -> Genotypes:
    """Read a PLINK 2 fileset (prefix, or the path of any of its three files).

    Parameters
    ----------
    path : path-like
        ``data`` or ``data.pgen`` (or ``.pvar``/``.psam``).
    block_variants : int, optional
        Variants per block on the dosage path (default: about 32 MiB of float32).

    Returns
    -------
    Genotypes
        Dosage = copies of ALT (``variants.alt``); the report says whether
        hard calls or rounded dosages were read.
    """
    import pgenlib

    pgen_p, pvar_p, psam_p = pgen_paths(path)
    if Path(path).name.endswith(".pvar.zst"):
        _lines(pvar_p, ".pvar")  # raises the .zst message
    if not pgen_p.exists():
        raise InputError(f"{pgen_p}: no such file; give a PLINK 2 prefix or the .pgen path")
    if pgen_p.stat().st_size == 0:
        raise InputError(f"{pgen_p}: empty file (0 bytes); expected a PLINK 2 .pgen")
    dosage_mode = _may_have_dosages(pgen_p)
    psam = read_psam(psam_p)
    pvar = read_pvar(pvar_p)
    n_smp, n_var = len(psam), len(pvar)
    try:
        reader = pgenlib.PgenReader(bytes(pgen_p), raw_sample_ct=n_smp, variant_ct=n_var)
    except Exception as exc:  # pgenlib raises RuntimeError with the reason
        msg = _reason(exc)
        raise InputError(
            f"{pgen_p}: cannot open ({msg}); the .pgen must hold the {n_smp} samples of "
            f"{psam_p.name} and the {n_var} variants of {pvar_p.name}"
        ) from None
    report: dict = {"format": "pgen"}
    try:
        out = empty_int8((n_smp, n_var))
        if not dosage_mode:
            reader.read_range(0, n_var, out, sample_maj=True)
            np.maximum(out, -1, out=out)  # pgenlib's missing (-9) -> -1, in place
            report["dosages"] = "hard calls"
        else:
            step = block_variants or int(np.clip((32 << 20) // (4 * max(n_smp, 1)), 1, 65536))
            buf = np.empty((min(step, n_var), n_smp), dtype=np.float32)
            for j in range(0, n_var, step):
                k = min(step, n_var - j)
                b = buf[:k]
                reader.read_dosages_range(j, j + k, b)
                miss = b < 0
                np.floor(b + 0.5, out=b)
                b[miss] = -1
                out[:, j : j + k] = b.T.astype(np.int8)
            report["dosages"] = f"dosages rounded ({ROUNDING_RULE})"
    except InputError:
        raise
    except Exception as exc:
        msg = _reason(exc)
        raise InputError(
            f"{pgen_p}: cannot read the genotypes ({msg}); the file is damaged"
        ) from None
    finally:
        reader.close()

    from snpcnn.io._checks import repeated_sample

    iid = psam["iid"].astype(str)
    fid = psam["fid"].astype(str)
    if iid.duplicated().any() and not psam.attrs.get("has_fid", True):
        # no FID column: the IID itself is repeated (it was named 'IID_IID' as if FID_IID)
        raise InputError(repeated_sample(psam_p, iid, "IID", psam.attrs.get("header", False)))
    if iid.duplicated().any():
        ids = fid + "_" + iid
        if ids.duplicated().any():
            raise InputError(
                repeated_sample(psam_p, ids, "FID_IID", psam.attrs.get("header", False))
            )
        report["sample_ids"] = "FID_IID (IIDs repeat across families)"
        samples = ids.to_numpy()
    else:
        samples = iid.to_numpy()

    from snpcnn.io._checks import unsorted_at, warn_duplicates

    bad = unsorted_at(pvar)
    if bad is not None:
        v = pvar
        warnings.warn(
            f"{pvar_p}: variant {v['id'].iloc[bad]} at {v['chrom'].iloc[bad]}:{v['pos'].iloc[bad]}"
            f" comes after {v['chrom'].iloc[bad - 1]}:{v['pos'].iloc[bad - 1]}; the variants are "
            "used in file order, which feeds the convolutions: sort the fileset with `plink2 "
            "--pfile PREFIX --sort-vars --make-pgen --out SORTED`",
            InputWarning,
            stacklevel=2,
        )
        report["unsorted"] = True
    report.update(
        warn_duplicates(
            pvar_p,
            pvar,
            id_fix="e.g. `plink2 --pfile PREFIX --set-all-var-ids '@:#:$r:$a' --make-pgen`",
            pos_fix="drop them with `plink2 --pfile PREFIX --rm-dup exclude-all --make-pgen`",
        )
    )
    name = pgen_p.name[: -len(".pgen")]
    return Genotypes(out, samples, pvar, source=str(pgen_p.with_name(name)), report=report)
