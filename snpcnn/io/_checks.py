"""Checks shared by the genotype readers: variant order and duplicated ids or positions.

None of these change a value silently: an unsorted file is either sorted with a
warning that says so (VCF) or read in file order with a warning (PLINK), and
duplicates are reported with their number and examples.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

from snpcnn.errors import InputWarning

__all__ = [
    "unsorted_at",
    "sort_order",
    "warn_duplicates",
    "not_utf8",
    "strip_ids",
    "repeated_sample",
    "N_EXAMPLES",
]

N_EXAMPLES = 3


def _chrom_codes(chrom: pd.Series) -> np.ndarray:
    """Each chromosome's rank in order of first appearance."""
    codes, _ = pd.factorize(chrom.astype(str), sort=False)
    return codes.astype(np.int64)


def unsorted_at(variants: pd.DataFrame) -> int | None:
    """Index of the first variant that is out of order (None if the order is sorted).

    Sorted means: the records of each chromosome are contiguous and their
    positions do not decrease.  Positions 0 (unknown, PLINK) are ignored.
    """
    if len(variants) < 2 or "pos" not in variants or "chrom" not in variants:
        return None
    codes = _chrom_codes(variants["chrom"])
    pos = variants["pos"].to_numpy(dtype=np.int64)
    back = np.flatnonzero(np.diff(codes) < 0)  # a chromosome that comes back later
    same = np.diff(codes) == 0
    known = (pos[:-1] > 0) & (pos[1:] > 0)
    down = np.flatnonzero(same & known & (np.diff(pos) < 0))
    firsts = [int(a[0]) + 1 for a in (back, down) if len(a)]
    return min(firsts) if firsts else None


def sort_order(variants: pd.DataFrame) -> np.ndarray:
    """Stable order by chromosome (in order of first appearance), then position."""
    codes = _chrom_codes(variants["chrom"])
    pos = variants["pos"].to_numpy(dtype=np.int64)
    return np.lexsort((np.arange(len(pos)), pos, codes))


def repeated_sample(path, ids: pd.Series, label: str, header: bool = False) -> str:
    """One line naming the first repeated sample id of a .fam/.psam and both of its lines.

    ``ids`` holds one id per data row, in file order; blank lines are skipped when
    counting rows, as the readers skip them, and ``header`` says whether the file's
    first non-blank line is a ``#`` header.  (A checking helper, session 49: the
    message named the id but not where it was.)
    """
    dup = ids.duplicated()
    j = int(np.flatnonzero(dup.to_numpy())[0])
    value = ids.iloc[j]
    i = int(np.flatnonzero((ids == value).to_numpy())[0])
    lines = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [k + 1 for k, ln in enumerate(fh) if ln.strip()]
    except OSError:
        pass
    if header:
        lines = lines[1:]
    where = f"lines {lines[i]} and {lines[j]}" if len(lines) > j else f"rows {i + 1} and {j + 1}"
    return (
        f"{path}: sample '{value}' ({label}) occurs on {where}; sample ids must be unique: "
        "remove or rename one of them"
    )


def _examples(values: pd.Series) -> str:
    ex = list(dict.fromkeys(values.astype(str)))[:N_EXAMPLES]
    return ", ".join(f"'{e}'" for e in ex)


def warn_duplicates(source, variants: pd.DataFrame, id_fix: str, pos_fix: str) -> dict:
    """Warn (one line each) about repeated variant ids and repeated chrom:pos; return counts."""
    out: dict = {}
    ids = variants["id"].astype(str)
    dup_id = ids[ids.duplicated(keep=False)]
    if len(dup_id):
        n = int(ids.duplicated().sum())
        out["duplicate_ids"] = n
        warnings.warn(
            f"{source}: {n} variant(s) repeat an ID already used (e.g. {_examples(dup_id)}); "
            f"predictions match SNPs by ID, so make the IDs unique ({id_fix})",
            InputWarning,
            stacklevel=3,
        )
    if "pos" in variants and "chrom" in variants:
        pos = variants["pos"].to_numpy(dtype=np.int64)
        # cheap test first (chromosome code and position as one integer); strings for the
        # message only when something repeats
        known = pos > 0
        num = _chrom_codes(variants["chrom"])[known] * (1 << 40) + pos[known]
        repeated = len(num) and bool(pd.Series(num).duplicated().any())
        key = (
            variants["chrom"].astype(str) + ":" + variants["pos"].astype(str) if repeated else None
        )
        key = key[known] if repeated else pd.Series([], dtype=object)
        dup_pos = key[key.duplicated(keep=False)]
        if len(dup_pos):
            n = int(key.duplicated().sum())
            out["duplicate_positions"] = n
            warnings.warn(
                f"{source}: {n} record(s) repeat a chrom:pos already used (e.g. "
                f"{_examples(dup_pos)}); both are kept; if they are a split multi-allelic site "
                f"or repeated records, {pos_fix}",
                InputWarning,
                stacklevel=3,
            )
    return out


