"""Cross-validation fold assignment: K-fold, repeated, stratified, grouped, or from a file.

A fold table is a DataFrame with columns ``sample_id``, ``repeat`` (0-based) and
``fold`` (1-based), one row per sample and repeat.  Every model (CNN and
baselines) is evaluated on the same table.
"""

from __future__ import annotations

import csv
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, InputWarning, opt

__all__ = ["make_folds", "make_cell_folds", "read_folds"]


def level_text(value) -> str:
    """A class or trait value as the user wrote it: 1, not 1.0 (text stays text)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(v)) if v.is_integer() else f"{v:g}"


def read_folds(path: str | Path, sample_ids: np.ndarray) -> pd.DataFrame:
    """Read a ``sample_id -> fold`` table (CSV/TSV, like ``wheat_cv_folds.csv``).

    The fold column is ``fold``/``cv_fold``/``set``/``folds``, the id column
    ``sample_id``/``IID``/``id``; where one is not named, it is the first other column.
    An optional ``repeat`` column holds several repeats (one fold per sample and repeat:
    what ``snpcnn tune`` writes as folds.csv); repeats are renumbered 0, 1, ... in sorted
    order.  Every sample in ``sample_ids`` must have a fold in every repeat; extra rows are
    ignored, and so are blank rows (Excel's trailing ``,,`` lines).  Errors name the file's
    own line numbers.
    """
    path = Path(path)
    try:
        # blank lines and '#' comments before the header are skipped (the delimiter sniffer
        # failed on them), and a byte-order mark is dropped (with a quoted header it failed:
        # a reviewer, session 41)
        head = _lines_before_header(path)
        # keep_default_na=False: an id 'NA' stays text, an empty cell is ''; blank lines are
        # kept (then dropped below) so that each row knows its line in the file
        table = pd.read_csv(
            path,
            sep=None,
            engine="python",
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skiprows=head,
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(not_utf8(path, exc)) from None
    except (OSError, ValueError, csv.Error, EOFError, zlib.error) as exc:  # + a cut .gz
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(
            f"{path}: cannot read the fold table ({msg}); expected a CSV/TSV with a header and "
            "columns sample_id, fold"
        ) from None
    from snpcnn.io._checks import warn_if_no_final_newline

    warn_if_no_final_newline(path)
    if table.shape[1] < 2:
        raise InputError(f"{path}: a fold table needs two columns (sample_id, fold)")
    table = table.fillna("")
    first = [str(c).strip() for c in table.columns]
    if first[0].lower() not in _ID_NAMES:
        from snpcnn.io.phenotypes import _refuse_data_as_header

        # a headerless file said "'775' has no fold" of the sample on line 1 (session 41)
        _refuse_data_as_header(path, first, "sample_id,fold")
    line = pd.Series(np.arange(len(table)) + 2 + head, index=table.index)  # header: head + 1
    # a blank line, or one of delimiters only (an Excel export's trailing ',,' rows): no
    # row (they gave a traceback: two NaN ids were "duplicates" found nowhere; a checking
    # helper, session 41)
    blank = table.apply(lambda c: c.str.strip().eq("")).all(axis=1)
    table, line = table[~blank], line[~blank]
    id_col, fold_col, rep_col = _fold_columns(path, table)
    raw_ids = table[id_col]
    ids = raw_ids.str.strip()
    empty = ids.eq("")
    if empty.any():
        raise InputError(
            f"{path} line {line[empty].iloc[0]}: empty sample id (column '{id_col}'); give "
            "every row a sample id, or delete the row"
        )
    padded = np.flatnonzero((raw_ids != ids).to_numpy())
    if len(padded):
        warnings.warn(
            f"{path}: {len(padded)} sample id(s) have surrounding spaces, which were removed "
            f"(e.g. line {line.iloc[padded[0]]}: '{raw_ids.iloc[padded[0]]}' -> "
            f"'{ids.iloc[padded[0]]}'); remove them from the file to silence this",
            InputWarning,
            stacklevel=2,
        )
    folds = _whole_numbers(
        path, table, fold_col, ids, line, "fold", "a whole fold number (1, 2, ...)"
    )
    if rep_col is None:
        reps = pd.Series(0, index=table.index)
        rep_levels = np.array([0])
    else:
        reps = _whole_numbers(
            path, table, rep_col, ids, line, "repeat", "a whole repeat number (0, 1, ...)"
        )
        rep_levels = np.unique(reps.to_numpy())
    sample_ids = np.asarray(sample_ids).astype(str)
    used = set(sample_ids)
    head = str(id_col).strip()
    if head in used and head not in set(ids):  # 'A775,1' was read as the column names
        raise InputError(
            f"{path}: its header ({id_col}, {fold_col}) looks like data, not a header: "
            f"'{head}' is a sample; add a first line naming the columns (e.g. sample_id,fold)"
        )
    parts, labels_of = [], []
    for r, level in enumerate(rep_levels):
        here = (reps == level).to_numpy()
        where = f" (repeat {level})" if rep_col is not None else ""
        fold, levels = _one_repeat(
            path, ids[here], folds[here], line[here], sample_ids, where, rep_col is not None
        )
        parts.append(pd.DataFrame({"sample_id": sample_ids, "repeat": r, "fold": fold}))
        labels_of.append([level_text(v) for v in levels])
    extra = [s for s in dict.fromkeys(ids) if s not in used]
    if extra:
        ex = ", ".join(f"'{e}'" for e in extra[:3])
        warnings.warn(
            f"{path}: {len(extra)} of its {ids.nunique()} samples are not among the "
            f"{len(sample_ids)} samples used (genotyped with some call, phenotyped, with a "
            "trait value) and "
            f"are ignored (e.g. {ex}); check the ids if that is unexpected",
            InputWarning,
            stacklevel=2,
        )
    renumbered = [
        (r, lab) for r, lab in enumerate(labels_of) if lab != [str(i + 1) for i in range(len(lab))]
    ]
    if renumbered:
        r, lab = renumbered[0]
        shown = ", ".join(f"{v} -> {i + 1}" for i, v in enumerate(lab[:4]))
        where = ""
        if rep_col is not None:
            others = len(renumbered) - 1
            where = f" of repeat {rep_levels[r]}" + (
                f" (and of {others} other repeat(s), each in its own order)" if others else ""
            )
        warnings.warn(
            f"{path}: the results number the folds 1..{len(lab)} in the sorted order of "
            f"the file's labels{where} ({shown}{', ...' if len(lab) > 4 else ''})",
            InputWarning,
            stacklevel=2,
        )
    if rep_col is not None and [str(v) for v in rep_levels] != [
        str(i) for i in range(len(rep_levels))
    ]:
        warnings.warn(
            f"{path}: the results number the repeats 0..{len(rep_levels) - 1} in the sorted "
            f"order of the file's repeat labels ({', '.join(str(v) for v in rep_levels[:4])})",
            InputWarning,
            stacklevel=2,
        )
    out = pd.concat(parts, ignore_index=True)
    # the file's own labels of folds 1..K (the run notes name them where they differ), where
    # every repeat has the same ones
    if all(lab == labels_of[0] for lab in labels_of):
        out.attrs["fold_labels"] = labels_of[0]
    return out


def _lines_before_header(path: Path) -> int:
    """How many blank or '#' comment lines come before a fold table's header (0 where the
    file cannot be read here: pandas then gives its own error)."""
    import gzip

    try:
        with open(path, "rb") as fh:
            zipped = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if zipped else open
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            for k, text in enumerate(fh):
                if text.strip() and not text.lstrip().startswith("#"):
                    return k
                if k > 1000:
                    break
    except (OSError, EOFError, zlib.error):
        pass
    return 0


_ID_NAMES = ("sample_id", "iid", "id")
_FOLD_NAMES = ("fold", "cv_fold", "set", "folds")


def _fold_columns(path: Path, table: pd.DataFrame) -> tuple[str, str, str | None]:
    """The id, fold and (optional) repeat columns of a fold table: by name, else the first
    other columns.  (With the fold column named and the id column not, the id used to fall
    back to the first column, the fold column itself: "sample '1' has more than one fold";
    a checking helper, session 41.)"""
    lower = {str(c).strip().lower(): c for c in table.columns}
    rep_col = lower.get("repeat")
    fold_col = next((lower[c] for c in _FOLD_NAMES if c in lower), None)
    id_col = next((lower[c] for c in _ID_NAMES if c in lower), None)
    rest = [c for c in table.columns if c not in (fold_col, id_col, rep_col)]
    if id_col is None:
        if not rest:
            raise InputError(f"{path}: no sample id column; name it sample_id (or IID, id)")
        id_col = rest.pop(0)
    if fold_col is None:
        if not rest:
            raise InputError(f"{path}: no fold column; name it fold")
        fold_col = rest.pop(0)
        # columns with no value (an Excel export's trailing commas) are no candidates
        rest = [c for c in rest if table[c].str.strip().ne("").any()]
        if rest:  # a 200-column table gave its first data column without a word (session 43)
            warnings.warn(
                f"{path}: no column is named fold (or cv_fold, set, folds); the folds were "
                f"read from '{str(fold_col).strip()}', the first of {len(rest) + 1} other "
                "columns; name the fold column 'fold' to choose it (and silence this)",
                InputWarning,
                stacklevel=3,
            )
    return id_col, fold_col, rep_col


def _whole_numbers(
    path: Path,
    table: pd.DataFrame,
    col: str,
    ids: pd.Series,
    line: pd.Series,
    what: str,
    give: str,
) -> pd.Series:
    """The column's whole numbers, or the error naming the first bad line."""
    cells = table[col].str.strip()
    num = pd.to_numeric(cells, errors="coerce")
    bad = num.isna() | ~np.isfinite(num) | (num.abs() > 1e9) | (num != np.round(num))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        cell = cells.iloc[i]
        said = f"has no {what} (an empty cell)" if cell == "" else f"has {what} '{cell}'"
        raise InputError(
            f"{path} line {line.iloc[i]}: sample '{ids.iloc[i]}' {said}; give every sample {give}"
        )
    return num.astype(np.int64)


