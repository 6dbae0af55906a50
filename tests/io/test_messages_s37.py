"""Messages a checking helper found wrong or unhelpful (session 37)."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.folds import make_folds, read_folds
from snpcnn.io.phenotypes import read_phenotypes


def test_spreadsheet_trailing_delimiters_in_a_phenotype_table(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,GY_E1,GY_E2,,\n775,1.5,2,,\n776,1.2,3,,\n")
    assert list(read_phenotypes(path).table.columns) == ["GY_E1", "GY_E2"]
    path.write_text("id,GY_E1,,GY_E2\n775,1.5,,2\n776,1.2,,3\n")
    with pytest.raises(InputError, match="header column 3 has no name"):
        read_phenotypes(path)


def test_fold_file_cells_and_duplicates_name_their_lines(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("sample_id,fold\na,1\nb,\nc,2\n")
    with pytest.raises(InputError, match=r"line 3: sample 'b' has no fold \(an empty cell\)"):
        read_folds(path, np.array(["a", "b", "c"]))
    path.write_text("sample_id,fold\na,1\nb,2\na,2\n")
    with pytest.raises(InputError, match="lines 2 and 4: sample 'a' has more than one fold"):
        read_folds(path, np.array(["a", "b"]))


def test_too_few_groups_names_the_option_and_a_fix():
    ids = np.array([f"s{i}" for i in range(12)])
    with pytest.raises(
        InputError, match=r"group 5-fold needs at least 5 groups.*has 3; use folds=3"
    ):
        make_folds(ids, 5, 1, 0, groups=np.repeat(["a", "b", "c"], 4))


def test_excel_na_is_missing(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,GY\n775,1.5\n776,#N/A\n777,2\n")
    assert np.isnan(read_phenotypes(path).table.loc["776", "GY"])
