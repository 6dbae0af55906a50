"""Numeric genotype matrices in CSV/TSV text -> :class:`~snpcnn.genotypes.Genotypes`.

Layout: one row per sample; the first column holds the sample id, the header
row names the SNPs (the first header cell, e.g. ``sample_id``, is ignored).
The delimiter (tab, comma, semicolon or whitespace) is detected from the header
line; ``.gz`` files are decompressed on the fly.  Missing values are empty cells
or ``NA``; any other value outside the coding is an error naming the sample,
the SNP and the value.

Coding
------
``coding="012"``
    values are dosages 0, 1, 2 of the counted allele.
``coding="01"``
    presence/absence (DArT-style) markers of inbred lines: 0 -> 0, 1 -> 2,
    i.e. homozygous for the absent/present allele, exactly how the shipped
    wheat VCF and PLINK files code the same markers; a 2 is an error.
``coding="-101"``
    the -1/0/1 coding of rrBLUP's ``A.mat`` and of many R pipelines: -1 -> 0, 0 -> 1,
    1 -> 2 (missing: empty or ``NA`` only, never -1).
``coding="auto"`` (default)
    ``012``, unless no value in the whole file is 2 while some are 1: then the
    file is taken as ``01``, the load report says ``coding=01 (auto: no value is 2)``
    and an :class:`~snpcnn.errors.InputWarning` says how to force ``012`` (a 0/1/2
    table without a 2 is read so too).  Pass the coding explicitly to be sure.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, opt
from snpcnn.genotypes import Genotypes

__all__ = ["read_table", "CODINGS", "sniff_delimiter"]

CODINGS = ("auto", "012", "01", "-101")
_NA = ["", "NA"]
_DELIMS = {"\t": "tab", ",": "comma", ";": "semicolon"}


def warn_auto_01(source, stacklevel: int = 3) -> None:
    """Say that ``coding="auto"`` read a table as 0/1 presence/absence (every 1 became dosage
    2): a 0/1/2 table without a 2 (rare SNPs, a small batch) is read so too, and its
    heterozygotes become homozygotes without any other sign."""
    import warnings

    from snpcnn.errors import InputWarning

    warnings.warn(
        f"{source}: {opt('coding', 'auto')} read as 0/1 presence/absence because no value is 2 "
        "(every 1 became dosage 2); if the table holds 0/1/2 dosages (rare SNPs or a small "
        f"batch can lack a 2), its 1s are heterozygotes: pass {opt('coding', '012')} "
        f"({opt('coding', '01')} to silence this)",
        InputWarning,
        stacklevel=stacklevel,
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path: Path):
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: tab, comma, semicolon, else whitespace (``\\s+``)."""
    for d in _DELIMS:
        if d in header:
            return d
    return r"\s+"


def _split(line: str, sep: str) -> list[str]:
    """The cells of ``line``, with CSV quoting honoured as pandas honours it in the data rows
    (R's ``write.csv`` quotes every header cell and id: ``"","s1"`` / ``"A",0``)."""
    if '"' not in line:
        return line.split() if sep == r"\s+" else line.split(sep)
    import csv

    if sep == r"\s+":
        return [c[1:-1] if len(c) > 1 and c[0] == c[-1] == '"' else c for c in line.split()]
    return next(csv.reader([line], delimiter=sep), [])


def _trailing_field(path: Path, sep: str, first_row: str | None, n_header: int) -> bool:
    """Whether the data rows end with a delimiter (one more field than the header, the last
    one empty).  A first row with more values is an error here: pandas would shift its
    columns (or drop the value) without a word."""
    if first_row is None:
        return False
    cells = _split(first_row, sep)
    if len(cells) <= n_header:  # short rows are found and named after the read
        return False
    sample = cells[0].strip() if cells else ""
    if len(cells) == n_header + 1 and not cells[-1].strip():
        return True
    raise InputError(
        f"{path}: line 2 (sample '{sample}') has {len(cells) - 1} values but the header has "
        f"{n_header - 1} SNP ids; every row needs a sample id and one value per SNP"
    )


