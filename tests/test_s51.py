"""Session 51: the reports say how many LASSO starts took heterozygote indicators."""

from types import SimpleNamespace

from snpcnn.cv import CVResults


def _fit(start, **choice):
    return {"conv": {"start": start, "start_choice": {"chosen": start, **choice}}}


def test_lasso_dominance_count_counts_lasso_starts_that_took_the_indicators():
    def count(ns):  # the method on a stand-in holding only the fits' histories
        ns._start_choices = lambda: CVResults._start_choices(ns)
        return CVResults.lasso_dominance_count(ns)

    used = [
        _fit("lasso", lasso_dominance_used=True),
        _fit("lasso", lasso_dominance_used=False),
        _fit("ridge", lasso_dominance_used=True),  # proposed, then lost out of fold
        _fit("lasso", lasso_dominance_used=True),
        {"conv": None},
    ]
    assert count(SimpleNamespace(histories=used)) == 2
    # never fitted with the indicators (v16, inbred lines, streamed rows): no count at all
    plain = [_fit("lasso"), _fit("ridge", lasso_dominance_skipped="streamed")]
    assert count(SimpleNamespace(histories=plain)) is None
    # inbred lines: fitted without a column to add; session 50's first v17 (always on) had
    # no lasso_dominance_used, only the columns
    assert count(SimpleNamespace(histories=[_fit("lasso", lasso_dominance_columns=0)])) is None
    early = [_fit("lasso", lasso_dominance_columns=2994), _fit("ridge", lasso_dominance_columns=9)]
    assert count(SimpleNamespace(histories=early)) == 1


def test_check_real_converts_and_refuses_in_one_line():
    from fractions import Fraction

    import numpy as np
    import pytest

    from snpcnn.errors import InputError, check_real

    assert check_real("x", Fraction(1, 4), 0, 1) == 0.25
    assert check_real("x", np.float32(0.5), 0, 1) == 0.5
    for bad in (10**400, np.bool_(True), True, float("nan"), "0.1", None):
        with pytest.raises(InputError, match="x must be a finite number >= 0"):
            check_real("x", bad, 0)


def test_reports_name_the_heterozygote_indicators_of_the_lasso_start():
    from snpcnn.report import _kernel_start_text

    starts = {"RR-BLUP": 2, "GBLUP-AD": 1, "LASSO": 3}
    c = {"conv_folds": 5, "conv_gate": 0.05}
    for short in (False, True):
        text = _kernel_start_text(1, 6, starts, c, short, 2)
        assert "in 2 of these 3 fits also on heterozygote indicators" in text
        for none in (None, 0):  # never fitted with the indicators, or never kept: v16's words
            plain = _kernel_start_text(1, 6, starts, c, short, none)
            assert "heterozygote" not in plain and "the LASSO (sparse linear model" in plain


def test_benchmark_rows_name_the_lasso_starts_with_indicators():
    from snpcnn.bench import _conv_kept_rows

    unit = {"dataset": "d", "trait": "t", "model": "m", "conv_kept": (0, 5)}
    bench = SimpleNamespace(
        units=[
            {**unit, "seed": 0, "start_counts": {"RR-BLUP": 1, "LASSO": 4}, "lasso_dominance": 3},
            {**unit, "seed": 1, "start_counts": {"RR-BLUP": 2, "LASSO": 3}, "lasso_dominance": 1},
        ]
    )
    (row,) = _conv_kept_rows(bench)
    assert row["starts"] == "RR-BLUP 3, LASSO 7 (4 with heterozygote indicators)"
    for none in (None, 0):
        for u in bench.units:
            u["lasso_dominance"] = none
        assert _conv_kept_rows(bench)[0]["starts"] == "RR-BLUP 3, LASSO 7"
