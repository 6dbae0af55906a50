"""The committed published table is exactly what its script generates from the archived runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _script():
    path = REPO / "benchmarks" / "published_table.py"
    spec = importlib.util.spec_from_file_location("published_table", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["published_table"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_committed_table_regenerates_from_the_archive(tmp_path):
    pt = _script()
    # an empty --bench-dir: everything comes from benchmarks/results/
    assert pt.render(tmp_path) == (REPO / "docs" / "bench" / "published_table.md").read_text()


def test_archived_results_hold_every_fold_of_their_runs():
    pt = _script()
    for run in pt.RUNS:
        path = pt.ARCHIVE / run / "results.csv.gz"
        if not path.exists():
            continue
        r = pd.read_csv(path)
        r = r[r["metric"] == "pearson_r"]
        # every model has the same folds as GBLUP for every trait
        for trait, d in r.groupby("trait"):
            folds = d.groupby("model").size()
            assert folds.nunique() == 1, (run, trait, folds.to_dict())
            assert "GBLUP" in folds.index, (run, trait)


def test_archive_then_render_uses_fresh_results_over_legacy_cells(tmp_path, monkeypatch):
    pt = _script()
    monkeypatch.setattr(pt, "ARCHIVE", tmp_path / "archive")
    monkeypatch.setattr(pt, "LEGACY", tmp_path / "archive" / "legacy_cells.csv")
    (tmp_path / "archive").mkdir()
    pd.DataFrame(
        [{"run": "mice_presets", "model": "mlp", "trait": "Obesity.BMI", "cell": "0.111 (1/15)"}]
    ).to_csv(pt.LEGACY, index=False)
    text = pt.render(tmp_path / "none")
    assert "| mlp | 0.111 (1/15) | not run |" in text
    # a fresh run of mice_presets replaces its legacy cells
    run = tmp_path / "bench" / "mice_presets"
    run.mkdir(parents=True)
    rows = []
    for fold, (g, m) in enumerate([(0.5, 0.6), (0.4, 0.3)], start=1):
        for model, v in (("GBLUP", g), ("mlp", m)):
            rows.append(
                {
                    "dataset": "mice",
                    "trait": "Obesity.BMI",
                    "seed": 0,
                    "repeat": 0,
                    "fold": fold,
                    "model": model,
                    "metric": "pearson_r",
                    "value": v,
                    "status": "ok",
                }
            )
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    (run / "results.md").write_text("# snpcnn benchmark: mice\n")
    assert pt.archive(tmp_path / "bench") == ["mice_presets"]
    assert (pt.ARCHIVE / "mice_presets" / "results.csv.gz").exists()
    text = pt.render(tmp_path / "none")  # read back from the archive alone
    assert "| mlp | 0.450 (1/2) | not run |" in text and "0.111" not in text
    assert "## Full output: `mice_presets`" in text and "\n## snpcnn benchmark: mice\n" in text


def test_a_model_split_over_runs_by_repeat_is_joined_against_gblup_on_the_same_folds():
    pt = _script()

    def rows(run, model, values, repeats):
        return [
            {
                "run": run,
                "model": model,
                "trait": "GY_E1",
                "seed": 0,
                "repeat": r,
                "fold": f,
                "value": v,
                "status": "ok",
            }
            for (r, f), v in zip([(r, f) for r in repeats for f in (1, 2)], values)
        ]

    runs = ["full", "part0", "part1"]
    d = pd.DataFrame(
        rows("full", "GBLUP", [0.5, 0.4, 0.3, 0.2], [0, 1])
        + rows("part0", "GBLUP", [0.9, 0.9], [0])  # a duplicate baseline fold: not used
        + rows("part0", "dnngp", [0.6, 0.3], [0])
        + rows("part1", "GBLUP", [0.3, 0.2], [1])
        + rows("part1", "dnngp", [0.1, 0.25], [1])
    )
    once = pt._folds_once(d[d["model"] == "GBLUP"], runs)
    assert once["value"].tolist() == [0.5, 0.4, 0.3, 0.2]
    dn = pt._folds_once(d[d["model"] == "dnngp"], runs)
    # mean of the 4 folds; wins where dnngp > GBLUP: (0,1) 0.6 > 0.5 and (1,2) 0.25 > 0.2
    assert pt._cell(dn, once) == "0.312 (2/4)"