def _first_bad_cell(path: Path, sep: str, allowed: set[int]) -> tuple:
    """Slow path (errors only): locate the first cell that is neither missing nor allowed."""
    with _open_text(path) as fh:
        header = _split(fh.readline().rstrip("\r\n"), sep)
        for line in fh:
            cells = _split(line.rstrip("\r\n"), sep)
            for name, value in zip(header[1:], cells[1:]):
                v = value.strip()
                if v in _NA:
                    continue
                try:
                    f = float(v)
                except ValueError:
                    return cells[0], name, value
                if not (f.is_integer() and int(f) in allowed):
                    return cells[0], name, value
    return None, None, None


def _n_fields(line: str, sep: str) -> int:
    if sep == r"\s+":
        return len(line.split())
    if '"' in line:
        import csv

        return len(next(csv.reader([line], delimiter=sep)))
    return line.count(sep) + 1


def _check_short_rows(path: Path, sep: str, n_snps: int, rows: set[int]) -> None:
    """pandas pads a row with too few values with missing cells: refuse such a row.

    ``rows`` are the data rows (0-based, blank lines skipped as pandas does)
    that hold a missing value; only those are looked at again.
    """
    last = max(rows)
    with _open_text(path) as fh:
        fh.readline()
        k = -1
        for line_no, line in enumerate(fh, start=2):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            k += 1
            if k in rows:
                n = _n_fields(text, sep) - 1
                if n < n_snps:
                    sample = _split(text, sep)[0].strip()
                    raise InputError(
                        f"{path}: line {line_no} (sample '{sample}') has {n} value(s) but the "
                        f"header names {n_snps} SNPs; the row was cut short or lost delimiters: "
                        "give every SNP a cell (leave it empty or NA for missing)"
                    )
            if k >= last:
                return


def _check_ids(path: Path, samples: np.ndarray) -> None:
    """Sample ids must be non-empty; surrounding blanks are removed with a warning."""

    from snpcnn.io._checks import strip_ids

    stripped = strip_ids(path, samples)  # an NA id becomes ""
    samples[:] = stripped
    empty = np.flatnonzero(np.isin([s.upper() for s in stripped], ["", "NA", "NAN"]))
    if len(empty):
        raise InputError(
            f"{path}: data row {int(empty[0]) + 1} below the header has an empty or NA sample id; every row needs "
            "an id in the first column"
        )
    seen: dict[str, int] = {}
    for i, sid in enumerate(stripped):
        if sid in seen:
            hint = (
                " (an id like a dosage: does the file lack its first column of sample ids?)"
                if sid in ("0", "1", "2")
                else ""
            )
            raise InputError(
                f"{path}: sample id '{sid}' is on data rows {seen[sid] + 1} and {i + 1}; give "
                f"each sample one row{hint}"
            )
        seen[sid] = i


