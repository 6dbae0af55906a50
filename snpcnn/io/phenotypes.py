"""Phenotype and covariate tables, and their alignment with genotypes by sample id.

Formats read by :func:`read_phenotypes`:

* delimited text (CSV, TSV, semicolon- or whitespace-separated; optionally gzipped) with a
  header line.  The delimiter is detected from the first line unless ``sep`` is given.
* PLINK phenotype/covariate files (``FID IID trait ...``): whitespace separated, the header
  line (``FID IID ...`` or ``#FID IID ...``) is optional, ``-9`` means missing.

Sample ids are always read as text (``'0775'`` stays ``'0775'``).  Trait values must be
numbers; empty cells, ``NA``, ``NaN`` (any case), ``N/A``, ``#N/A`` (Excel) and ``.`` are missing.

:func:`align` joins a :class:`~snpcnn.genotypes.Genotypes` with a :class:`Phenotypes` by sample
id, never by row order, and reports what matched.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, InputWarning, opt

__all__ = [
    "Phenotypes",
    "Alignment",
    "AlignmentWarning",
    "read_phenotypes",
    "align",
    "MISSING_TOKENS",
    "ID_COLUMN_NAMES",
]

#: Cell values read as missing (compared case-insensitively after stripping blanks).
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "#n/a", "."})  # #N/A: Excel
#: Column names recognised as the sample-id column, in order of preference (any case).
ID_COLUMN_NAMES = ("sample_id", "iid", "id")
#: Extra missing value in PLINK-style files.
PLINK_MISSING = "-9"
_PLINK_SUFFIXES = (".pheno", ".phen", ".phe", ".cov", ".covar", ".fam")
#: the columns of a PLINK 1 .fam file (no header); only the last is a trait
FAM_COLUMNS = ("FID", "IID", "father", "mother", "sex", "phenotype")
_SEP_NAMES = {
    ",": ",",
    "comma": ",",
    "\t": "\t",
    "tab": "\t",
    ";": ";",
    "semicolon": ";",
    " ": None,
    "whitespace": None,
    r"\s+": None,
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_N_EXAMPLES = 5


class AlignmentWarning(InputWarning):
    """Genotypes and phenotypes overlap poorly (under half of either side matched)."""


def _is_missing(token: str, plink: bool) -> bool:
    t = token.strip().lower()
    return t in MISSING_TOKENS or (plink and t in (PLINK_MISSING, "-9.0"))


_FLOAT_INTEGER = re.compile(r"^([+-]?\d+)\.0*$")


def canonical_level(token: str) -> str:
    """A categorical covariate's level as text, with an integer code written as a float
    (``2.0``, what pandas writes for an integer column with gaps) read as that integer
    (``2``), so that the same code matches in every file."""
    m = _FLOAT_INTEGER.match(token.strip())
    return str(int(m.group(1))) if m else token


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d+)?$")


def _parse_number(token: str) -> float | None:
    """The float value of ``token``, or None if it is not a plain finite number."""
    t = token.strip()
    if not _NUMBER.match(t):
        return None
    v = float(t)
    return v if math.isfinite(v) else None


def _is_infinite(token: str) -> bool:
    """``inf``, ``-Infinity``, ``1e999``: numbers, but not finite ones."""
    t = token.strip().lower().lstrip("+-")
    if t in ("inf", "infinity"):
        return True
    return bool(_NUMBER.match(token.strip())) and not math.isfinite(float(token.strip()))


def _case_variants(token: str) -> set[str]:
    """Every upper/lower-case spelling of an ASCII ``token`` (``na``: na, nA, Na, NA)."""
    out = {""}
    for ch in token:
        out = {o + c for o in out for c in {ch.lower(), ch.upper()}}
    return out


_MISSING_SPELLINGS = frozenset().union(*(_case_variants(t) for t in MISSING_TOKENS))
_PLINK_SPELLINGS = _MISSING_SPELLINGS | {PLINK_MISSING, "-9.0"}
#: blanks a cell may hold around its value (str.strip's, which \s matches)
_INNER_BLANK = re.compile(r"\s")
_NUMBER_CHARS = str.maketrans("", "", "0123456789+-.eE")


def _fast_numbers(tokens: list[str], plink: bool) -> np.ndarray | None:
    """A column of stripped cells as float64 (NaN where missing), vectorised, or None where
    any cell is not a plain finite number or a missing-value token: the cell-by-cell path
    then decides, with its messages.  Same values as that path where both give one: a cell
    of the characters ``0-9+-.eE`` only that Python's ``float`` reads is one the ``_NUMBER``
    pattern matches, and numpy converts a str with ``float``.  The cell-by-cell path took
    16.8 s for 200,000 x 50 (a checking helper, session 45)."""
    arr = np.asarray(tokens, dtype=object)
    if not "".join(tokens).translate(_NUMBER_CHARS):
        # digits and signs only: the missing values can only be empty cells, '.', '-9'
        try:
            values = arr.astype(np.float64)
        except ValueError:
            pass
        else:
            if plink and np.isin(values, (-9.0,)).any():
                pass  # '-9' is missing, '-9.00' is not: the token decides, below
            elif np.isfinite(values).all():
                return values
    miss = pd.Series(arr, dtype=object).isin(_PLINK_SPELLINGS if plink else _MISSING_SPELLINGS)
    miss = miss.to_numpy()
    rest = arr[~miss]
    out = np.full(len(arr), np.nan)
    if len(rest):
        if "".join(rest).translate(_NUMBER_CHARS):
            return None
        try:
            values = rest.astype(np.float64)
        except ValueError:  # '1e', '+-1', '1.2.3'
            return None
        if not np.isfinite(values).all():  # '1e999'
            return None
        out[~miss] = values
    return out


def _rstrip_empty(cells: list[str]) -> list[str]:
    """``cells`` without its empty cells at the end."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _genotype_kind(path: Path) -> str | None:
    """The genotype format ``path`` holds, where it is one (a VCF, BCF, PLINK .bed/.pgen or
    a snpcnn cache), else None: given where a phenotype table belongs (the arguments of
    ``snpcnn fit`` swapped), it was blamed on its encoding or layout (a checking helper,
    session 39)."""
    if path.is_dir():
        return "a snpcnn cache" if (path / "meta.json").exists() else None
    if not path.is_file():  # a pipe (<(...), /dev/stdin): reading it here would consume it
        return None
    from snpcnn.io._checks import file_head

    head = file_head(path, 64)
    if head.startswith(b"##fileformat=VCF"):
        return "a VCF"
    if head.startswith(b"BCF\x02"):
        return "a BCF"
    if head[:3] in (b"\x6c\x1b\x01", b"\x6c\x1b\x00"):
        return "a PLINK .bed"
    if head[:2] == b"\x6c\x1b":
        return "a PLINK 2 .pgen"
    return None


#: the advice closing a numeric covariate's bad cell (predict and explain, which read the
#: covariates as the model was fitted, replace it: they have no --categorical; session 49)
CATEGORICAL_HINT = (
    "(a covariate whose values are codes or a factor: --categorical COL, or categorical=[...] "
    "in Python)"
)


#: the advice closing a covariate's bad cell where a missing value is allowed (fit drops
#: the sample); predict and explain replace it (:func:`as_fitted`): a fitted model needs
#: every covariate value, so an empty cell was refused in turn (session 56)
MISSING_FIX = "fix the value or leave the cell empty for missing"
#: the same for a placeholder ('-', '?') that marks missing values in a numeric covariate
MISSING_MARK_FIX = "if it marks missing values, leave those cells empty or write NA"


def as_fitted(exc: InputError, without: str | None = None) -> InputError:
    """``exc`` from reading a fitted model's covariates (predict, explain), whose numeric
    covariates are fixed by the model: the ``--categorical`` advice replaced, and the
    advice to leave a cell empty for missing too where ``without`` (the way out without
    covariates, as :meth:`snpcnn.bundle.ModelBundle.covariate_design` words it) is given,
    since a missing covariate value is refused there."""
    text = str(exc).replace(
        CATEGORICAL_HINT, "(the model was fitted with this covariate as a number)"
    )
    if without:
        text = text.replace(MISSING_FIX, f"fix the value, or {without}").replace(
            MISSING_MARK_FIX,
            f"the model needs every covariate value: fill those cells in, or {without}",
        )
    return InputError(text)


