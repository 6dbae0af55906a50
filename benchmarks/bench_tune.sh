#!/usr/bin/env bash
# Time `snpcnn tune` on wheat GY_E1 as the issue's target states it: the shipped 10 outer
# folds, 5 inner folds, 20 trials per outer split, the shipped search space, 2 workers on
# 2 cores (target: < 30 min).  Run it on an otherwise idle machine:
#
#   bash benchmarks/bench_tune.sh                 # --workers 2 (default)
#   WORKERS= bash benchmarks/bench_tune.sh        # serial, for the ratio
#   TRIALS=2 FOLDS=2 bash benchmarks/bench_tune.sh   # a smoke run (2 random outer folds)
#
# It prints the wall time, the outer r of the tuned CNN, the default and GBLUP (summary.md),
# the load average (other jobs on the machine inflate the time), and where the time went:
# task-seconds per inner fit, inner fits saved by pruning, and the share of the workers kept
# busy (docs/bench/tune.md extrapolates the target from these).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORKERS=${WORKERS-2}
TRIALS=${TRIALS:-20}
INNER=${INNER:-5}
FOLDS=${FOLDS:-example_data/wheat_cv_folds.csv}
SPACE=${SPACE:-snpcnn/presets/snpcnn_default.space.toml}
OUT=${OUT:-results/tune_wheat_GY_E1${WORKERS:+_w$WORKERS}}
args=(tune example_data/wheat.bed example_data/wheat_phenotypes.csv --trait GY_E1
      --folds "$FOLDS" --inner-folds "$INNER" --trials "$TRIALS" --space "$SPACE"
      --out "$OUT" --force)
if [[ -n "$WORKERS" ]]; then args+=(--workers "$WORKERS"); fi
echo "command: snpcnn ${args[*]}" >&2
start=$(date +%s)
"$PY" -m snpcnn "${args[@]}"
end=$(date +%s)
echo
echo "wall: $((end - start)) s  (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
sed -n '1,20p' "$OUT/summary.md"
# where the time went: task-seconds of the trials and outer scorings, the share of the
# workers they kept busy, and how many inner fits pruning saved
"$PY" - "$OUT" "${WORKERS:-1}" <<'PYEOF'
import glob, json, sys
import pandas as pd
out, workers = sys.argv[1], int(sys.argv[2])
t = pd.read_csv(f"{out}/trials.csv")
outer = [json.load(open(p))["result"].get("seconds", 0) for p in glob.glob(f"{out}/outer/*.json")]
wall = json.load(open(f"{out}/run.json"))["wall_seconds"]
fits = int(t["inner_folds_run"].sum())
k = len([c for c in t.columns if c.startswith("inner_") and c[6:].isdigit()])
busy = t["seconds"].sum() + sum(outer)
print(f"trials: {len(t)} ({t['state'].value_counts().to_dict()}), {fits} of {len(t) * k} "
      f"inner fits run, {t['seconds'].sum() / max(fits, 1):.1f} task-s per inner fit; "
      f"outer scorings: {len(outer)} units, {sum(outer):.0f} task-s; "
      f"busy {busy / (workers * wall):.0%} of {workers} worker(s) x {wall:.0f} s")
PYEOF
