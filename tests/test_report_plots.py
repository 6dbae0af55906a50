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