def _read_lines(path: Path, kind: str = "phenotype file") -> list[tuple[int, str]]:
    """(1-based line number, text) of every non-blank line; ``kind`` names the file in
    messages (a covariate file was called a phenotype file: a checking helper, session 42)."""
    genotype_kind = _genotype_kind(path) if path.exists() else None
    if genotype_kind:
        raise InputError(
            f"{path} is {genotype_kind} genotype file, not a phenotype table: give the genotypes first "
            "and the phenotypes second (snpcnn fit GENOTYPES PHENOTYPES), the phenotypes as a "
            "CSV/TSV with a sample id column and one column per trait"
        )
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
                text = fh.read()
        else:
            text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{kind} {path} does not exist; check the path") from None
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(f"{kind} {not_utf8(path, exc)}") from None
    except (EOFError, zlib.error) as exc:  # a .gz cut short or damaged
        raise InputError(
            f"{kind} {path} is cut short or damaged ({exc}); copy or compress it again"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read {kind} {path}: {exc}") from None
    if "\0" in text:
        # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after each ASCII
        # character: it read as "1 fields but the header has 2" (a checking helper, session 49)
        head = text[:4096]
        odd, even = head[1::2].strip("\0"), head[0::2].strip("\0")
        le, be = odd == "" and even != "", even == "" and odd != ""
        raise InputError(
            f"{kind} {path}: "
            + (
                "UTF-16 text without a byte-order mark, not UTF-8; save the file as "
                f"'CSV UTF-8', or `iconv -f UTF-16{'LE' if le else 'BE'} -t UTF-8 FILE > NEW`"
                if le or be
                else f"line {text.count(chr(10), 0, text.index(chr(0))) + 1} holds a NUL byte, "
                "so this is no text table; give a CSV/TSV saved as UTF-8"
            )
        )
    if path.suffix != ".gz":
        from snpcnn.io._checks import warn_if_no_final_newline

        warn_if_no_final_newline(path, text)
    lines = [(i + 1, ln.rstrip("\r")) for i, ln in enumerate(text.split("\n"))]
    return [(i, ln) for i, ln in lines if ln.strip()]


def _detect_sep(first_line: str) -> str | None:
    if "\t" in first_line:
        return "\t"
    if "," in first_line:
        return ","
    if ";" in first_line:
        return ";"
    return None  # whitespace


def _split_raw(lines: list[tuple[int, str]], sep: str | None) -> list[list[str]]:
    if sep is None:
        return [ln.split() for _, ln in lines]
    return list(csv.reader((ln for _, ln in lines), delimiter=sep))


def _split(lines: list[tuple[int, str]], sep: str | None) -> list[list[str]]:
    return [[f.strip() for f in row] for row in _split_raw(lines, sep)]


def _sep_label(sep: str | None) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon", None: "whitespace"}[sep]


@dataclass
class _Raw:
    """A parsed text table: header, rows of strings, file line of each row."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]
    sep: str | None
    plink: bool
    has_header: bool
    unstripped: list[list[str]] = field(default_factory=list)  # cells before strip()


def _refuse_data_as_header(
    path: Path, first: list[str], example: str = "sample_id,TRAIT", given: Sequence[str] = ()
) -> None:
    """A first line that is data: a table without a header lost its first sample to the
    column names, silently ('775,1.67' gave a trait named '1.67' and 598 samples; a checking
    helper, session 41).  Data where every name after the first is a number and either the
    first is a number too ('775,3') or a name is not a whole number ('1.67'); a header of
    years or numbered environments after an id column's name ('Taxa,2019,2020', 'Line 1
    2') is one, and so is a line naming a column the caller asked for (a reviewer)."""
    if any(g and g in first for g in given):
        return
    names = [t for t in first[1:] if t.strip()]
    if not names or not all(_parse_number(t) is not None for t in names):
        return
    whole = all(float(_parse_number(t)).is_integer() for t in names)
    if whole and _parse_number(first[0]) is None:
        return
    shown = ", ".join(first[:3]) + (", ..." if len(first) > 3 else "")
    raise InputError(
        f"{path}: line 1 ({shown}) looks like data, not a header: every column name after "
        f"'{first[0]}' is a number; add a first line naming the columns (e.g. {example}), or, "
        "if the numbers are names (years), start them with a letter (Y2019)"
    )


def _second_column_holds_values(rows: list[list[str]]) -> bool:
    """Whether the rows below a whitespace-separated first line hold measurements, not
    ids, in their second column (most of them numbers with decimals): then the first line
    is a header (``Line 2019 2020`` with ``A1 1.5 2.0`` below), not the first sample of a
    header-less PLINK file (FID IID value ...), whose second column is the IID.  Before
    session 42 such a table was read as PLINK, with '2019' as a sample id."""
    second = [row[1] for row in rows if len(row) > 1 and not _is_missing(row[1], True)]
    if not second:
        return False
    nums = [_parse_number(t) for t in second]
    decimals = sum(v is not None and not float(v).is_integer() for v in nums)
    return decimals > 0.5 * len(second)


def _read_raw(
    path: Path, sep: str | None, given: Sequence[str] = (), kind: str = "phenotype file"
) -> _Raw:
    lines = _read_lines(path, kind)
    if not lines:
        raise InputError(f"{kind} {path} is empty; expected a header and one row per sample")
    if sep is not None:
        if sep not in _SEP_NAMES:
            raise InputError(
                f"unknown separator {sep!r}; use ',', '\\t', ';' or 'whitespace' (or leave it unset "
                "to detect it)"
            )
        sep_char = _SEP_NAMES[sep]
    else:
        sep_char = _detect_sep(lines[0][1])
    raw_fields = _split_raw(lines, sep_char)
    # strip the cells only where a line holds blanks besides the delimiter (one regex search
    # per line instead of a strip per cell: 200,000 x 50 cells; session 46)
    # (searched in the record's own cells, joined: a quoted cell with a line break made the
    # records and the lines of the file differ; a review, session 46)
    fields = [
        [f.strip() for f in row]
        if sep_char is not None and _INNER_BLANK.search("\0".join(row))
        else row
        for row in raw_fields
    ]  # str.split() (whitespace-separated) leaves no blanks to strip
    # rows of delimiters only (',,,': a spreadsheet export's trailing rows) are blank lines:
    # skipped like them (they were refused as "empty or NA sample id"; session 41)
    keep = [i for i, row in enumerate(fields) if i == 0 or any(row)]
    if len(keep) < len(fields):
        lines = [lines[i] for i in keep]
        raw_fields = [raw_fields[i] for i in keep]
        fields = [fields[i] for i in keep]
    first = fields[0]
    if sep is not None and len(first) == 1:
        guess = _detect_sep(lines[0][1])
        if guess != sep_char and len(_split_raw(lines[:1], guess)[0]) > 1:
            raise InputError(
                f"{path}: with sep={sep!r} the header is one column; the file looks "
                "separated otherwise: leave sep unset to detect it"
            )
    plink = sep_char is None or path.name.lower().removesuffix(".gz").endswith(_PLINK_SUFFIXES)
    first0 = first[0].lstrip("#").strip().lower() if first else ""
    # a header '#FID IID ...' / '#IID ...' (what plink 2 writes, tab-separated; any
    # delimiter) marks a PLINK file whatever its name: its -9 is missing. A .phe/.txt
    # with tabs read -9 as a value, and a 1/2 disease trait became a quantitative one scored
    # by Pearson r (a checking helper, session 46)
    # ('FID IID ...' without the '#', comma- or tab-separated, is a common table layout
    # (R's write.table), left as it was: a 0/1/2 score lost its 0s to PLINK's 1/2 rule, and
    # a real -9 became missing; two reviews, session 46)
    plink_header = bool(first) and first[0].strip().lower() in ("#fid", "#iid")
    by_header = plink_header and not plink
    plink = plink or plink_header
    has_header = True
    if plink and first0 not in ("fid", "iid", *ID_COLUMN_NAMES) and len(first) >= 3:
        # header-less PLINK file: FID IID value value ...; a text covariate (sex M/F, a
        # herd name) among numbers does not make the first row a header: a column name is
        # never a number (before session 39 such a .cov file lost its first sample to the
        # header)
        values = first[2:]
        plink_name = path.name.lower().removesuffix(".gz").endswith(_PLINK_SUFFIXES)
        if all(_is_missing(t, True) or _parse_number(t) is not None for t in values) or (
            plink_name and any(_parse_number(t) is not None for t in values)
        ):
            has_header = not plink_name and _second_column_holds_values(fields[1:])
    fam = path.name.lower().removesuffix(".gz").endswith(".fam")
    if has_header and not fam and first0 not in ("fid", "iid", *ID_COLUMN_NAMES):
        _refuse_data_as_header(path, first, given=given)
    if fam:
        if len(first) != len(FAM_COLUMNS):
            raise InputError(
                f"{path}: a PLINK .fam file has 6 columns (FID IID father mother sex "
                f"phenotype), this one {len(first)}; give a phenotype table instead"
            )
        has_header = False
        header = list(FAM_COLUMNS)
        body, body_lines = fields, [ln for ln, _ in lines]
        unstripped = raw_fields
    elif has_header:
        header = [h.strip() for h in first]
        if header and header[0].startswith("#"):
            header[0] = header[0].lstrip("#").strip()
        body, body_lines = fields[1:], [ln for ln, _ in lines[1:]]
        unstripped = raw_fields[1:]
    else:
        header = ["FID", "IID"] + [f"PHENO{i}" for i in range(1, len(first) - 1)]
        body, body_lines = fields, [ln for ln, _ in lines]
        unstripped = raw_fields
    trail = len(header) - len(_rstrip_empty(header))
    if trail and all(
        len(r) == len(header) and not any(c.strip() for c in r[-trail:]) for r in body
    ):
        # empty columns at the end (a spreadsheet export's trailing delimiters): dropped
        header = header[:-trail]
        body = [r[:-trail] for r in body]
        unstripped = [r[:-trail] for r in unstripped]
    if header and header[0] == "" and "" not in header[1:] and len(header) > 1 and body:
        # R's write.csv(df) without row.names = FALSE, pandas' to_csv without index=False: a
        # first column with an empty name holding row labels (refused as "header column 1
        # has no name" until session 45).  Where another column holds the ids (--id-column,
        # or sample_id/IID/id) it is left out; whole numbers with no id column beside them
        # may be row numbers of a sorted or filtered frame, or numeric ids: refused, as
        # taking them for ids would pair phenotypes with the wrong samples (a checking
        # helper, session 45); other labels (R's row names) are the ids.
        others = [h.lower() for h in header[1:]]
        id_col = (given[0] if given else "").lower()
        beside = next(
            (header[1 + others.index(n)] for n in (id_col, *ID_COLUMN_NAMES) if n and n in others),
            None,
        )
        col = [r[0] if r else "" for r in body]
        if beside is not None:
            header, body = header[1:], [r[1:] for r in body]
            unstripped = [r[1:] for r in unstripped]
            warnings.warn(
                f"{path}: the first column has no name (row labels from R's write.csv or "
                f"pandas' to_csv); left out: the sample ids are column '{beside}'",
                InputWarning,
                stacklevel=4,
            )
        elif all(re.fullmatch(r"[+-]?\d+", c) for c in col):
            raise InputError(
                f"{path}: the first column has no name and holds whole numbers: row numbers "
                "(R's write.csv, pandas' to_csv) or the sample ids? If they are the ids, name "
                "the column (e.g. sample_id); if not, name the id column with "
                f"{opt('id_column')} or write "
                "the file without row numbers (R: row.names = FALSE; pandas: index=False)"
            )
        else:
            header = ["sample_id", *header[1:]]
            warnings.warn(
                f"{path}: the first column has no name (R's write.csv row names); read as the "
                "sample ids",
                InputWarning,
                stacklevel=4,
            )
    if "" in header:
        raise InputError(
            f"{path}: header column {header.index('') + 1} has no name; name it, or remove the "
            "empty column (a trailing delimiter?)"
        )
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise InputError(f"{path}: column '{dup}' appears twice in the header; rename one of them")
    for row, ln in zip(body, body_lines):
        if len(row) != len(header):
            comment = lines[0][1].lstrip().startswith("#") and first0 not in (
                "fid",
                "iid",
                *ID_COLUMN_NAMES,
            )
            if has_header and (len(header) == 1 or comment):
                raise InputError(
                    f"{path}: the first line does not split like line {ln} (the delimiter is "
                    "detected from the first line): if the first line is a comment or a "
                    "title, delete it, so that the header (the column names) is the first line"
                )
            raise InputError(
                f"{path} line {ln}: {len(row)} fields but the header has {len(header)} "
                f"(delimiter detected from the first line: {_sep_label(sep_char)}); fix the "
                "line (in Python, sep=... sets the delimiter)"
            )
    if not body:
        raise InputError(f"{kind} {path} has a header but no data rows")
    if by_header:
        codes = sum(c in (PLINK_MISSING, "-9.0") for row in body for c in row[1:])
        if codes:
            warnings.warn(
                f"{path}: {codes} cell(s) '-9' read as missing: the header's first name "
                f"'{first[0].strip()}' marks a PLINK file, where -9 is the missing-value code; "
                "if -9 is a real value here, remove the '#' from the header",
                InputWarning,
                stacklevel=4,
            )
    return _Raw(path, header, body, body_lines, sep_char, plink, has_header, unstripped)


def _find_id_column(raw: _Raw, id_column: str | None, optional: bool = False) -> int:
    """The id column's index: ``id_column`` (an error where absent, unless ``optional``:
    the covariate file, which takes ``--id-column`` where it has that column), else the
    first column named sample_id / IID / id, else the first column."""
    header = raw.header
    if id_column is not None and optional and id_column.lower() not in (h.lower() for h in header):
        id_column = None
    if id_column is not None:
        if id_column in header:
            return header.index(id_column)
        lower = [h.lower() for h in header]
        if id_column.lower() in lower:
            return lower.index(id_column.lower())
        raise InputError(
            f"{raw.path}: no column named '{id_column}' for the sample id; columns are: "
            + ", ".join(header)
        )
    lower = [h.lower() for h in header]
    for name in ID_COLUMN_NAMES:
        if name in lower:
            return lower.index(name)
    return 0


def _check_names(
    raw: _Raw,
    wanted: Sequence[str],
    what: str,
    available: list[str],
    id_name: str = "",
    id_given: bool = False,
) -> None:
    ids = [w for w in wanted if w in raw.header and w not in available]
    if ids:
        w = ids[0]
        # the reason it is an id, and the fix that helps (the message advised naming the id
        # column sample_id where it was, or where w is PLINK's FID: a reviewer, session 41)
        if w != id_name:
            said = "is PLINK's family id (FID) column"
            fix = f"choose another {what}"
        elif id_given:  # either choice may be the wrong one (predict's are the model's)
            said = "is the sample id column (--id-column)"
            fix = f"give --id-column the column that holds the sample ids, or choose another {what}"
        elif w.lower() in ID_COLUMN_NAMES:
            said = "is the sample id column"
            fix = f"choose another {what}"
        else:
            said = "is taken as the sample id column (the first column: none is named sample_id, IID or id)"
            fix = (
                "name the id column sample_id, or give its name with --id-column (id_column= "
                "in Python)"
            )
        raise InputError(f"{raw.path}: '{w}' {said}, not a {what} column; {fix}")
    missing = [w for w in wanted if w not in raw.header]
    if missing:
        raise InputError(
            f"{raw.path}: {what} column '{missing[0]}' not found; available columns: "
            + _name_list(available)
        )


@dataclass
class Phenotypes:
    """Trait values and covariates of a set of samples, indexed by sample id.

    Build it with :func:`read_phenotypes`.

    Attributes
    ----------
    table : DataFrame
        Indexed by sample id (str).  Trait columns are float64 with NaN for missing;
        numeric covariates are float64, categorical covariates hold str (None if missing).
    traits : list of str
        Names of the trait columns, in file order.
    covariates : list of str
        Names of the covariate columns.
    source : str or None
        The phenotype file (and the covariate file, if read from another one).
    categorical : list of str
        Covariates treated as categorical (one-hot encoded by :meth:`covariate_matrix`).
    info : dict
        How the file(s) were read: delimiter, header, format, row counts, join counts.
    """

    table: pd.DataFrame
    traits: list[str]
    covariates: list[str] = field(default_factory=list)
    source: str | None = None
    categorical: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    # column -> (file, {sample id: file line}) for error messages
    _origin: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"Phenotypes(n_samples={len(self.table)}, traits={self.traits}, "
            f"covariates={self.covariates}, source={self.source!r})"
        )

    @property
    def sample_ids(self) -> np.ndarray:
        """Sample ids in file order (object array of str)."""
        return np.asarray(self.table.index, dtype=object)

    def __len__(self) -> int:
        return len(self.table)

    # ------------------------------------------------------------------ traits
    def default_trait(self) -> str:
        """The only trait, or the first one in file order."""
        if not self.traits:
            two = self.info.get("two_class_text") or {}
            if two:  # said only after --trait named it before (a checking helper, session 43)
                col, (a, b) = next(iter(two.items()))
                raise InputError(
                    f"{self.source}: no trait column (a column of numbers besides the id and "
                    f"the covariates); '{col}' holds the two text values '{a}' and '{b}': if it "
                    f"is the trait, code it 0/1 (one of '{a}' and '{b}' as 1, the other as "
                    "0), then name it with --trait (traits=[...] in Python)"
                )
            raise InputError(
                f"{self.source}: no trait column (a column of numbers besides the id and the "
                "covariates); name one with --trait (traits=[...] in Python)"
            )
        return self.traits[0]

    def _rows(self, sample_ids: Sequence[str]) -> np.ndarray:
        ids = [str(s) for s in sample_ids]
        pos = self.table.index.get_indexer(pd.Index(ids, dtype=object))
        if (pos < 0).any():
            bad = ids[int(np.flatnonzero(pos < 0)[0])]
            raise InputError(
                f"sample '{bad}' is not in {self.source}; align genotypes and phenotypes first "
                "(snpcnn.io.phenotypes.align)"
            )
        return pos

    def trait_values(self, name: str, sample_ids: Sequence[str] | None = None) -> np.ndarray:
        """Values of trait ``name`` (float64, NaN = missing) for ``sample_ids`` (all by default)."""
        if name not in self.traits:
            raise InputError(
                f"unknown trait '{name}' in {self.source}; traits are: {', '.join(self.traits)}"
            )
        col = self.table[name].to_numpy(dtype=np.float64)
        if sample_ids is None:
            return col.copy()
        return col[self._rows(sample_ids)]

    # -------------------------------------------------------------- covariates
    def _where(self, column: str, sample_id: str) -> str:
        src, lines = self._origin.get(column, (self.source, {}))
        if sample_id in lines:
            return f"{src} line {lines[sample_id]}"
        hint = (self.info.get("join") or {}).get("hint")
        return f"{src} (sample not in that file" + (f"; {hint})" if hint else ")")

    def covariate_matrix(
        self,
        sample_ids: Sequence[str],
        fit_levels: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Numeric design matrix of the covariates for ``sample_ids``.

        Numeric covariates are used as they are.  A categorical covariate with levels
        ``l0 < l1 < ... < lk`` (sorted as text) becomes k 0/1 columns named
        ``"name[l1]" ... "name[lk]"``: the first level is dropped because the models always add
        an intercept, so the first level is the reference.  No intercept column is returned.

        Parameters
        ----------
        sample_ids : sequence of str
            Rows of the returned matrix, in this order.
        fit_levels : sequence of str, optional
            Sample ids whose values define the levels of categorical covariates (pass the
            training fold's ids so that test samples never shape the encoding).  Default: the
            levels present in ``sample_ids``.  A level seen only outside ``fit_levels`` gets the
            ``fit_levels`` samples' mean of each of the covariate's columns (the training
            average of its levels, as :meth:`snpcnn.bundle.ModelBundle.covariate_design`
            gives new samples), not the reference level's zeros.

        Returns
        -------
        values : float64 array, shape (len(sample_ids), n_columns)
        names : list of str

        Raises
        ------
        InputError
            If a requested sample has a missing covariate value (fill it in, drop the covariate,
            or leave the sample out).

        Examples
        --------
        >>> t = pd.DataFrame({"y": [1.0, 2.0, 3.0], "sex": ["F", "M", "M"]},
        ...                  index=pd.Index(["a", "b", "c"], dtype=object))
        >>> ph = Phenotypes(t, ["y"], ["sex"], categorical=["sex"])
        >>> ph.covariate_matrix(["a", "b", "c"])
        (array([[0.],
               [1.],
               [1.]]), ['sex[M]'])
        """
        ids = [str(s) for s in sample_ids]
        rows = self._rows(ids)
        fit_rows = rows if fit_levels is None else self._rows(fit_levels)
        blocks: list[np.ndarray] = []
        names: list[str] = []
        gaps = {
            cov: int(pd.isna(pd.Series(self.table[cov].to_numpy()[rows], dtype=object)).sum())
            for cov in self.covariates
        }
        for cov in self.covariates:
            col = self.table[cov]
            values = col.to_numpy()[rows]
            miss = pd.isna(pd.Series(values, dtype=object)).to_numpy()
            if miss.any():
                i = int(np.flatnonzero(miss)[0])
                # every covariate with gaps, not only the first: the user met PC2's after
                # fixing AGE's (a checking helper, session 46)
                others = [f"'{c}' for {n}" for c, n in gaps.items() if n and c != cov]
                raise InputError(
                    f"covariate '{cov}' is missing for sample '{ids[i]}' "
                    f"({self._where(cov, ids[i])})"
                    + (f" and {int(miss.sum()) - 1} more sample(s)" if miss.sum() > 1 else "")
                    + (f", and also {', '.join(others)} sample(s)" if others else "")
                    + "; fill in the value, leave the covariate out, or remove those samples"
                )
            if cov in self.categorical:
                raw_fit = col.to_numpy()[fit_rows]
                fit_vals = np.asarray([str(v) for v in raw_fit], dtype=object)
                levels = sorted({str(v) for v in raw_fit if not pd.isna(v)})
                vals = np.asarray([str(v) for v in values], dtype=object)
                unseen = ~np.isin(vals, levels)
                for level in levels[1:]:
                    block = (vals == level).astype(np.float64)
                    # a level the fitting samples never had: their average of this column
                    # (as predict does), not the reference level's zero
                    block[unseen] = float(np.mean(fit_vals == level))
                    blocks.append(block[:, None])
                    names.append(f"{cov}[{level}]")
            else:
                blocks.append(values.astype(np.float64)[:, None])
                names.append(cov)
        if not blocks:
            return np.zeros((len(ids), 0), dtype=np.float64), []
        return np.hstack(blocks), names

    # -------------------------------------------------------------------- join
    def join(self, other: Phenotypes) -> Phenotypes:
        """Add the traits and covariates of ``other`` (matched by sample id) to these samples.

        The samples are those of ``self`` (a left join); a sample absent from ``other`` gets
        missing values there.  Column names must not clash.  How many ids matched is recorded in
        ``info["join"]``.
        """
        clash = [c for c in other.table.columns if c in self.table.columns]
        if clash:
            raise InputError(
                f"column '{clash[0]}' is in both {self.source} and {other.source}; "
                "rename it in one file or select other columns"
            )
        joined = self.table.join(other.table, how="left")
        in_other = self.table.index.isin(other.table.index)
        only_other = ~other.table.index.isin(self.table.index)
        info = dict(self.info)
        info["join"] = {
            "file": other.source,
            "n_matched": int(in_other.sum()),
            "n_missing_from_joined_file": int((~in_other).sum()),
            "examples_missing_from_joined_file": [
                str(s) for s in self.table.index[~in_other][:_N_EXAMPLES]
            ],
            "n_only_in_joined_file": int(only_other.sum()),
        }
        if (~in_other).any() and only_other.any():
            # ids on both sides left unmatched that differ only in form (case, zeros, '.0')
            hint = _match_hints(
                [str(s) for s in other.table.index[only_other]],
                [str(s) for s in self.table.index[~in_other]],
            )
            if hint:
                info["join"]["hint"] = hint.lstrip("; ")
                import warnings

                warnings.warn(
                    f"{other.source}: {int((~in_other).sum())} of the {len(in_other)} samples "
                    f"of {self.source} are not in it{hint}: make the ids identical in both files",
                    AlignmentWarning,
                    stacklevel=3,
                )
        origin = dict(self._origin)
        origin.update(other._origin)
        return Phenotypes(
            table=joined,
            traits=self.traits + other.traits,
            covariates=self.covariates + other.covariates,
            source=f"{self.source} + {other.source}",
            categorical=self.categorical + other.categorical,
            info=info,
            _origin=origin,
        )


def read_phenotypes(
    path: str | Path,
    *,
    id_column: str | None = None,
    traits: Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
    sep: str | None = None,
    covariates_path: str | Path | None = None,
    categorical: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> Phenotypes:
    """Read a phenotype table (CSV/TSV/whitespace or PLINK ``.pheno``).

    Parameters
    ----------
    path : str or Path
        The phenotype file (``.gz`` allowed).
    id_column : str, optional
        Column holding the sample id.  Default: the first column named ``sample_id``, ``IID``
        or ``id`` (any case), else the first column.  In PLINK files the ``FID`` column is
        dropped and ``IID`` is the sample id.
    traits : sequence of str, optional
        Trait columns to keep (other columns are not read).  Default: every column that is
        not the id, ``FID``, a covariate or a label and holds at least one number (a column of
        text only, such as a family name, is no trait and is skipped).  Each value of a trait
        must be a number or missing.
    covariates : sequence of str, optional
        Covariate columns.  Read from ``path``, or from ``covariates_path`` if given (then
        default: every non-id column of that file).  A covariate whose non-missing values are
        all numbers is numeric; otherwise it is categorical (see
        :meth:`Phenotypes.covariate_matrix`).
    sep : str, optional
        Delimiter: ``','``, ``'\\t'``, ``';'`` or ``'whitespace'``.  Default: detected from the
        first line (tab, else comma, else semicolon, else whitespace).
    covariates_path : str or Path, optional
        A second file (same formats) with the covariates, joined by sample id.
    categorical : sequence of str, optional
        Covariates to treat as categorical even though their values are numbers (e.g. cage or
        litter codes).
    labels : sequence of str, optional
        Columns read as text labels, neither trait nor covariate (e.g. the ``--groups``
        column of leave-group-out folds), from ``path`` or ``covariates_path``; kept in
        ``table`` as str (None if missing).

    Returns
    -------
    Phenotypes

    Raises
    ------
    InputError
        Unreadable or empty file, ragged rows, unknown column names, duplicated sample ids,
        a non-numeric trait value (naming the file, line, sample and value).

    Examples
    --------
    >>> ph = read_phenotypes("../shared/data/mice/mice_phenotypes.csv",
    ...                      traits=["Obesity.BMI"], covariates=["GENDER"],
    ...                      covariates_path="../shared/data/mice/mice_covariates.csv")
    ... # doctest: +SKIP
    """
    path = Path(path)
    if isinstance(traits, str):  # one name, not its characters
        traits = [traits]
    if isinstance(covariates, str):
        covariates = [covariates]
    categorical = list(categorical or [])
    labels = list(dict.fromkeys(labels or []))
    if covariates_path is not None:
        main = _read_one(path, id_column, traits, [], sep, [], labels, in_file_only=True)
        cov_raw_cols = None if covariates is None else list(covariates)
        rest = [c for c in labels if c not in main.table.columns]
        # --id-column names the covariate file's id column too, where it has one of that
        # name (it applied to the phenotype file only, while the covariate file's error
        # pointed to it: a checking helper, session 41)
        other = _read_one(
            Path(covariates_path),
            id_column,
            [],
            cov_raw_cols,
            None,
            categorical,
            rest,
            in_file_only=True,
            id_optional=True,
        )
        out = main.join(other)
        _check_labels(out, labels)
        return out
    return _read_one(path, id_column, traits, list(covariates or []), sep, categorical, labels)


def _check_labels(ph: Phenotypes, labels: list[str]) -> None:
    missing = [c for c in labels if c not in ph.table.columns]
    if missing:
        raise InputError(
            f"--groups column '{missing[0]}' is not in {ph.source}; columns are: "
            + ", ".join(map(str, ph.table.columns[:30]))
        )


def _read_one(
    path: Path,
    id_column: str | None,
    traits: Sequence[str] | None,
    covariates: Sequence[str] | None,
    sep: str | None,
    categorical: list[str],
    labels: Sequence[str] = (),
    in_file_only: bool = False,
    id_optional: bool = False,
) -> Phenotypes:
    """Read one file; ``covariates=None`` means all non-id columns are covariates.
    ``labels`` are text columns kept as they are (those absent from this file are an error,
    or skipped with ``in_file_only``)."""
    given = [id_column or "", *(traits or ()), *(covariates or ()), *labels]
    # a table read for its covariates alone (traits=[]): predict's --covariates FILE, or
    # fit's separate covariate file
    kind = "covariate file" if traits is not None and not traits else "phenotype file"
    raw = _read_raw(path, sep, given, kind)
    id_idx = _find_id_column(raw, id_column, optional=id_optional)
    id_name = raw.header[id_idx]
    skip = {id_name}
    if id_name.lower() == "iid" and "FID" in [h.upper() for h in raw.header]:
        skip.add(next(h for h in raw.header if h.upper() == "FID"))
    available = [h for h in raw.header if h not in skip]
    id_given = id_column is not None and id_column.lower() == id_name.lower()

    def check(wanted: Sequence[str], what: str) -> None:
        _check_names(raw, wanted, what, available, id_name, id_given)

    if not in_file_only:
        check(labels, "--groups")
    labels = [c for c in labels if c in available]
    if covariates is None:
        covariates = [
            h for h in available if (traits is None or h not in traits) and h not in labels
        ]
    covariates = list(dict.fromkeys(covariates))
    check(covariates, "covariate")
    auto_traits = traits is None
    if traits is None:
        traits = [h for h in available if h not in covariates and h not in labels]
        if raw.header == list(FAM_COLUMNS):  # a .fam: parents and sex are no traits
            traits = [h for h in traits if h == "phenotype"]
    traits = list(dict.fromkeys(traits))
    check(traits, "trait")
    labels = [c for c in labels if c not in traits and c not in covariates]
    both = [t for t in traits if t in covariates]
    if both:
        raise InputError(f"{path}: column '{both[0]}' is named both as a trait and a covariate")
    bad_cat = [c for c in categorical if c not in covariates]
    if bad_cat:
        raise InputError(
            f"categorical column '{bad_cat[0]}' is not among the covariates "
            f"({', '.join(covariates)}); add it to covariates=[...]"
        )

    # sample ids, duplicates
    ids = [row[id_idx] for row in raw.rows]
    fid_col = next((h for h in raw.header if h.upper() == "FID"), None)
    renamed = False
    if id_name.lower() == "iid" and fid_col is not None and len(set(ids)) < len(ids):
        # IIDs that repeat across families (PLINK family data): the genotype readers name
        # such samples FID_IID, so the phenotypes do too (the file was refused as holding
        # duplicate ids, with no usable fix: a checking helper, session 39)
        f_idx = raw.header.index(fid_col)
        both = [f"{row[f_idx]}_{row[id_idx]}" for row in raw.rows]
        if len(set(both)) == len(both):
            warnings.warn(
                f"{path}: IIDs repeat across families, so every sample id is FID_IID (e.g. "
                f"'{both[0]}'), as snpcnn names PLINK samples whose IIDs repeat",
                InputWarning,
                stacklevel=3,
            )
            ids = both
            renamed = True
            for row, sid in zip(raw.rows, both):
                row[id_idx] = sid
    fid_iid = None
    if id_name.lower() == "iid" and fid_col is not None and not renamed:
        f_idx = raw.header.index(fid_col)
        fid_iid = {sid: f"{row[f_idx]}_{sid}" for sid, row in zip(ids, raw.rows)}
    padded = [
        (row[id_idx], ln)
        for row, ln in zip(raw.unstripped, raw.line_numbers)
        if id_idx < len(row) and row[id_idx] != row[id_idx].strip()
    ]
    if padded:
        warnings.warn(
            f"{path}: {len(padded)} sample id(s) have surrounding spaces, which were removed "
            f"(e.g. line {padded[0][1]}: '{padded[0][0]}' -> '{padded[0][0].strip()}'); remove "
            "them from the file to silence this",
            InputWarning,
            stacklevel=3,
        )
    seen: dict[str, int] = {}
    for sid, ln in zip(ids, raw.line_numbers):
        if sid.strip().lower() in ("", "na", "nan"):
            raise InputError(f"{path} line {ln}: empty or NA sample id; every row needs an id")
        if sid in seen:
            raise InputError(
                f"{path}: sample id '{sid}' appears twice (lines {seen[sid]} and {ln}); "
                "sample ids must be unique: remove or rename one of the rows"
            )
        seen[sid] = ln

    data: dict[str, Any] = {}
    col_index = {h: i for i, h in enumerate(raw.header)}
    fast: dict[str, np.ndarray | None] = {}
    columns = list(zip(*raw.rows))  # every row has the header's length (_read_raw)

    def numbers(column: str) -> np.ndarray | None:
        # the vectorised parse of a column, once (None: the cells are read one by one)
        if column not in fast:
            fast[column] = _fast_numbers(list(columns[col_index[column]]), raw.plink)
        return fast[column]

    two_class: dict[str, list[str]] = {}  # skipped text columns of two values
    if auto_traits:  # a column of text only (a name, a family) is no trait: skipped
        text_only = [
            t
            for t in traits
            if numbers(t) is None and _text_only([row[col_index[t]] for row in raw.rows], raw.plink)
        ]
        traits = [t for t in traits if t not in text_only]
        for t in text_only:
            tokens = [row[col_index[t]] for row in raw.rows]
            classes = sorted({v.strip() for v in tokens if not _is_missing(v, raw.plink)})
            if len(classes) == 2:  # case/control, yes/no: what default_trait's error names
                two_class.setdefault(t, classes)
            comma = [v for v in tokens if _DECIMAL_COMMA.match(v.strip())]
            if len(comma) > len(tokens) / 2:
                raise InputError(
                    f"{path}: column '{t}' holds numbers with a decimal comma (e.g. "
                    f"'{comma[0]}'); write them with a decimal point (e.g. "
                    f"'{comma[0].strip().replace(',', '.')}'), as a CSV export in an English "
                    "locale does"
                )
    for trait in traits:
        j = col_index[trait]
        quick = numbers(trait)
        values = np.empty(len(raw.rows), dtype=np.float64) if quick is None else quick
        for r, row in enumerate(raw.rows if quick is None else ()):
            token = row[j]
            if _is_missing(token, raw.plink):
                values[r] = np.nan
                continue
            v = _parse_number(token)
            if v is None and _is_infinite(token):
                raise InputError(
                    f"{path} line {raw.line_numbers[r]}: trait '{trait}' has the infinite value "
                    f"'{token}' for sample '{ids[r]}'; trait values must be finite numbers: fix "
                    "the value or leave the cell empty for missing"
                )
            if v is None:
                raise InputError(
                    f"{path} line {raw.line_numbers[r]}: trait '{trait}' has non-numeric "
                    f"value '{token}' for sample '{ids[r]}'; "
                    + (
                        "write numbers with a decimal point, not a comma"
                        if _DECIMAL_COMMA.match(token.strip())
                        else f"'{trait}' is a pedigree column of the .fam, not a trait: the "
                        "trait is 'phenotype'"
                        if raw.header == list(FAM_COLUMNS) and trait in ("father", "mother")
                        else "fix the value or leave the cell empty for missing (a "
                        "two-class trait such as case/control: code it 0/1)"
                    )
                    + (
                        f" (if '{trait}' is not a trait, choose the traits with --trait, or "
                        "name it in --covariates; in Python traits=[...], covariates=[...])"
                        if auto_traits
                        else ""
                    )
                )
            values[r] = v
        if raw.plink:
            _plink_case_control(values, trait, path)
        data[trait] = values
    cat_out: list[str] = []
    for cov in covariates:
        j = col_index[cov]
        if cov not in categorical and numbers(cov) is not None:
            data[cov] = numbers(cov)
            continue
        tokens = [row[j] for row in raw.rows]
        miss = [_is_missing(t, raw.plink) for t in tokens]
        nums = [None if m else _parse_number(t) for t, m in zip(tokens, miss)]
        inf = [i for i, (t, m) in enumerate(zip(tokens, miss)) if not m and _is_infinite(t)]
        if inf:
            i = inf[0]
            raise InputError(
                f"{path} line {raw.line_numbers[i]}: covariate '{cov}' has the infinite value "
                f"'{tokens[i]}' for sample '{ids[i]}'; covariate values must be finite numbers: "
                + MISSING_FIX
            )
        numeric = all(m or v is not None for m, v in zip(miss, nums))
        n_present = sum(not m for m in miss)
        n_numbers = sum(v is not None for v in nums)
        if not numeric and cov not in categorical:
            # numbers the file wrote so that they read as text: a decimal comma, or one
            # placeholder ('-', '?') for missing values in most rows. They became a factor
            # with a level per value (GBLUP's r fell from 0.41 to 0.21; a checking helper,
            # session 41)
            texts = [t.strip() for t, m, v in zip(tokens, miss, nums) if not m and v is None]
            comma = [t for t in texts if _DECIMAL_COMMA.match(t)]
            if comma and n_numbers + len(comma) > n_present / 2:
                i = next(k for k, t in enumerate(tokens) if t.strip() == comma[0])
                raise InputError(
                    f"{path} line {raw.line_numbers[i]}: covariate '{cov}' holds numbers with "
                    f"a decimal comma (e.g. '{comma[0]}' for sample '{ids[i]}'); write them "
                    "with a decimal point (e.g. "
                    f"'{comma[0].replace(',', '.')}'), as a CSV export in an English locale "
                    f"does {CATEGORICAL_HINT}"
                )
            mark = len(set(texts)) == 1 and not any(ch.isalnum() for ch in texts[0])
            # mostly numbers: a typo, not a categorical covariate (its levels would be every
            # distinct number); or numbers and one placeholder, a missing-value mark
            if (n_numbers and mark) or n_numbers > n_present / 2:
                i = next(i for i, (m, v) in enumerate(zip(miss, nums)) if not m and v is None)
                fix = (
                    f"'{texts[0]}' ({len(texts)} samples, e.g. '{ids[i]}'); {MISSING_MARK_FIX}"
                    if mark
                    else f"'{tokens[i]}' for sample '{ids[i]}'; {MISSING_FIX}"
                )
                raise InputError(
                    f"{path} line {raw.line_numbers[i]}: covariate '{cov}' is numeric except "
                    f"{fix} {CATEGORICAL_HINT}"
                )
        if numeric and cov not in categorical:
            data[cov] = np.asarray([np.nan if v is None else v for v in nums], dtype=np.float64)
        else:
            data[cov] = pd.Series(
                [None if m else canonical_level(t) for t, m in zip(tokens, miss)], dtype=object
            ).to_numpy()
            cat_out.append(cov)
    for label in labels:
        j = col_index[label]
        data[label] = pd.Series(
            [None if _is_missing(row[j], raw.plink) else row[j] for row in raw.rows], dtype=object
        ).to_numpy()
    index = pd.Index(ids, dtype=object, name="sample_id")
    table = pd.DataFrame(data, index=index, columns=traits + covariates + labels)
    for cov in cat_out + labels:
        table[cov] = table[cov].astype(object)
    lines = dict(zip(ids, raw.line_numbers))
    info = {
        "file": str(path),
        "delimiter": _sep_label(raw.sep),
        "header": raw.has_header,
        "plink_style": raw.plink,
        "id_column": id_name,
        "n_rows": len(ids),
        "columns": list(raw.header),  # what align checks against the SNP ids
    }
    if two_class:
        info["two_class_text"] = two_class
    if fid_iid is not None:
        # the FID_IID of each IID: align's error names them where the genotype file named
        # its samples so (an IID repeated across its families; a checking helper, session 46)
        info["fid_iid"] = fid_iid
    return Phenotypes(
        table=table,
        traits=traits,
        covariates=covariates,
        source=str(path),
        categorical=cat_out,
        info=info,
        _origin={c: (str(path), lines) for c in traits + covariates + labels},
    )


def _plink_case_control(values: np.ndarray, trait: str, path: Path) -> None:
    """In a PLINK file, a trait coded 1/2 is case/control, where PLINK reads 0 as missing
    (as -9): the same here, in place, with a warning that counts them."""
    v = values[np.isfinite(values)]
    zeros = int(np.sum(v == 0))
    if zeros and np.isin(v, (0.0, 1.0, 2.0)).all() and (v == 1).any() and (v == 2).any():
        values[values == 0] = np.nan
        warnings.warn(
            f"{path}: trait '{trait}' is coded 1/2 (PLINK case/control), so its {zeros} "
            "value(s) 0 are read as missing, as PLINK reads them; write 0/1 codes in a CSV "
            "table if 0 is a class",
            InputWarning,
            stacklevel=4,
        )


def _text_only(tokens: list[str], plink: bool) -> bool:
    """Whether a column has values and none of them is a number (nor an infinity)."""
    present = [t for t in tokens if not _is_missing(t, plink)]
    return bool(present) and all(_parse_number(t) is None and not _is_infinite(t) for t in present)


# ---------------------------------------------------------------------------- alignment
@dataclass
class Alignment:
    """Genotype rows and phenotype values matched by sample id.

    Attributes
    ----------
    geno_index : int64 array
        Row of each aligned sample in the genotypes, in the order used (genotype file order).
    sample_ids : object array of str
        The aligned sample ids, in the same order.
    y : DataFrame
        Trait values (float64, NaN = missing), index = ``sample_ids``, one column per trait.
    covariates : DataFrame
        Raw covariate values (numeric or text) for the aligned samples; encode them per fold
        with :meth:`covariate_matrix`.
    report : dict
        What matched; see :meth:`format_report`.
    phenotypes : Phenotypes
        The phenotypes that were aligned.
    """

    geno_index: np.ndarray
    sample_ids: np.ndarray
    y: pd.DataFrame
    covariates: pd.DataFrame
    report: dict[str, Any]
    phenotypes: Phenotypes

    @property
    def traits(self) -> list[str]:
        return list(self.y.columns)

    def __len__(self) -> int:
        return len(self.sample_ids)

    def trait(self, name: str) -> np.ndarray:
        """Values of one trait for the aligned samples (float64, NaN = missing)."""
        if name not in self.y.columns:
            raise InputError(
                f"unknown trait '{name}'; aligned traits are: {', '.join(self.traits)}"
            )
        return self.y[name].to_numpy(dtype=np.float64)

    def covariate_matrix(
        self, rows: Sequence[int], fit_rows: Sequence[int] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """:meth:`Phenotypes.covariate_matrix` by aligned positions (``fit_rows``: training rows)."""
        ids = self.sample_ids[np.asarray(rows, dtype=np.int64)]
        fit = None if fit_rows is None else self.sample_ids[np.asarray(fit_rows, dtype=np.int64)]
        return self.phenotypes.covariate_matrix(ids, fit_levels=fit)

    def format_report(self) -> str:
        """The alignment report as text (what the CLI prints)."""
        r = self.report
        lines = [
            f"genotypes:   {r['n_genotyped']:,} samples ({r['genotype_source']})",
            f"phenotypes:  {r['n_phenotyped']:,} samples ({r['phenotype_source']})",
            f"matched:     {r['n_both']:,} samples by id (order: genotype file)",
        ]
        for side, label in (
            ("only_in_genotypes", "genotypes"),
            ("only_in_phenotypes", "phenotypes"),
        ):
            n = r[side]["n"]
            if n:
                ex = ", ".join(r[side]["examples"])
                more = ", ..." if n > len(r[side]["examples"]) else ""
                lines.append(f"only in {label}: {n:,} ({ex}{more})")
            else:
                lines.append(f"only in {label}: 0")
        for t, s in r["traits"].items():
            lines.append(f"trait {t}: {s['n_usable']:,} usable, {s['n_missing']:,} missing")
        if r["covariates"]:
            lines.append("covariates:  " + ", ".join(r["covariates"]))
        return "\n".join(lines)


def _no_dot0(s: str) -> str:
    return s[:-2] if s.endswith(".0") else s


def _loose(s: str) -> str:
    return s.replace(" ", "").replace("-", "_")


def _match_hints(geno_ids: Sequence[str], pheno_ids: Sequence[str]) -> str:
    """Say which simple id transformation would make the two id sets overlap."""
    p = set(pheno_ids)
    transforms = {
        "ignoring case": (lambda s: s.lower(), lambda s: s.lower()),
        "dropping leading zeros": (lambda s: s.lstrip("0"), lambda s: s.lstrip("0")),
        "dropping a '.0' ending (ids written as numbers)": (_no_dot0, _no_dot0),
        "ignoring spaces and '-'/'_' differences": (_loose, _loose),
        "taking the part after '_' in genotype ids (FID_IID?)": (
            lambda s: s.split("_", 1)[-1],
            lambda s: s,
        ),
        "taking the part before '_' in genotype ids": (lambda s: s.split("_", 1)[0], lambda s: s),
        "taking the part after '_' in phenotype ids (FID_IID?)": (
            lambda s: s,
            lambda s: s.split("_", 1)[-1],
        ),
    }
    for what, (fg, fp) in transforms.items():
        pp = {fp(s) for s in p}
        n = sum(fg(s) in pp for s in geno_ids)
        if n:
            return f"; {n} ids would match {what}"
    return ""


def _transposed_hint(genotypes: Any, pheno_ids: Sequence[str]) -> str:
    """Where the phenotype ids are the genotypes' SNP ids, the matrix was read transposed."""
    variants = getattr(genotypes, "variants", None)
    if variants is None or "id" not in getattr(variants, "columns", ()):
        return ""
    snp_ids = set(variants["id"].astype(str))
    n = sum(s in snp_ids for s in pheno_ids)
    if not n:
        return ""
    return (
        f"; {n} phenotype ids are SNP (column) names of the genotype matrix: it looks "
        "transposed; write it with one row per sample and one column per SNP"
    )


def _refuse_sample_as_header(
    phenotypes: Phenotypes, geno_ids: set, pheno_ids: set, geno_src: str, pheno_src: str
) -> None:
    """A file without a header line whose first line was read as one (text ids and whole
    numbers, ``A1234,3``, pass the reader's checks): the id column's name is then a sample of
    the genotype file, and that sample's trait values were taken for column names."""
    info = phenotypes.info or {}
    name = info.get("id_column")
    if not info.get("header") or name is None or str(name) not in geno_ids:
        return
    if str(name) in pheno_ids:
        return  # the sample is also a data row: the first line is a header after all
    names = ", ".join([str(name), *phenotypes.traits[:3]])
    raise InputError(
        f"{pheno_src}: line 1 ({names}) looks like data, not a header: '{name}' is a sample "
        f"of {geno_src}; add a first line naming the columns (e.g. sample_id,TRAIT)"
    )


def _name_list(names: Sequence[str], limit: int = 12) -> str:
    """The first ``limit`` names, and how many more: a genotype table's 200 SNP ids made a
    2,100-character line (a checking helper, session 43)."""
    names = [str(n) for n in names]
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" (and {more:,} more)" if more > 0 else "")


def _refuse_genotypes_as_phenotypes(
    genotypes: Any, phenotypes: Phenotypes, traits: Sequence[str], geno_src, pheno_src
) -> None:
    """A genotype table given as the phenotype file (the same CSV twice) was fitted with a
    SNP as the trait, AUC 0.99 (a checking helper, session 43): refused where a trait is a
    SNP id of the genotypes and at least half of the file's columns, and 5 or more, are."""
    header = phenotypes.info.get("columns") or []
    variants = getattr(genotypes, "variants", None)
    if len(header) < 5 or not isinstance(variants, pd.DataFrame) or "id" not in variants:
        return
    snp_ids = set(map(str, variants["id"]))
    if not snp_ids & set(map(str, traits)):  # SNPs as covariates are fine (a review)
        return
    n = sum(str(h) in snp_ids for h in header)
    if n >= 5 and n >= len(header) / 2:
        raise InputError(
            f"{pheno_src}: {n:,} of its {len(header):,} columns are SNP ids of {geno_src}: it "
            "looks like the genotype table, not a phenotype table; give the phenotype file "
            "(a sample id column and one column per trait)"
        )


def _fid_iid_hint(phenotypes: Phenotypes, geno_ids: list[str], geno_src) -> str:
    """Where the genotype ids are FID_IID (an IID repeated across families) and the phenotype
    file's FID and IID columns would match them so: the fix, in words (the hint counted a
    repeated IID twice, and left the user to guess how; a checking helper, session 46)."""
    fid_iid = (phenotypes.info or {}).get("fid_iid") or {}
    gset = set(geno_ids)
    n = sum(v in gset for v in fid_iid.values())
    if not n:
        return ""
    example = next(v for v in fid_iid.values() if v in gset)
    return (
        f"; {n} phenotyped sample(s) would match as FID_IID (e.g. '{example}'): {geno_src} "
        "names every sample FID_IID because an IID repeats across its families; give the "
        "phenotype file a first column sample_id holding FID_IID, or make the IIDs of the "
        "genotype file unique"
    )


def align(genotypes: Any, phenotypes: Phenotypes, traits: Sequence[str] | None = None) -> Alignment:
    """Match genotype rows with phenotype rows by sample id.

    Parameters
    ----------
    genotypes : Genotypes
        Anything with ``.samples`` (ids of the genotype rows) and optionally ``.source``.
    phenotypes : Phenotypes
    traits : sequence of str, optional
        Traits to keep (default: all of ``phenotypes.traits``).

    Returns
    -------
    Alignment
        Every sample present in both, in genotype file order.  Samples whose traits are all
        missing are kept (``y`` is NaN there); the report gives per-trait usable counts.

    Raises
    ------
    InputError
        No common sample id (the message shows the first ids of both sides), duplicated ids,
        unknown traits, or a missing covariate value for an aligned sample.

    Warns
    -----
    AlignmentWarning
        When fewer than half of the genotyped or of the phenotyped samples matched, unless
        every sample of one side matched (the other side simply holds more).
    """
    if isinstance(traits, str):  # one name, not its characters
        traits = [traits]
    geno_ids = [str(s) for s in np.asarray(genotypes.samples)]
    geno_src = getattr(genotypes, "source", None) or "genotypes"
    pheno_src = phenotypes.source or "phenotypes"
    if traits is None:
        traits = list(phenotypes.traits)
    traits = list(traits)
    _refuse_genotypes_as_phenotypes(genotypes, phenotypes, traits, geno_src, pheno_src)
    unknown = [t for t in traits if t not in phenotypes.traits]
    if unknown:
        raise InputError(
            f"unknown trait '{unknown[0]}' in {pheno_src}; traits are: "
            + _name_list(phenotypes.traits)
        )
    for ids, src in ((geno_ids, geno_src), ([str(s) for s in phenotypes.table.index], pheno_src)):
        s = pd.Series(ids)
        dup = s[s.duplicated()]
        if len(dup):
            raise InputError(f"sample id '{dup.iloc[0]}' occurs more than once in {src}")
    pheno_ids = [str(s) for s in phenotypes.table.index]
    _refuse_sample_as_header(phenotypes, set(geno_ids), set(pheno_ids), geno_src, pheno_src)
    pos = phenotypes.table.index.get_indexer(pd.Index(geno_ids, dtype=object))
    geno_index = np.flatnonzero(pos >= 0).astype(np.int64)
    n_both = len(geno_index)
    if n_both == 0:
        hints = _match_hints(geno_ids, pheno_ids)
        info = phenotypes.info or {}
        # 'Line 2019 2020' over 'A1 5 6' reads as a PLINK file without a header (FID IID
        # values): its ids are then the years and values (noticed in session 42); said
        # where no id transformation explains the mismatch (a real headerless PLINK file
        # beside FID_IID genotype ids keeps its hint: a reviewer)
        headerless = (
            "; the phenotype file was read as a PLINK file without a header (FID IID value "
            "...): if its first line names the columns, name the first one sample_id (or "
            "FID and IID)"
            if info.get("plink_style") and info.get("header") is False
            else ""
        )
        raise InputError(
            f"no sample id is in both {geno_src} and {pheno_src}: genotype ids start "
            f"{', '.join(geno_ids[:3])}; phenotype ids start {', '.join(pheno_ids[:3])}"
            + (
                _transposed_hint(genotypes, pheno_ids)
                or _fid_iid_hint(phenotypes, geno_ids, geno_src)
                or (hints and f"{hints}; make the ids identical in both files")
                or headerless
                or "; make the ids identical in both files"
            )
        )
    sample_ids = np.asarray([geno_ids[i] for i in geno_index], dtype=object)
    sub = phenotypes.table.iloc[pos[geno_index]]
    y = sub[traits].astype(np.float64)
    y.index = pd.Index(sample_ids, dtype=object, name="sample_id")
    cov = sub[phenotypes.covariates].copy()
    cov.index = y.index
    if phenotypes.covariates and len(traits):
        # raises on missing covariate values, only where a trait has a value: a sample
        # without one is dropped from the fit anyway (81 mice without Biochem.Age, all
        # without Biochem.Albumin too, refused that fit; a checking helper, session 41)
        used = y.notna().to_numpy().any(axis=1)
        if used.any():
            phenotypes.covariate_matrix(sample_ids[used])
    elif phenotypes.covariates:
        phenotypes.covariate_matrix(sample_ids)
    gset, pset = set(geno_ids), set(pheno_ids)
    only_g = [s for s in geno_ids if s not in pset]
    only_p = [s for s in pheno_ids if s not in gset]
    report = {
        "genotype_source": geno_src,
        "phenotype_source": pheno_src,
        "n_genotyped": len(geno_ids),
        "n_phenotyped": len(pheno_ids),
        "n_both": n_both,
        "traits": {
            t: {"n_missing": int(y[t].isna().sum()), "n_usable": int(y[t].notna().sum())}
            for t in traits
        },
        "only_in_genotypes": {"n": len(only_g), "examples": only_g[:_N_EXAMPLES]},
        "only_in_phenotypes": {"n": len(only_p), "examples": only_p[:_N_EXAMPLES]},
        "covariates": list(phenotypes.covariates),
    }
    transposed = _transposed_hint(genotypes, pheno_ids)
    n_snp_named = int(transposed.split(" ", 2)[1]) if transposed else 0
    if n_snp_named >= 0.5 * len(pheno_ids):
        # ids such as 1..n are both sample and SNP names: the match may be by accident
        warnings.warn(
            f"{n_snp_named} of the {len(pheno_ids)} phenotype ids are also SNP (column) "
            f"names of {geno_src}: if its columns are the samples, it is transposed; write it "
            "with one row per sample and one column per SNP",
            AlignmentWarning,
            stacklevel=2,
        )
    few = n_both < 0.5 * len(geno_ids) or n_both < 0.5 * len(pheno_ids)
    # every sample of one side matched (e.g. a genotype subset of a larger trial): the ids
    # agree, the other side simply holds more samples
    if few and n_both < min(len(geno_ids), len(pheno_ids)):
        # would a simple transformation match more of the ids left over?
        more = _match_hints(only_g, only_p).replace("; ", "; another ", 1)
        warnings.warn(
            f"{n_both} of {len(geno_ids)} genotyped and {len(pheno_ids)} phenotyped samples "
            f"matched by id ({geno_src} vs {pheno_src}){more}; where fewer were expected to "
            "be missing, check that both files use the same ids",
            AlignmentWarning,
            stacklevel=2,
        )
    elif only_g and only_p and (near := _match_hints(only_g, only_p)):
        # most ids matched, but some of those left over on both sides differ only in form
        # (leading zeros, '775.0'): those samples would be dropped without a word
        warnings.warn(
            f"samples left out of the join by id: {len(only_p)} phenotyped (not in "
            f"{geno_src}) and {len(only_g)} genotyped (not in {pheno_src})"
            f"{near.replace('; ', '; of those, ', 1)}: make the ids identical in both files",
            AlignmentWarning,
            stacklevel=2,
        )
    return Alignment(
        geno_index=geno_index,
        sample_ids=sample_ids,
        y=y,
        covariates=cov,
        report=report,
        phenotypes=phenotypes,
    )
