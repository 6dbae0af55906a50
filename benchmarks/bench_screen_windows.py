"""How many of the screen's windows hold both SNPs of a causal pair: v14 to v19 screens.

Session 52 (issue 16; docs/bench/conditional.md). On simulated local epistasis with a map, the
default's screen (32 windows of 5 SNPs, each led by its pair) is run on a fixed-penalty ridge's
leave-one-out residuals of each of the first ``--folds`` training parts of a 5-fold split, as:

* ``v14``: pairs up to 4 SNPs apart (``reach = width``);
* ``v15``: pairs up to 15 apart (``[screen] map_reach = 16``; v16 and v17 add the far-pair
  screen, which changes nothing where no far pair is significant);
* ``v16``: v15 plus the far-pair screen (``[screen] map_all_pairs``; v17's screen too);
* ``v18``: v16's screen with ``[screen] conditional = true`` (forward selection).
* ``v19``: v18's with ``conditional_alpha = 0.05`` and ``conditional_fill = "repeat"``
  (session 53: forward selection while a pair is significant, the other windows repeating
  those).

Printed per trait: for each screen, per fold, the windows (of 10 causal pairs) that hold both
SNPs of a causal pair; then (session 53) the distinct windows near no causal pair (no SNP
within 3 of either SNP of any causal pair, each of the 32 windows counted) and, for v19, the
windows forward selection opened.

The screen sees no test rows.  This measures the screen only, not the
trained model (that is ``benchmarks/configs/simulated_conditional.toml``)::

    python benchmarks/bench_screen_windows.py --folds 3 [--traits "1-40"]
"""

from __future__ import annotations

import argparse

import numpy as np

from snpcnn.simulate import simulate_genotypes, simulate_trait
from snpcnn.training import screen_window_sets

#: (label, genotype seed, simulate_trait arguments): simulated_conditional.toml's six traits and
#: simulated.toml's pairs 1-4 apart
TRAITS = [
    ("reseed, pairs 1-4 apart", 41, {"seed": 44}),
    ("reseed, weak-LD pairs 1-4 apart", 41, {"seed": 45, "pair_ld": "weak"}),
    ("simulated.toml, pairs 1-4 apart", 1, {"seed": 4}),
    ("simulated.toml's genotypes, pairs 1-12 apart", 1, {"seed": 4, "max_gap": 12}),
    ("the same, weak LD", 1, {"seed": 5, "max_gap": 12, "pair_ld": "weak"}),
    ("reseed, pairs 1-12 apart", 41, {"seed": 42, "max_gap": 12}),
    ("reseed, pairs 1-15 apart", 41, {"seed": 43, "max_gap": 15}),
    ("far-pair set, pairs 1-40 apart", 61, {"seed": 62, "max_gap": 40}),
    ("far-pair set, weak-LD pairs 1-40 apart", 61, {"seed": 63, "max_gap": 40, "pair_ld": "weak"}),
]

SCREENS = {
    "v14": {"reach": 5},
    "v15": {"reach": 16},
    "v16": {"reach": 16, "all_pairs": True},
    "v18": {"reach": 16, "all_pairs": True, "conditional": True},
    "v19": {
        "reach": 16,
        "all_pairs": True,
        "conditional": True,
        "conditional_alpha": 0.05,
        "conditional_fill": "repeat",
    },
}


def near_none(sets: list, pairs: list, slack: int = 3) -> int:
    """Windows (of ``sets``) with no SNP within ``slack`` of either SNP of any causal pair."""
    return sum(
        not any(
            any(abs(i - a) <= slack for i in w) and any(abs(i - b) <= slack for i in w)
            for a, b in pairs
        )
        for w in sets
    )


def loo_residuals(x: np.ndarray, y: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """Leave-one-out residuals of a kernel ridge on ``x x' / p`` with penalty ``lam``."""
    k = x @ x.T / x.shape[1]
    h = k @ np.linalg.inv(k + lam * np.eye(len(k)))
    yc = y - y.mean()
    return (yc - h @ yc) / (1 - np.diag(h))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=3, help="training parts screened (of 5)")
    ap.add_argument("--traits", default="", help="only traits whose label holds this text")
    args = ap.parse_args()
    panels: dict[int, object] = {}
    print("| trait | " + " | ".join(SCREENS) + " | windows near no causal pair | v19 picks |")
    for label, geno_seed, kw in TRAITS:
        if args.traits not in label:
            continue
        if geno_seed not in panels:
            panels[geno_seed] = simulate_genotypes(2000, 4000, n_chrom=5, seed=geno_seed)
        g = panels[geno_seed]
        y, causal = simulate_trait(g, "local_epistasis", n_loci=10, h2=0.6, **kw)
        x = g.dosages.astype(np.float64)
        x -= x.mean(axis=0)
        pairs = [tuple(sorted(grp["index"].tolist())) for _, grp in causal.groupby("group")]
        part = np.random.default_rng(0).permutation(np.arange(len(x)) % 5)
        counts: dict[str, list[int]] = {name: [] for name in SCREENS}
        empty: dict[str, list[int]] = {name: [] for name in SCREENS}
        picks: list[int] = []
        for k in range(args.folds):
            train = part != k
            r = loo_residuals(x[train], y.to_numpy()[train])
            for name, kwargs in SCREENS.items():
                info: dict = {}
                sets = screen_window_sets(x[train], r, 32, 5, lead=True, info=info, **kwargs)
                sets = sets.tolist()
                counts[name].append(sum(any(a in w and b in w for w in sets) for a, b in pairs))
                empty[name].append(near_none(sets, pairs))
                if "conditional_windows" in info:
                    picks.append(info["conditional_windows"])
        print(
            f"| {label} | "
            + " | ".join(" / ".join(map(str, counts[name])) for name in SCREENS)
            + " | "
            + ", ".join(f"{name} " + "/".join(map(str, empty[name])) for name in SCREENS)
            + " | "
            + " / ".join(map(str, picks))
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
