"""Plotting helpers: Manhattan-style genome plots, image grids, heat rows, line grids.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, so
no global backend state) and written atomically: to a temporary file in the
target directory, then moved into place with :func:`os.replace`, so a crash
never leaves a half-written PNG.  Existing files are only replaced with
``force=True``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from snpcnn.errors import InputError
from snpcnn.io.output import ready_to_replace

__all__ = [
    "save_figure",
    "check_writable",
    "chrom_order",
    "genome_coordinates",
    "manhattan",
    "LabelLayout",
    "image_grid",
    "line_grid",
    "heat_rows",
    "CHROM_COLOURS",
]

CHROM_COLOURS = ("#1f4e79", "#74a9cf")


def check_writable(path, force: bool = False) -> Path:
    """Return ``path`` as a Path; raise if it exists and ``force`` is False."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path} already exists; use force=True (--force) to overwrite")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig: Figure, path, force: bool = False, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (PNG, or the format of the suffix) atomically.

    Parameters
    ----------
    fig : matplotlib Figure
    path : path
        Destination; its parent directory is created if needed.
    force : bool
        Overwrite an existing file.
    dpi : int

    Returns
    -------
    Path
    """
    path = check_writable(path, force)
    fmt = path.suffix.lstrip(".").lower() or "png"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight")
        ready_to_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _chrom_key(c: str):
    s = str(c)
    s2 = re.sub(r"^(chr)", "", s, flags=re.IGNORECASE)
    if s2.isdigit():
        return (0, int(s2), "")
    special = {"X": 1, "Y": 2, "XY": 3, "MT": 4, "M": 4}
    return (1, special.get(s2.upper(), 9), s2)


def chrom_order(chroms: Sequence) -> list[str]:
    """Chromosome names in natural order (1, 2, ..., 10, ..., X, Y, MT, others)."""
    return sorted({str(c) for c in chroms}, key=_chrom_key)


def genome_coordinates(chrom, pos) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """x coordinates placing chromosomes end to end, and (name, centre) ticks.

    Within a chromosome SNPs are placed by ``pos`` (by their order when all
    positions are 0); each chromosome is scaled to its span plus a 2% gap.
    """
    chrom = np.asarray([str(c) for c in chrom])
    pos = np.asarray(pos, dtype=float)
    if len(pos) and np.all(pos == 0):
        pos = np.arange(len(pos), dtype=float)
    x = np.zeros(len(chrom))
    ticks = []
    offset = 0.0
    order = chrom_order(chrom)
    spans = {}
    for c in order:
        m = chrom == c
        p = pos[m]
        spans[c] = (p.min(), max(p.max() - p.min(), 1.0))
    gap = 0.02 * sum(s for _, s in spans.values())
    for c in order:
        m = chrom == c
        lo, span = spans[c]
        x[m] = offset + (pos[m] - lo)
        ticks.append((c, offset + span / 2))
        offset += span + gap
    return x, ticks


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class LabelLayout(Artist):
    """Lays out annotation labels so that no two text boxes overlap, when the figure is drawn.

    The labels (in priority order: the first keeps the place nearest its point) are
    placed in display space, so the layout holds for the final size of the axes
    (after ``tight_layout`` or ``bbox_inches="tight"``).  Each label goes to the
    first free place among: above its point, then shifted sideways by half a label
    width at a time, then one text line higher, and so on; a thin leader line joins
    a moved label to its point.  Drawn (invisibly) just before the labels.
    """

    def __init__(self, annotations, pad_points: float = 3.0, max_shift: int = 8):
        super().__init__()
        self.annotations = list(annotations)
        self.pad_points = pad_points
        self.max_shift = max_shift
        self.set_zorder(min((a.get_zorder() for a in self.annotations), default=3) - 0.01)

    def layout(self, renderer) -> list[tuple[float, float, float, float]]:
        """Place the labels; returns their text boxes (x0, y0, x1, y1) in pixels."""
        from matplotlib.text import Text

        px = renderer.points_to_pixels(1.0)
        pad = self.pad_points * px
        placed: list[tuple[float, float, float, float]] = []  # with a small margin
        boxes: list[tuple[float, float, float, float]] = []
        for ann in self.annotations:
            ann.xyann = (0.0, self.pad_points)
            box = Text.get_window_extent(ann, renderer)
            w, h = box.width, box.height
            ax = ann.axes
            xmin, xmax = ax.get_window_extent(renderer).intervalx
            x, y = ax.transData.transform(ann.xy)
            gap = 0.15 * h
            rect = None
            level = 0
            while rect is None:
                dy = pad + level * (h + gap)
                for k in range(2 * self.max_shift + 1):
                    dx = ((k + 1) // 2) * (0.55 * w) * (1 if k % 2 else -1)
                    r = (x + dx - w / 2, y + dy, x + dx + w / 2, y + dy + h)
                    inside = r[0] >= xmin and r[2] <= xmax
                    if (inside or level > 40) and not any(_overlaps(r, q) for q in placed):
                        rect = r
                        ann.xyann = (dx / px, dy / px)
                        break
                level += 1
            placed.append((rect[0] - gap, rect[1] - gap, rect[2] + gap, rect[3] + gap))
            boxes.append(rect)
        return boxes

    def draw(self, renderer):
        if self.annotations:
            self.layout(renderer)
        self.stale = False


def manhattan(
    ax,
    chrom,
    pos,
    values,
    labels=None,
    top_k: int = 10,
    ylabel: str = "",
    title: str = "",
    highlight=None,
    point_size: float = 6.0,
) -> np.ndarray:
    """Draw ``values`` along the genome on ``ax``, chromosomes coloured alternately.

    Parameters
    ----------
    ax : matplotlib Axes
    chrom, pos, values : sequences of equal length
    labels : sequence of str, optional
        Names of the SNPs; the ``top_k`` largest values are annotated with them.
    top_k : int
    ylabel, title : str
    highlight : array of int, optional
        Indices of SNPs to mark with a red ring (e.g. known causal SNPs).
    point_size : float

    Returns
    -------
    array of int
        Indices of the ``top_k`` labelled SNPs (largest values first).
    """
    values = np.asarray(values, dtype=float)
    x, ticks = genome_coordinates(chrom, pos)
    chrom = np.asarray([str(c) for c in chrom])
    for i, c in enumerate(chrom_order(chrom)):
        m = chrom == c
        ax.scatter(x[m], values[m], s=point_size, color=CHROM_COLOURS[i % 2], linewidths=0)
    if highlight is not None and len(highlight):
        h = np.asarray(highlight)
        ax.scatter(
            x[h], values[h], s=point_size * 6, facecolors="none", edgecolors="red", linewidths=0.8
        )
    finite = np.where(np.isfinite(values), values, -np.inf)
    top = np.argsort(-finite, kind="stable")[: max(0, top_k)]
    top = top[np.isfinite(values[top])]
    if labels is not None and len(top):
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.35 * (hi - lo))  # headroom for the labels
        notes = [
            ax.annotate(
                str(labels[i]),
                (x[i], values[i]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
                annotation_clip=False,
                arrowprops=dict(arrowstyle="-", lw=0.4, color="0.45", shrinkA=0, shrinkB=1.5),
            )
            for i in top
        ]
        ax.add_artist(LabelLayout(notes))
    ax.set_xticks([t for _, t in ticks])
    ax.set_xticklabels([c for c, _ in ticks], fontsize=7)
    ax.set_xlabel("chromosome")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.margins(x=0.01)
    return top


def _grid(n: int, ncols: int | None) -> tuple[int, int]:
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols


def image_grid(
    images,
    path,
    titles=None,
    ncols: int | None = None,
    cmap: str = "viridis",
    suptitle: str = "",
    force: bool = False,
    panel_size: float = 1.6,
) -> Path:
    """Save a grid of 2-D images (``(n, H, W)``, ``(n, H, W, 1)`` or RGB ``(n, H, W, 3)``).

    Each image is min-max scaled on its own for display.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise InputError(
            f"image_grid expects (n, H, W), (n, H, W, 1) or (n, H, W, 3) images; got {images.shape}"
        )
    n = len(images)
    if n == 0:
        raise InputError("image_grid: no images to plot")
    rows, cols = _grid(n, ncols)
    fig = Figure(figsize=(panel_size * cols, panel_size * rows + (0.4 if suptitle else 0)))
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if i >= n:
            continue
        im = images[i]
        lo, hi = np.nanmin(im), np.nanmax(im)
        im = (im - lo) / (hi - lo) if hi > lo else np.zeros_like(im)
        ax.imshow(im, cmap=None if im.ndim == 3 else cmap, interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return save_figure(fig, path, force=force)


def line_grid(
    profiles,
    path,
    titles=None,
    ncols: int | None = None,
    series_labels=None,
    suptitle: str = "",
    xlabel: str = "",
    force: bool = False,
) -> Path:
    """Save a grid of small line plots; ``profiles`` is ``(n, length, n_series)``."""
    profiles = np.asarray(profiles, dtype=float)
    if profiles.ndim == 2:
        profiles = profiles[..., None]
    if profiles.ndim != 3 or len(profiles) == 0:
        raise InputError(f"line_grid expects (n, length, n_series) profiles; got {profiles.shape}")
    n = len(profiles)
    rows, cols = _grid(n, ncols)
    fig = Figure(figsize=(2.2 * cols, 1.6 * rows + (0.4 if suptitle else 0)))
    x = np.arange(profiles.shape[1])
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        for s in range(profiles.shape[2]):
            label = None if series_labels is None else str(series_labels[s])
            ax.plot(x, profiles[i, :, s], marker="o", markersize=2, linewidth=1, label=label)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.tick_params(labelsize=6)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
        if xlabel:
            ax.set_xlabel(xlabel, fontsize=6)
        if i == 0 and series_labels is not None:
            ax.legend(fontsize=5)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, force=force)


def heat_rows(ax, matrix, title: str = "", xlabel: str = "", ylabel: str = "", cmap="magma"):
    """Draw a ``(rows, length)`` matrix as heat rows (one row per channel)."""
    matrix = np.asarray(matrix, dtype=float)
    im = ax.imshow(matrix, aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=6)
    return im
