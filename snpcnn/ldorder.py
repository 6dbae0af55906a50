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

Average linkage needs the whole SNPs x SNPs ``1 - r^2`` matrix, so it seriates at most
:data:`LD_ORDER_MAX_SNPS` SNPs.  Above that (up to :data:`LD_KNN_MAX_SNPS`),
:func:`knn_ld_order` reads the order off a sparse LD graph instead: each SNP's
:data:`LD_KNN_NEIGHBOURS` SNPs of highest ``r^2`` (from column blocks of ``z' z`` on at most
:data:`LD_ORDER_ROWS` evenly spaced rows), its minimum spanning tree on ``1 - r^2`` and a
depth-first walk of that tree, so SNPs of one LD cluster stay side by side.  Memory grows
with the rows used x SNPs and one block, not with SNPs^2.
"""

from __future__ import annotations

import warnings

import numpy as np

from snpcnn.errors import InputError

__all__ = [
    "LD_ADJACENT_RATIO",
    "LD_KNN_MAX_SNPS",
    "LD_KNN_NEIGHBOURS",
    "LD_ORDER_MAX_SNPS",
    "LD_ORDER_ROWS",
    "ORDER_MODES",
    "knn_ld_order",
    "ld_order",
    "order_ld",
    "panel_order",
    "screen_order",
]

#: ``[screen] order`` values
ORDER_MODES = ("file", "ld", "auto")
#: the most SNPs seriated by average linkage (a SNPs x SNPs correlation matrix: 10,000 SNPs
#: take ~1.2 GB); more are seriated by :func:`knn_ld_order`
LD_ORDER_MAX_SNPS = 10_000
#: the most SNPs seriated at all (by :func:`knn_ld_order`: about 2 rows x SNPs^2 flops;
#: 69 s at 1,300 rows x 50,000 SNPs on 2 cores, benchmarks/bench_ld_order.py)
LD_KNN_MAX_SNPS = 50_000
#: LD neighbours per SNP in :func:`knn_ld_order`'s graph
LD_KNN_NEIGHBOURS = 10
#: the most (evenly spaced) rows :func:`knn_ld_order` estimates r^2 on
LD_ORDER_ROWS = 2_000
#: bytes of one block of r^2 values in :func:`knn_ld_order`
_KNN_BLOCK_BYTES = 64 * 2**20
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
    n, p = np.shape(x)[:2]
    if p < 2 or n < 3:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, p, _RANDOM_PAIRS)
    j = (i + rng.integers(1, p, _RANDOM_PAIRS)) % p  # never i itself
    if p > LD_ORDER_MAX_SNPS:  # column chunks: no float64 copy of the whole matrix
        x = np.asarray(x)
        step = 4096
        adj = [_adjacent_products(_per_snp(x[:, c : c + step + 1])) for c in range(0, p - 1, step)]
        adjacent = float(np.mean(np.concatenate(adj) ** 2) / n**2)
        rand = float(np.mean(np.einsum("ij,ij->j", _per_snp(x[:, i]), _per_snp(x[:, j])) ** 2))
        return adjacent, rand / n**2
    z = _per_snp(x)
    adjacent = float(np.mean(_adjacent_products(z) ** 2) / n**2)
    rand = float(np.mean(np.einsum("ij,ij->j", z[:, i], z[:, j]) ** 2) / n**2)
    return adjacent, rand


def _even_rows(n: int, most: int) -> np.ndarray:
    """At most ``most`` evenly spaced row numbers of ``range(n)`` (all of them if fewer)."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(np.int64))


def _adjacent_products(z: np.ndarray) -> np.ndarray:
    """``z[:, j] . z[:, j + 1]`` for every adjacent pair of columns."""
    return np.einsum("ij,ij->j", z[:, :-1], z[:, 1:])