def read_table(
    path: str | os.PathLike,
    *,
    coding: str = "auto",
    sep: str | None = None,
    chunk_rows: int | None = None,
) -> Genotypes:
    """Read a samples x SNPs numeric matrix (CSV/TSV, optionally gzipped).

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.tsv``, ``.txt``, each optionally ``.gz``.
    coding : {"auto", "012", "01", "-101"}
        How values map to dosages (see the module docstring).
    sep : str, optional
        Delimiter; detected from the header line when None.
    chunk_rows : int, optional
        Rows parsed at a time (default: about 64 MiB of float32 per chunk).

    Returns
    -------
    Genotypes
        ``variants`` has the SNP ids from the header; chromosome, position and
        alleles are unknown (``"0"``, 0, ``""``).

    Examples
    --------
    >>> g = read_table("example_data/wheat_X_dart01.csv.gz", coding="01")  # doctest: +SKIP
    >>> int(g.dosages.max())  # doctest: +SKIP
    2
    """
    path = Path(path)
    if coding not in CODINGS:
        raise InputError(
            f"invalid value for `coding`: {coding!r}; choose one of {', '.join(CODINGS)}"
        )
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    try:
        with _open_text(path) as fh:
            header_line = fh.readline().rstrip("\r\n")
            first_row = next((ln.rstrip("\r\n") for ln in fh if ln.strip()), None)
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(not_utf8(path, exc)) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as text ({exc})") from None
    if not header_line.strip():
        raise InputError(f"{path}: empty file; expected a header row of SNP ids")
    sep = sep or sniff_delimiter(header_line)
    header = [h.strip() for h in _split(header_line, sep)]
    if len(header) > 2 and header[-1] == "":
        header = header[:-1]  # a delimiter at the end of the header (spreadsheet exports)
    if [h.upper() for h in header[:6]] == ["FID", "IID", "PAT", "MAT", "SEX", "PHENOTYPE"]:
        # PLINK's `--recode A` export: five columns of pedigree and phenotype before the SNPs
        # (read as SNPs, with FID as the id: "SNP 'IID': value '775' is not 0/1/2"; a
        # checking helper, session 45)
        raise InputError(
            f"{path}: a PLINK --recode A (.raw) file, whose first six columns are FID IID PAT "
            "MAT SEX PHENOTYPE; give snpcnn the .bed/.bim/.fam it came from, or keep only IID "
            "and the SNP columns (drop columns 1 and 3-6; for a space-separated file: cut "
            "-d' ' -f2,7- FILE.raw > genotypes.txt); the values count the allele after each "
            "SNP id's last '_'"
        )
    snp_ids = header[1:]
    for k, s in enumerate(snp_ids):
        if not s:
            raise InputError(
                f"{path}: header column {k + 2} has no SNP id; every column after the sample "
                "id needs one (remove the empty column or name it)"
            )
    trailing = _trailing_field(path, sep, first_row, len(header))
    if not snp_ids:
        raise InputError(
            f"{path}: the header has a single column; expected a sample-id column then one "
            "column per SNP (delimiters tried: tab, comma, semicolon, whitespace)"
        )
    seen: set[str] = set()
    for s in snp_ids:
        if s in seen:
            raise InputError(
                f"{path}: SNP id '{s}' appears twice in the header; ids must be unique"
            )
        seen.add(s)

    allowed = {0, 1} if coding == "01" else {-1, 0, 1} if coding == "-101" else {0, 1, 2}
    shift = 1 if coding == "-101" else 0  # -1/0/1 -> dosages 0/1/2
    names = ["__sample__", *[f"c{i}" for i in range(len(snp_ids))]]
    dtypes = {n: np.float32 for n in names[1:]}
    dtypes["__sample__"] = str
    if trailing:  # every row ends with a delimiter: an empty last field, checked below
        names.append("__trailing__")
        dtypes["__trailing__"] = str
    rows = chunk_rows or max(1, (64 << 20) // (4 * len(snp_ids)))
    blocks: list[np.ndarray] = []
    sample_parts: list[np.ndarray] = []
    n_ones = n_twos = 0
    short_candidates: list[int] = []
    n_rows_done = 0
    try:
        reader = pd.read_csv(
            path,
            sep=sep,
            header=0,
            names=names,
            dtype=dtypes,
            keep_default_na=False,
            na_values={n: _NA for n in names[1:]},  # a sample id "NA" stays text
            engine="c",
            index_col=False,  # never take the first column as the index (shifted rows)
            chunksize=rows,
            compression="gzip" if _is_gzip(path) else None,
            skipinitialspace=True,
        )
        with reader:
            for df in reader:
                if trailing:
                    extra = df.pop("__trailing__").fillna("").astype(str).str.strip()
                    if (extra != "").any():
                        at = int(np.flatnonzero((extra != "").to_numpy())[0])
                        raise InputError(
                            f"{path}: sample '{df['__sample__'].iloc[at]}' has "
                            f"{len(snp_ids) + 1} values but the header has {len(snp_ids)} "
                            "SNP ids; every row needs a sample id and one value per SNP"
                        )
                sample_parts.append(df["__sample__"].astype(str).to_numpy(dtype=object))
                x = df.iloc[:, 1:].to_numpy(dtype=np.float32)
                del df
                nan = np.isnan(x)
                gaps = np.flatnonzero(nan.any(axis=1))
                if len(gaps):  # a short row is padded with NaN by pandas: check later
                    short_candidates.extend((n_rows_done + gaps).tolist())
                n_rows_done += len(x)
                bad = ~nan & ~np.isin(x, list(allowed))
                if bad.any():
                    raise ValueError("value outside the coding")
                block = np.where(nan, -1, x + shift).astype(np.int8)
                n_ones += int(np.count_nonzero(block == 1))
                n_twos += int(np.count_nonzero(block == 2))
                blocks.append(block)
    except InputError:
        raise
    except (ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            from snpcnn.io._checks import not_utf8

            raise InputError(not_utf8(path, exc)) from None
        if isinstance(exc, pd.errors.ParserError):
            msg = str(exc).strip().splitlines()[-1]
            raise InputError(
                f"{path}: malformed table ({msg}); every row needs a sample id and "
                f"{len(snp_ids)} values"
            ) from None
        try:
            sample, snp, value = _first_bad_cell(path, sep, allowed)
        except (OSError, EOFError, UnicodeDecodeError) as exc2:
            raise InputError(f"{path}: cannot read as text ({exc2})") from None
        if sample is None:
            raise InputError(f"{path}: cannot parse the table ({exc})") from None
        codes = "/".join(str(a) for a in sorted(allowed))
        hint = (
            f"; a -1/0/1 matrix (rrBLUP's coding): {opt('coding', '-101')}; if -1 marks a "
            "missing call, write NA or leave the cell empty"
            if str(value).strip() in ("-1", "-1.0") and coding != "-101"
            else ""
        )
        raise InputError(
            f"{path}: sample '{sample}', SNP '{snp}': value '{value}' is not {codes} or "
            f"missing (empty or NA); fix the cell or choose another {opt('coding')}{hint}"
        ) from None
    if not blocks or sum(len(b) for b in blocks) == 0:
        raise InputError(f"{path}: no sample rows after the header")
    from snpcnn.io._checks import warn_if_no_final_newline

    warn_if_no_final_newline(path)
    if short_candidates:
        _check_short_rows(path, sep, len(snp_ids), set(short_candidates))
    dosages = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    samples = np.concatenate(sample_parts)
    _check_ids(path, samples)

    used = coding
    if coding == "auto":
        used = "01 (auto: no value is 2)" if (n_twos == 0 and n_ones > 0) else "012"
        n_called = int(np.count_nonzero(dosages >= 0))
        if 0 < n_twos <= max(1, n_called // 1000) and n_ones > 100 * n_twos:
            import warnings

            from snpcnn.errors import InputWarning

            r, c = np.argwhere(dosages == 2)[0]
            warnings.warn(
                f"{path}: {opt('coding', 'auto')} chose 012 because {n_twos} cell(s) are 2 (e.g. sample "
                f"'{str(np.concatenate(sample_parts)[r]).strip()}', SNP '{snp_ids[c]}'), but "
                f"that is only {n_twos} of {n_called:,} calls and {n_ones:,} are 1: if this is "
                "0/1 presence/absence data those cells are errors and every 1 should be read "
                f"as dosage 2; pass {opt('coding', '01')} (a 2 is then refused) or "
                f"{opt('coding', '012')} to be sure",
                InputWarning,
                stacklevel=2,
            )
    if coding == "-101" and not (dosages == 0).any():
        import warnings

        from snpcnn.errors import InputWarning

        warnings.warn(
            f"{path}: {opt('coding', '-101')} but no value is -1: if this is a 0/1/2 file, every "
            f"value moved up by one; pass {opt('coding', '012')}",
            InputWarning,
            stacklevel=2,
        )
    if used == "01" or used.startswith("01 "):  # "01" or "01 (auto: ...)", never "012"
        dosages[dosages == 1] = 2
    if used.startswith("01 (auto"):
        warn_auto_01(path)
    variants = pd.DataFrame({"id": snp_ids})
    report = {
        "format": "table",
        "delimiter": _DELIMS.get(sep, "whitespace" if sep == r"\s+" else repr(sep)),
        "coding": used,
    }
    return Genotypes(dosages, samples, variants, source=str(path), report=report)


def table_coding(genotypes) -> str | None:
    """How a CSV/TSV genotype table was read (``"012"``, ``"01"`` or ``"-101"``, also where
    ``coding="auto"`` chose it), or None for VCF, PLINK and other formats. The saved model
    records it, so that a new table (a small batch may lack any 2, which ``auto`` would
    read as 0/1) is read the same way (a checking helper, session 38)."""
    report = getattr(genotypes, "report", None)
    coding = report.get("coding") if isinstance(report, dict) else None
    if not isinstance(coding, str) or not coding:
        return None
    return "01" if coding.startswith("01 ") else coding
