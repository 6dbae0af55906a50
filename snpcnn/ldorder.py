"""The order in which the convolutions' windows read the SNPs: the file's, or one seriated by LD.

A convolution over windows of adjacent columns assumes that adjacent columns are linked
SNPs (a genetic map order).  Many breeding panels have no map: DArT and GBS markers, or a
CSV matrix whose columns were sorted by name.  The shipped wheat panel is one (CHROM 0, the
columns in the data provider's order): there, adjacent markers are hardly more correlated
than random pairs (mean |r| 0.119 vs 0.104), so every 5-SNP window groups unlinked markers
and a local interaction cannot be found.

:func:`ld_order` seriates the columns by LD instead: average-linkage clustering of the SNPs
on ``1 - r^2`` (computed on the rows given, i.e. a training part's genotypes; no trait
values), read off in the dendrogram's leaf order, so that SNPs in LD end up side by side
(wheat: adjacent mean |r| 0.12 -> 0.67).  :func:`screen_order` decides per training part
(``[screen] order`` of the architecture): ``"file"`` keeps the file's order, ``"ld"``
always seriates, and ``"auto"`` seriates where the file's order carries no LD, i.e. where
adjacent SNPs' mean ``r^2`` is below :data:`LD_ADJACENT_RATIO` times that of random pairs.
"""

from __future__ import annotations

import numpy as np

from snpcnn.errors import InputError

__all__ = [
    "LD_ADJACENT_RATIO",
    "LD_ORDER_MAX_SNPS",
    "ORDER_MODES",
    "ld_order",
    "order_ld",
    "panel_order",
    "screen_order",
]

#: ``[screen] order`` values
ORDER_MODES = ("file", "ld", "auto")
#: the most SNPs seriated (a SNPs x SNPs correlation matrix: 10,000 SNPs take ~1.2 GB)
LD_ORDER_MAX_SNPS = 10_000
#: "auto" keeps the file's order where adjacent SNPs' mean r^2 is at least this many times
#: that of random pairs (a map order: mice 0.64 vs 0.01; the wheat panel 0.03 vs 0.02)
LD_ADJACENT_RATIO = 2.0
#: random pairs that estimate the mean r^2 of unlinked SNPs
_RANDOM_PAIRS = 4000


