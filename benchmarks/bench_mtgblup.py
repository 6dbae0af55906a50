"""The multi-trait GBLUP on the wheat environments (docs/bench/multienv.md): CV1 and CV2,
5-fold, seed 0, GBLUP beside it; in memory and streamed (SNPCNN_STREAM=1, int8 rows in
column blocks), and the seconds of each fit.

    python benchmarks/bench_mtgblup.py [--out bench_out/mtgblup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAITS = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]


def run(scheme: str, stream: str) -> dict:
    from snpcnn.cv import MT_LABEL, cross_validate

    os.environ["SNPCNN_STREAM"] = stream
    t0 = time.perf_counter()
    res = cross_validate(
        ROOT / "example_data" / "wheat.bed",
        ROOT / "example_data" / "wheat_phenotypes.csv",
        TRAITS,
        folds=5,
        cnn=False,
        baselines=["gblup", "mtgblup"],
        refit=False,
        cv_scheme=scheme,
        seed=0,
    )
    seconds = time.perf_counter() - t0
    m = res.metrics[res.metrics.metric == "pearson_r"]
    table = {
        model: {
            t: [round(float(m[(m.model == model) & (m.trait == t)].value.mean()), 4),
                round(float(m[(m.model == model) & (m.trait == t)].value.std()), 4)]
            for t in TRAITS
        }
        for model in ("GBLUP", MT_LABEL)
    }  # fmt: skip
    pred = res.predictions[res.predictions.model == MT_LABEL].sort_values(
        ["sample_id", "trait", "fold"]
    )
    return {"r": table, "seconds": seconds, "pred": pred["predicted"].to_numpy()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench_out/mtgblup.json")
    args = ap.parse_args()
    out = {}
    for scheme in ("cv1", "cv2"):
        mem = run(scheme, "0")
        streamed = run(scheme, "1")
        out[scheme] = {
            "r": mem["r"],
            "seconds_in_memory": round(mem["seconds"], 2),
            "seconds_streamed": round(streamed["seconds"], 2),
            "max_abs_diff_streamed": float(np.max(np.abs(mem["pred"] - streamed["pred"]))),
        }
        print(scheme, json.dumps(out[scheme], indent=1), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