def panel_order(dosages, max_rows: int = 1000, max_snps: int = 10_000) -> dict:
    """Whether a genotype matrix's column order carries LD (``snpcnn info``): the mean r^2
    of adjacent SNPs and of random pairs on at most ``max_rows`` evenly spaced samples and
    the middle ``max_snps`` SNPs (int8 dosages, -1 = missing, imputed with the column mean),
    and ``map_order`` = adjacent >= :data:`LD_ADJACENT_RATIO` x random."""
    n, p = dosages.shape
    rows = _even_rows(n, max_rows)
    c0 = max(0, (p - max_snps) // 2)
    from snpcnn.genotypes import check_codes  # (genotypes imports this module)

    block = np.asarray(dosages[rows][:, c0 : c0 + max_snps])
    check_codes(dosages, block)  # a damaged cache (session 43)
    x = block.astype(np.float64)
    miss = x < 0
    if miss.any():
        x[miss] = np.nan
        with warnings.catch_warnings():  # an all-missing SNP: no mean (filled with 0)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(x, axis=0)
        x = np.where(miss, np.where(np.isnan(mean), 0.0, mean), x)
    adjacent, rand = order_ld(x)
    return {
        "adjacent_r2": adjacent,
        "random_r2": rand,
        # no LD at all (e.g. every genotype missing) is no map order
        "map_order": bool(adjacent > 0 and adjacent >= LD_ADJACENT_RATIO * rand),
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


def knn_ld_order(x: np.ndarray, k: int | None = None) -> np.ndarray:
    """The SNPs (columns of ``x``, rows = samples) seriated by LD without a SNPs x SNPs
    matrix: the depth-first order of the minimum spanning tree of each SNP's ``k``
    (default :data:`LD_KNN_NEIGHBOURS`) highest-``r^2`` neighbours, on ``1 - r^2``, walked
    from one end of the tree (its hop-farthest SNP).  ``r^2`` is computed in float32 on at
    most :data:`LD_ORDER_ROWS` evenly spaced rows.  Separate trees (SNPs with no LD path
    between them) follow one another.  Deterministic; a permutation of ``range(p)``.  On
    panels a map orders, it puts SNPs in LD side by side about as well as :func:`ld_order`
    (docs/models.md)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import (
        breadth_first_order,
        connected_components,
        depth_first_order,
        minimum_spanning_tree,
    )

    x = np.asarray(x)
    n, p = x.shape[:2]
    if p > LD_KNN_MAX_SNPS:
        raise InputError(
            f"seriating {p:,} SNPs by LD is above the limit of {LD_KNN_MAX_SNPS:,}: set "
            '`[screen] order = "file"` (or "auto") in the architecture, or give the SNPs in '
            "map order"
        )
    if p < 3:
        return np.arange(p)
    rows = _even_rows(n, LD_ORDER_ROWS)
    xr = x[rows]
    if xr.ndim == 3:  # one-hot channels read as a dosage, as in _per_snp
        xr = xr @ np.arange(1, xr.shape[2] + 1, dtype=np.float32)
    z = np.array(xr, dtype=np.float32)
    z -= z.mean(axis=0, dtype=np.float64).astype(np.float32)
    sd = z.std(axis=0, dtype=np.float64)
    z /= np.where(sd > 0, sd, 1.0).astype(np.float32)
    m = len(rows)
    k = max(1, min(int(k or LD_KNN_NEIGHBOURS), p - 1))
    block = max(1, min(p, _KNN_BLOCK_BYTES // (4 * p)))
    src = np.empty((p, k), np.int64)
    dst = np.empty((p, k), np.int64)
    r2 = np.empty((p, k), np.float64)
    for s0 in range(0, p, block):
        s1 = min(p, s0 + block)
        c = z[:, s0:s1].T @ z
        c /= m
        np.square(c, out=c)
        c[np.arange(s1 - s0), np.arange(s0, s1)] = -1.0  # never its own neighbour
        nb = np.argpartition(-c, k - 1, axis=1)[:, :k]
        src[s0:s1] = np.arange(s0, s1)[:, None]
        dst[s0:s1] = nb
        r2[s0:s1] = np.take_along_axis(c, nb, axis=1)
    # 1 - r^2 as the edge length (a small floor: a zero would read as "no edge")
    length = 1.0 - np.clip(r2.ravel(), 0.0, 1.0) + 1e-9
    g = coo_matrix((length, (src.ravel(), dst.ravel())), shape=(p, p)).tocsr()
    g = g.maximum(g.T)  # symmetric: an edge either SNP chose
    tree = minimum_spanning_tree(g)
    tree = (tree + tree.T).tocsr()
    n_parts, label = connected_components(tree, directed=False)
    parts = []
    for part in range(n_parts):
        first = int(np.flatnonzero(label == part)[0])
        end = int(breadth_first_order(tree, first, directed=False, return_predecessors=False)[-1])
        parts.append(depth_first_order(tree, end, directed=False, return_predecessors=False))
    return np.concatenate(parts).astype(np.int64)


def screen_order(x, mode: str) -> tuple[np.ndarray | None, dict]:
    """The order the screen reads the SNPs of ``x`` (a training part) in, for
    ``[screen] order = mode``: ``(permutation or None for the file's order, record)``.

    The record (run.json, ``conv.screen_order``) says which order was used and why, with
    the adjacent and random-pair mean ``r^2`` of the file's order (and of the LD order
    where used) and ``method``: ``"average_linkage"`` (:func:`ld_order`, up to
    :data:`LD_ORDER_MAX_SNPS` SNPs) or ``"knn_tree"`` (:func:`knn_ld_order`, up to
    :data:`LD_KNN_MAX_SNPS`; the mean ``r^2`` are then those of at most
    :data:`LD_ORDER_ROWS` evenly spaced rows).  Streamed genotypes and more than
    :data:`LD_KNN_MAX_SNPS` SNPs keep the file's order under ``"auto"`` (the record says so)
    and are an error under ``"ld"``.
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
    p = x.shape[1]
    exact = p <= LD_ORDER_MAX_SNPS
    xr = x
    if not exact:  # r^2 on at most LD_ORDER_ROWS evenly spaced rows, as knn_ld_order
        rows = _even_rows(len(x), LD_ORDER_ROWS)
        xr = x[rows]
        rec["rows"] = int(len(rows))
    adjacent, rand = order_ld(xr)
    rec.update({"file_adjacent_r2": adjacent, "random_r2": rand})
    if mode == "auto" and not adjacent < LD_ADJACENT_RATIO * rand:
        return None, {**rec, "used": "file", "why": "the file's order carries LD"}
    if p > LD_KNN_MAX_SNPS:
        if mode == "ld":
            knn_ld_order(x)  # its one-line error
        why = f"the file's order carries no LD, but more than {LD_KNN_MAX_SNPS:,} SNPs"
        return None, {**rec, "used": "file", "why": why}
    # knn_ld_order would take the same evenly spaced rows again: give it them
    order = ld_order(x) if exact else knn_ld_order(xr)
    rec.update(
        {
            "used": "ld",
            "why": "requested" if mode == "ld" else "the file's order carries no LD",
            "method": "average_linkage" if exact else "knn_tree",
            "ld_adjacent_r2": order_ld(np.asarray(xr)[:, order])[0],
        }
    )
    return order, rec