def _per_snp(x: np.ndarray) -> np.ndarray:
    """One column per SNP, standardised (float64; constant columns stay 0).  Several channels
    per SNP (one-hot genotypes) are read as ``sum_c (c + 1) x_c``, a dosage up to a shift."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x @ np.arange(1, x.shape[2] + 1, dtype=np.float64)
    z = np.asarray(x, dtype=np.float64)
    z = z - z.mean(axis=0)
    sd = z.std(axis=0)
    z /= np.where(sd > 0, sd, 1.0)
    return z


def order_ld(x: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """``(adjacent, random)``: mean ``r^2`` of adjacent SNPs in the given order, and of
    :data:`_RANDOM_PAIRS` random pairs of distinct SNPs (fixed ``seed``)."""
    z = _per_snp(x)
    n, p = z.shape
    if p < 2 or n < 3:
        return float("nan"), float("nan")
    adjacent = float(np.mean(np.einsum("ij,ij->j", z[:, :-1], z[:, 1:]) ** 2) / n**2)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, p, _RANDOM_PAIRS)
    j = (i + rng.integers(1, p, _RANDOM_PAIRS)) % p  # never i itself
    rand = float(np.mean(np.einsum("ij,ij->j", z[:, i], z[:, j]) ** 2) / n**2)
    return adjacent, rand


def panel_order(dosages, max_rows: int = 1000, max_snps: int = 10_000) -> dict:
    """Whether a genotype matrix's column order carries LD (``snpcnn info``): the mean r^2
    of adjacent SNPs and of random pairs on at most ``max_rows`` evenly spaced samples and
    the middle ``max_snps`` SNPs (int8 dosages, -1 = missing, imputed with the column mean),
    and ``map_order`` = adjacent >= :data:`LD_ADJACENT_RATIO` x random."""
    n, p = dosages.shape
    rows = np.unique(np.linspace(0, n - 1, min(n, max_rows)).round().astype(np.int64))
    c0 = max(0, (p - max_snps) // 2)
    x = np.asarray(dosages[rows][:, c0 : c0 + max_snps], dtype=np.float64)
    miss = x < 0
    if miss.any():
        x[miss] = np.nan
        mean = np.nanmean(x, axis=0)
        x = np.where(miss, np.where(np.isnan(mean), 0.0, mean), x)
    adjacent, rand = order_ld(x)
    return {
        "adjacent_r2": adjacent,
        "random_r2": rand,
        "map_order": bool(adjacent >= LD_ADJACENT_RATIO * rand),
        "rows": int(len(rows)),
        "snps": int(x.shape[1]),
    }


def ld_order(x: np.ndarray) -> np.ndarray:
    """The SNPs (columns of ``x``, rows = samples) seriated by LD: the leaf order of an
    average-linkage dendrogram on ``1 - r^2``.  Deterministic; a permutation of
    ``range(p)``.  At most :data:`LD_ORDER_MAX_SNPS` SNPs."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    z = _per_snp(x)
    n, p = z.shape
    if p > LD_ORDER_MAX_SNPS:
        raise InputError(
            f"seriating {p:,} SNPs by LD needs a {p:,} x {p:,} correlation matrix; the limit "
            f'is {LD_ORDER_MAX_SNPS:,}: set `[screen] order = "file"` (or "auto") in the '
            "architecture, or give the SNPs in map order"
        )
    if p < 3:
        return np.arange(p)
    d = z.T @ z
    d /= n
    np.square(d, out=d)
    np.subtract(1.0, d, out=d)
    np.clip(d, 0.0, 1.0, out=d)
    np.fill_diagonal(d, 0.0)
    cond = squareform(d, checks=False)  # the condensed upper triangle that linkage takes
    del d
    return np.asarray(leaves_list(linkage(cond, method="average")), dtype=np.int64)


def screen_order(x, mode: str) -> tuple[np.ndarray | None, dict]:
    """The order the screen reads the SNPs of ``x`` (a training part) in, for
    ``[screen] order = mode``: ``(permutation or None for the file's order, record)``.

    The record (run.json, ``conv.screen_order``) says which order was used and why, with
    the adjacent and random-pair mean ``r^2`` of the file's order (and of the LD order
    where used).  Streamed genotypes and more than :data:`LD_ORDER_MAX_SNPS` SNPs keep the
    file's order under ``"auto"`` (the record says so) and are an error under ``"ld"``.
    """
    if mode not in ORDER_MODES:
        raise InputError(f"[screen] order must be one of {', '.join(ORDER_MODES)}, got {mode!r}")
    if mode == "file":
        return None, {"mode": mode, "used": "file"}
    rec: dict = {"mode": mode}
    if not isinstance(x, np.ndarray):
        if mode == "ld":
            raise InputError(
                '`[screen] order = "ld"` needs the genotypes in memory; streamed genotypes '
                '(large data) keep the file\'s order: use order = "auto" or "file"'
            )
        return None, {**rec, "used": "file", "why": "streamed genotypes are not seriated"}
    adjacent, rand = order_ld(x)
    rec.update({"file_adjacent_r2": adjacent, "random_r2": rand})
    if mode == "auto" and not adjacent < LD_ADJACENT_RATIO * rand:
        return None, {**rec, "used": "file", "why": "the file's order carries LD"}
    if mode == "auto" and x.shape[1] > LD_ORDER_MAX_SNPS:
        why = f"the file's order carries no LD, but more than {LD_ORDER_MAX_SNPS:,} SNPs"
        return None, {**rec, "used": "file", "why": why}
    order = ld_order(x)
    rec.update(
        {
            "used": "ld",
            "why": "requested" if mode == "ld" else "the file's order carries no LD",
            "ld_adjacent_r2": order_ld(np.asarray(x)[:, order])[0],
        }
    )
    return order, rec