def file_head(path, n: int) -> bytes:
    """The first ``n`` bytes of ``path``, decompressed where it is gzip/BGZF; ``b""`` where it
    cannot be read (the readers say why). Format sniffing reads only this."""
    import gzip
    import zlib

    try:
        with open(path, "rb") as fh:
            head = fh.read(n)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                head = fh.read(n)
    except (OSError, EOFError, zlib.error):
        return b""
    return head


def warn_if_no_final_newline(path, text: str | bytes | None = None) -> bool:
    """Warn when a plain text file does not end with a line break (it may be cut short).

    ``text``: the file's content when already read; else the last byte is read
    (gzip files are skipped: a cut gzip stream fails on its own).
    """
    from pathlib import Path

    p = Path(path)
    if text is None:
        try:
            with open(p, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b":
                    return False
                fh.seek(0, 2)
                size = fh.tell()
                if size == 0:
                    return False
                fh.seek(size - 1)
                last = fh.read(1)
                fh.seek(0)
                n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        except OSError:
            return False
        cut = last not in (b"\n", b"\r")
    else:
        nl = "\n" if isinstance(text, str) else b"\n"
        cr = "\r" if isinstance(text, str) else b"\r"
        if not text or not text.strip():
            return False
        cut = not (text.endswith(nl) or text.endswith(cr))
        n_lines = text.count(nl)
    if cut:
        warnings.warn(
            f"{p}: the last line (line {n_lines + 1}) does not end with a line break; if the "
            "file was cut short, that line's values are incomplete: check it, or add the final "
            "line break to silence this",
            InputWarning,
            stacklevel=3,
        )
    return cut


_ZIP_FIX = {
    "a saved Keras model (model.keras)": (
        "a fitted model goes to `snpcnn predict MODEL GENOTYPES` or `snpcnn explain`, "
        "and a table here must be a CSV/TSV"
    ),
    "an Excel workbook": "export the sheet as 'CSV UTF-8' first",
    "an OpenDocument spreadsheet": "export the sheet as 'CSV UTF-8' first",
    "a zip archive": "unzip it and give the CSV/TSV inside",
}


def _zip_kind(path) -> str | None:
    """What a zip file is, by its members: a Keras model, a spreadsheet, or another archive
    (None where it is no readable zip)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "a saved Keras model (model.keras)"
    if "xl/workbook.xml" in names:
        return "an Excel workbook"
    if "content.xml" in names and "mimetype" in names:
        return "an OpenDocument spreadsheet"
    return "a zip archive"


def not_utf8(path, exc: UnicodeDecodeError | None = None) -> str:
    """A one-line message for a text file that is not UTF-8: the file, the line of the first
    byte that is not UTF-8, and the fix (read again, as bytes, to find the line)."""
    import gzip
    from pathlib import Path

    path = Path(path)
    where, byte = "", None
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            data = fh.read()
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        where = f" line {line}"
        byte = data[err.start]
    except (OSError, EOFError):
        pass
    if byte is None and exc is not None and exc.start < len(exc.object):
        byte = exc.object[exc.start]
    what = f" (byte 0x{byte:02x})" if byte is not None else ""
    zipped = ""
    if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
        zipped = "; a spreadsheet must be exported as CSV first"
    head = b""
    with contextlib.suppress(OSError):
        with open(path, "rb") as fh:
            head = fh.read(2)
    zip_kind = _zip_kind(path) if head == b"PK" else None
    if zip_kind:  # a model.keras given as the phenotypes read "not UTF-8 text" (session 43)
        return f"{path}: {zip_kind}, not a text table; {_ZIP_FIX[zip_kind]}"
    if head in (b"\xff\xfe", b"\xfe\xff"):
        # Excel's "Unicode Text": the latin1 advice made a file of NUL bytes (a checking
        # helper, session 41)
        return (
            f"{path}: UTF-16 text (Excel's 'Unicode Text'), not UTF-8; save the file as "
            "'CSV UTF-8', or `iconv -f UTF-16 -t UTF-8 FILE > NEW`"
        )
    return (
        f"{path}{where}: not UTF-8 text{what}{zipped}; save the file as UTF-8 (a spreadsheet: "
        "'CSV UTF-8'; or `iconv -f latin1 -t utf-8 FILE > NEW`)"
    )


def strip_ids(source, samples: np.ndarray, stacklevel: int = 4) -> np.ndarray:
    """Sample ids without surrounding blanks, with one warning where any had them (a
    phenotype table's ids are stripped too, so ' 775' would otherwise never join '775')."""
    samples = np.asarray(["" if not isinstance(s, str) else s for s in samples], dtype=object)
    stripped = np.asarray([s.strip() for s in samples], dtype=object)
    changed = np.flatnonzero(stripped != samples)
    if len(changed):
        warnings.warn(
            f"{source}: {len(changed)} sample id(s) have surrounding spaces, which were "
            f"removed (e.g. '{samples[changed[0]]}' -> '{stripped[changed[0]]}'); remove them "
            "from the file to silence this",
            InputWarning,
            stacklevel=stacklevel,
        )
    return stripped