def _one_repeat(
    path: Path,
    ids: pd.Series,
    folds: pd.Series,
    line: pd.Series,
    sample_ids: np.ndarray,
    where: str,
    has_repeats: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One repeat's folds 1..K for ``sample_ids`` and the file's fold labels, checked."""
    dup = np.flatnonzero(ids.duplicated().to_numpy())
    if len(dup):
        sid = ids.iloc[dup[0]]
        first = int(np.flatnonzero((ids == sid).to_numpy())[0])
        once = "once in each repeat" if has_repeats else "once"
        raise InputError(
            f"{path} lines {line.iloc[first]} and {line.iloc[dup[0]]}: sample '{sid}' has more "
            f"than one fold{where}; list it {once}"
        )
    mapping = pd.Series(folds.to_numpy(), index=ids.to_numpy())
    missing = [s for s in sample_ids if s not in mapping.index]
    if missing:
        from snpcnn.io.phenotypes import _match_hints

        extra = [str(s) for s in mapping.index if s not in set(sample_ids)]
        hint = _match_hints(extra, missing) if extra else ""
        shown = ", ".join(f"'{e}'" for e in extra[:3])
        raise InputError(
            f"{path}: {len(missing)} phenotyped sample(s) have no fold{where}, e.g. "
            f"'{missing[0]}'"
            + (
                f"; {len(extra)} of the table's ids are no phenotyped sample, e.g. {shown}"
                f"{hint}: make its ids those of the phenotype file"
                if extra
                else "; add them to the fold table"
            )
        )
    fold = mapping.loc[sample_ids].to_numpy()
    levels, sizes = np.unique(fold, return_counts=True)
    if len(levels) < 2:
        raise InputError(
            f"{path}: the fold table has only one fold{where}; cross-validation needs >= 2"
        )
    if (sizes < 2).any():
        lone = levels[sizes < 2][0]
        who = sample_ids[fold == lone][0]
        raise InputError(
            f"{path}: fold {lone}{where} holds a single sample ('{who}') among the samples "
            "used; a test fold needs at least 2 samples to be scored (a correlation of one "
            "value is undefined): move that sample into another fold"
        )
    if (sizes < MIN_TEST_FOLD).any():
        small = levels[sizes < MIN_TEST_FOLD][0]
        who = ", ".join(f"'{s}'" for s in sample_ids[fold == small])
        raise InputError(
            f"{path}: fold {small}{where} holds only {int(sizes[levels == small][0])} samples "
            f"({who}) among the samples used; {TINY_FOLD_WHY}: move them into another fold"
        )
    # renumber to 1..K in sorted order so that fold labels are stable and compact
    return np.searchsorted(levels, fold) + 1, levels


#: the fewest samples a test fold may hold (fold tables, group folds): Pearson r over 2
#: values is always +-1, and each fold's r weighs the same in the mean (a fold of 2 lifted a
#: GBLUP mean from 0.505 to 0.629: a checking helper, session 45)
MIN_TEST_FOLD = 3
TINY_FOLD_WHY = (
    "a score over 2 values is degenerate (Pearson r always +1 or -1, AUC 0 or 1), and each "
    "fold's score weighs as much as the others' in the mean"
)
#: the attrs key of a fold table drawn by snpcnn for a whole data set (a benchmark's), which
#: check_fold_frame takes as it is
DRAWN_FOR_DATASET = "snpcnn_dataset_folds"
#: the group cross_validate gives a sample whose --groups cell is empty (a group of its own)
NO_GROUP = "\x00no group: "


def check_fold_frame(folds: pd.DataFrame, sample_ids: np.ndarray, repeats: int = 1) -> pd.DataFrame:
    """A fold table given as a DataFrame (the Python API: ``cross_validate(folds=df)``,
    ``tune``), checked as :func:`read_folds` checks a file: ``sample_id`` and ``fold`` columns
    (``repeat`` optional), whole numbers, one fold per sample and repeat, every sample in
    ``sample_ids`` given a fold, at least 2 folds and no test fold under
    :data:`MIN_TEST_FOLD` samples among them, no ``repeats`` beside it.  Rows of other samples
    are dropped with a warning.  (A DataFrame skipped the size checks: a fold of 1 or 2
    samples was scored, and ``repeats=3`` was ignored; a checking helper, session 46.)"""
    table = folds.copy()
    absent = [c for c in ("sample_id", "fold") if c not in table.columns]
    if absent:
        raise InputError(
            f"the fold table has no column '{absent[0]}'; it needs sample_id and fold "
            "(and optionally repeat)"
        )
    if repeats > 1:
        raise InputError(
            f"{opt('repeats')} needs random folds ({opt('folds', 'K', placeholder=True)}), "
            "not a fold table: give the table a repeat column instead"
        )
    table["sample_id"] = table["sample_id"].astype(str)
    if "repeat" not in table:
        table["repeat"] = 0
    for col in ("fold", "repeat"):
        num = pd.to_numeric(table[col], errors="coerce")
        bad = num.isna() | ~np.isfinite(num) | (num != np.round(num))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"the fold table's {col} '{table[col].iloc[i]}' for sample "
                f"'{table['sample_id'].iloc[i]}' is not an integer; number the {col}s "
                "0, 1, 2, ..."
            )
        table[col] = num.astype(int)
    dup = table.duplicated(["repeat", "sample_id"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"the fold table lists sample '{table['sample_id'].iloc[i]}' more than once "
            "in one repeat; give each sample one fold per repeat"
        )
    sample_ids = np.asarray(sample_ids).astype(str)
    used = set(sample_ids)
    missing = used - set(table["sample_id"])
    if missing:
        raise InputError(f"{len(missing)} samples have no fold, e.g. '{sorted(missing)[0]}'")
    if folds.attrs.get(DRAWN_FOR_DATASET):
        # a benchmark's folds, drawn over every sample of its dataset and shared by its
        # traits: a trait observed on few of them is not scored in a fold with < 3 of its
        # values (_run_fold's note), not refused (the user cannot move them; a review,
        # session 46)
        return table[table["sample_id"].isin(used)].reset_index(drop=True)
    extra = table.loc[~table["sample_id"].isin(used), "sample_id"].unique()
    if len(extra):
        warnings.warn(
            f"the fold table: {len(extra)} of its samples are not among the {len(used)} "
            f"samples used and are ignored (e.g. '{extra[0]}'); check the ids if that is "
            "unexpected",
            InputWarning,
            stacklevel=3,
        )
    table = table[table["sample_id"].isin(used)].reset_index(drop=True)
    for r, part in table.groupby("repeat"):
        where = f" of repeat {r}" if table["repeat"].nunique() > 1 else ""
        missing = used - set(part["sample_id"])
        if missing:
            raise InputError(
                f"the fold table{where}: {len(missing)} samples have no fold, e.g. "
                f"'{sorted(missing)[0]}'"
            )
        sizes = part["fold"].value_counts().sort_index()
        if len(sizes) < 2:
            raise InputError(
                f"the fold table{where} has only one fold; cross-validation needs >= 2"
            )
        if sizes.min() < MIN_TEST_FOLD:
            small = sizes.idxmin()
            who = ", ".join(f"'{x}'" for x in part.loc[part["fold"] == small, "sample_id"])
            raise InputError(
                f"the fold table: fold {small}{where} holds only {int(sizes.min())} sample(s) "
                f"({who}) among the samples used; {TINY_FOLD_WHY}: move them into another fold"
            )
    return table


def make_folds(
    sample_ids: np.ndarray,
    k: int = 5,
    repeats: int = 1,
    seed: int = 0,
    stratify: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    class_labels: Sequence | None = None,
) -> pd.DataFrame:
    """Random K-fold assignment, repeated ``repeats`` times with derived seeds.

    ``stratify`` (class labels) keeps class proportions per fold (``class_labels``: where
    ``stratify`` holds codes 0, 1, ..., the user's name of each, for messages); ``groups`` keeps
    each group (family, population) within one fold (group K-fold: groups go largest
    first into the smallest fold; later repeats order them by size times a random factor
    in 0.5..1.5, and a warning says where a repeat split them as an earlier one did).
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    sample_ids = np.asarray(sample_ids).astype(str)
    n = len(sample_ids)
    if k < 2:
        raise InputError(f"{opt('folds')} must be at least 2, got {k}")
    if k > n:
        raise InputError(f"{opt('folds', k)} is more than the {n} phenotyped samples")
    if groups is None and n // k < MIN_TEST_FOLD:
        # as for fold files and group folds (random and stratified folds of 2 scored +-1 and
        # counted in full in the means: a checking helper, session 46)
        raise InputError(
            f"{opt('folds', k)} with {n} phenotyped samples leaves test folds of "
            f"{n // k} sample(s): {TINY_FOLD_WHY}; "
            + (
                f"use {opt('folds', n // MIN_TEST_FOLD)} or fewer"
                if n // MIN_TEST_FOLD >= 2
                else f"cross-validation needs at least {2 * MIN_TEST_FOLD} phenotyped samples"
            )
        )
    if repeats < 1:
        raise InputError(f"{opt('repeats')} must be at least 1, got {repeats}")
    if stratify is not None and groups is not None:
        raise InputError("use either stratified or group folds, not both")
    rows = []
    seen_splits: dict[frozenset, int] = {}  # group splits drawn so far, by repeat
    repeated: list[tuple[int, int]] = []
    for r in range(repeats):
        rseed = int(np.random.SeedSequence([seed, r]).generate_state(1)[0])
        fold = np.zeros(n, dtype=int)
        if groups is not None:
            groups = np.asarray(groups).astype(str)
            uniq = np.unique(groups)
            if len(uniq) < k:
                raise InputError(
                    f"group {k}-fold needs at least {k} groups, the {opt('groups')} column has "
                    f"{len(uniq)}; use "
                    + (f"{opt('folds', len(uniq))} or " if len(uniq) >= 2 else "")
                    + "a column with more groups"
                )
            rng = np.random.default_rng(rseed)
            order = rng.permutation(uniq)
            sizes = pd.Series(groups).value_counts()
            # greedy balanced assignment: biggest groups first, into the smallest fold. The
            # first repeat takes them strictly by size; later ones by size times a random
            # factor in 0.5..1.5, since the shuffle alone only reorders groups of equal
            # size, and families of distinct sizes gave every repeat the same folds (a
            # checking helper, session 39)
            jitter = (
                dict.fromkeys(order, 1.0)
                if r == 0
                else dict(zip(order, rng.uniform(0.5, 1.5, size=len(order))))
            )
            load = np.zeros(k, dtype=int)
            assign = {}
            for g in sorted(order, key=lambda g: -sizes[g] * jitter[g]):
                f = int(np.argmin(load))
                assign[g] = f
                load[f] += sizes[g]
            fold = np.array([assign[g] for g in groups]) + 1
            if load.min() < MIN_TEST_FOLD:
                f = int(np.argmin(load))
                members = [
                    f"a sample with no value ({str(g)[len(NO_GROUP) :]})"
                    if str(g).startswith(NO_GROUP)
                    else str(g)
                    for g in uniq
                    if assign[g] == f
                ]
                raise InputError(
                    f"group {k}-fold with {opt('groups')} makes a test fold of "
                    f"{int(load.min())} sample(s) (group(s) {', '.join(members[:5])}) beside "
                    f"one of {int(load.max())}: {TINY_FOLD_WHY}; use fewer {opt('folds')} or "
                    "a column with more, more even groups"
                )
            split = frozenset(frozenset(uniq[[assign[g] == f for g in uniq]]) for f in range(k))
            if split in seen_splits:
                repeated.append((seen_splits[split], r))
            seen_splits.setdefault(split, r)
        else:
            if stratify is not None:
                y = np.asarray(stratify)
                counts = pd.Series(y).value_counts()
                if counts.min() < k:
                    rare = counts.idxmin()
                    if class_labels is not None:
                        rare = class_labels[int(rare)]
                    raise InputError(
                        f"stratified {k}-fold needs at least {k} samples of each class; class "
                        f"'{level_text(rare)}' has {counts.min()}"
                    )
                splitter = StratifiedKFold(k, shuffle=True, random_state=rseed % (2**32 - 1))
                splits = splitter.split(np.zeros(n), y)
            else:
                splitter = KFold(k, shuffle=True, random_state=rseed % (2**32 - 1))
                splits = splitter.split(np.zeros(n))
            for i, (_, test) in enumerate(splits):
                fold[test] = i + 1
        rows.append(pd.DataFrame({"sample_id": sample_ids, "repeat": r, "fold": fold}))
    table = pd.concat(rows, ignore_index=True)
    if repeated:
        import warnings

        a, b = repeated[0]
        note = (
            f"{len(repeated)} of the {repeats} repeats split the groups into folds exactly as "
            f"an earlier one (repeat {b} as repeat {a}): with {len(np.unique(groups))} groups "
            f"there are few ways to make {k} balanced folds, and a repeated split adds no "
            f"information to the means; use fewer {opt('repeats')} or more groups"
        )
        warnings.warn(note, InputWarning, stacklevel=2)
        # also a run note (summary.md, run.json): it reached the console only (a checking
        # helper, session 45)
        table.attrs["repeated_split"] = note
    return table


def make_cell_folds(
    sample_ids: np.ndarray,
    observed: np.ndarray,
    traits: list[str],
    k: int = 5,
    repeats: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """CV2 folds: each observed (sample, trait) cell gets a fold, not each sample.

    In fold ``f`` the cells of fold ``f`` are hidden and predicted; the same line's other
    cells stay in training.  Per line, its observed traits are shuffled and given consecutive
    folds from a random start, so with at most ``k`` traits every cell of a line is in a
    different fold: in each fold the line is observed in its other environments but not in
    this one (CV2 of Burgueño et al. 2012).  A line with one observed cell is predicted as in
    CV1 in its fold.  Returns ``sample_id, trait, repeat, fold`` (one row per observed cell).
    """
    sample_ids = np.asarray(sample_ids).astype(str)
    observed = np.asarray(observed, dtype=bool)
    if observed.shape != (len(sample_ids), len(traits)):
        raise InputError("make_cell_folds: observed must be samples x traits")
    if len(traits) < 2:
        raise InputError(
            f"{opt('cv_scheme', 'cv2')} needs at least 2 traits (environments): name each "
            f"with {opt('traits')}"
        )
    if k < 2:
        raise InputError(f"{opt('folds')} must be at least 2, got {k}")
    if k < len(traits):
        raise InputError(
            f"{opt('cv_scheme', 'cv2')} with {len(traits)} traits (environments) needs "
            f"{opt('folds')} >= {len(traits)}, got {k}: with fewer folds a line's cells share "
            "folds, and a hidden cell's other environments are hidden with it; use "
            f"{opt('folds', max(5, len(traits)))}"
        )
    if repeats < 1:
        raise InputError(f"{opt('repeats')} must be at least 1, got {repeats}")
    if observed.sum() < 2 * k:
        raise InputError(f"{opt('folds', k)} is too many for {int(observed.sum())} observed values")
    rows = []
    for r in range(repeats):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r, 2]))
        start = rng.integers(0, k, size=len(sample_ids))
        sid, trt, fold = [], [], []
        for i, s in enumerate(sample_ids):
            cols = np.flatnonzero(observed[i])
            for pos, j in enumerate(rng.permutation(cols)):
                sid.append(s)
                trt.append(traits[j])
                fold.append(int((start[i] + pos) % k) + 1)
        rows.append(pd.DataFrame({"sample_id": sid, "trait": trt, "repeat": r, "fold": fold}))
    return pd.concat(rows, ignore_index=True)
