"""report._plots: the observed-vs-predicted panels stay readable with long model names."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

START = "CNN start (RR-BLUP, CNN-GP, GBLUP-AD or LASSO, by REML or inner CV)"


def test_long_model_names_do_not_run_into_the_next_panel(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snpcnn.report import _plots

    models = ["CNN (convolutions on the start, kept where they help)", START, "GBLUP"]
    rng = np.random.default_rng(0)
    rows = [
        {"trait": "GY", "repeat": 0, "model": m, "observed": o, "predicted": o + rng.normal()}
        for m in models
        for o in rng.normal(size=20)
    ]
    res = SimpleNamespace(
        predictions=pd.DataFrame(rows), traits=["GY"], models=models, histories=[]
    )
    figs = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    assert _plots(res, tmp_path) == ["observed_vs_predicted_GY.png"]
    fig = figs[0]
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    width = fig.bbox.width
    for a, b in zip(boxes, boxes[1:]):
        assert a.x1 <= b.x0, (a, b)  # side by side, not overlapping
    assert all(0 <= b.x0 and b.x1 <= width for b in boxes)
    titles = [ax.get_title() for ax in fig.axes]
    assert all("pooled Pearson r = " in t for t in titles)
    assert titles[1].replace("\n", " ").startswith(START)
    plt.close("all")


def test_the_triple_stage_text_says_where_it_could_not_run():
    """On streamed folds the triple stage never runs: the reports said it 'ran in 0 of N
    fits (where a triple was significant ...)', as if no triple had been found."""
    from snpcnn.report import _triple_stage_text

    stages = {
        "fits": 3,
        "ran": 0,
        "kept": 0,
        "not_offered": {"streamed genotypes (no triple screen)": 3},
    }
    text = _triple_stage_text(stages, short=True)
    assert "ran in 0 of 3 fits" in text
    assert "it could not run in 3 of the 3 fits (streamed folds: the triple screen" in text
    assert "could not run" not in _triple_stage_text({**stages, "not_offered": {}}, True)


def test_learning_curves_give_each_fold_one_colour():
    """The default trains five cross-fitted networks per fold: the colour cycle gave them
    five colours, so the folds' dashed out-of-fold curves shared two colours and the
    legend could not be read (a checking helper, session 42)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snpcnn.report import _learning_curves

    histories = [
        {
            "repeat": 0,
            "fold": k,
            "histories": [{"loss": [1.0, 0.9, 0.8 - 0.01 * j]} for j in range(5)],
            "conv": {"oof_loss": [1.0, 0.95]},
        }
        for k in range(1, 6)
    ]
    fig, ax = plt.subplots()
    assert _learning_curves(ax, histories)
    lines = ax.get_lines()
    assert len(lines) == 5 * 6
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in lines]
    per_fold = [set(colours[6 * k : 6 * k + 6]) for k in range(5)]
    assert all(len(c) == 1 for c in per_fold)  # a fold's networks and its dashed curve
    assert len(set.union(*per_fold)) == 5  # five folds, five colours
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert [line.get_label() for line in dashed] == [f"r0 f{k}" for k in range(1, 6)]
    plt.close(fig)
    # 5 x 10 folds (a repeated random CV): still one colour per fold
    fig, ax = plt.subplots()
    many = [dict(h, fold=k + 1, repeat=r) for r in range(5) for k, h in enumerate(histories * 2)]
    _learning_curves(ax, many)
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()]
    assert len({colours[6 * k] for k in range(50)}) == 50
    plt.close(fig)
