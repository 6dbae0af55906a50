"""Manhattan plots: the top-SNP labels are laid out so that no two overlap."""

import itertools

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from snpcnn import plots


def _crowded():
    """400 SNPs on 2 chromosomes; the 10 largest values within 300 bp of chromosome 1."""
    rng = np.random.default_rng(0)
    chrom = np.repeat(["1", "2"], 200)
    pos = np.concatenate([np.arange(200) * 50_000, np.arange(200) * 50_000])
    pos[:200] = np.sort(pos[:200])
    pos[100:110] = 5_000_000 + np.arange(10) * 30  # ten SNPs within 300 bp
    pos[:200] = np.sort(pos[:200])
    values = rng.uniform(0, 2, 400)
    values[100:110] = np.linspace(10, 9.1, 10)
    labels = [f"snp_{i:03d}_long_name" for i in range(400)]
    return chrom, pos, values, labels


def _boxes(fig, ax):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [Text.get_window_extent(t, renderer) for t in ax.texts], fig.bbox


def _overlapping(boxes):
    return [
        (i, j)
        for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
        if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
    ]


def test_crowded_top_snp_labels_do_not_overlap(tmp_path):
    chrom, pos, values, labels = _crowded()
    fig = Figure(figsize=(11, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    top = plots.manhattan(ax, chrom, pos, values, labels=labels, top_k=10, title="t")
    fig.tight_layout()
    assert sorted(top) == list(range(100, 110))
    boxes, figbox = _boxes(fig, ax)
    assert len(boxes) == 10
    assert sorted(t.get_text() for t in ax.texts) == [labels[i] for i in range(100, 110)]
    assert _overlapping(boxes) == []
    for b in boxes:  # and every label is on the figure
        assert figbox.x0 <= b.x0 and b.x1 <= figbox.x1 and figbox.y0 <= b.y0
    # the most important SNP keeps the place right above its point
    first = ax.texts[0]
    assert first.get_text() == labels[100] and first.xyann[0] == 0.0
    # written through save_figure (bbox_inches="tight" draws the layout again)
    assert plots.save_figure(fig, tmp_path / "m.png").stat().st_size > 0


def test_the_crowded_case_overlaps_without_the_layout():
    """The same labels, each left above its point: they pile up (what the layout fixes)."""
    chrom, pos, values, labels = _crowded()
    fig = Figure(figsize=(11, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    plots.manhattan(ax, chrom, pos, values, labels=labels, top_k=10)
    for a in [a for a in ax.artists if isinstance(a, plots.LabelLayout)]:
        a.remove()
    fig.tight_layout()
    boxes, _ = _boxes(fig, ax)
    assert len(_overlapping(boxes)) >= 9


def test_layout_holds_after_a_resize():
    chrom, pos, values, labels = _crowded()
    fig = Figure(figsize=(11, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    plots.manhattan(ax, chrom, pos, values, labels=labels, top_k=10)
    _boxes(fig, ax)
    fig.set_size_inches(6, 3)  # narrower: the points crowd closer still
    boxes, _ = _boxes(fig, ax)
    assert _overlapping(boxes) == []
