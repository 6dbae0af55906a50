#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md, measured in one short run on a GPU machine.
#
# The GPU machines lent to this project (NVIDIA H100/H200) have JAX with CUDA but no
# TensorFlow, cannot reach a package index, and take at most 64 MiB of carried files, far
# less than a TensorFlow GPU wheel. So snpcnn runs there on Keras's JAX backend
# (KERAS_BACKEND=jax; docs/models.md, "Keras backends"), with the few wheels it needs that
# the machine lacks.
#
# 1. Here (with a package index), once:
#        bash benchmarks/gpu_check.sh prepare
#    downloads those wheels (for Python 3.12, x86-64) into .whl/ and copies the mice data
#    into .gpu_data/; both are git-ignored through .git/info/exclude (about 15 MiB).
# 2. There, from the repository root, with .whl and .gpu_data carried:
#        bash benchmarks/gpu_check.sh run "$OUT"
#    (at most DEADLINE_S = 520 s by default; it writes at most 8 files to OUT:
#    gpu.txt, speed_gpu.json, fit_wheat_run.json, fit_wheat_summary.md,
#    fit_mice_run.json, times.tsv, determinism.txt, log.txt).
# 3. Here: copy speed_gpu.json to benchmarks/tuning/, add times.tsv to docs/bench/full_runs.md,
#    and run `.venv/bin/python benchmarks/default_cnn.py --render` and
#    `.venv/bin/python benchmarks/assemble_docs.py`.
#
# On a machine with the CPU test environment instead (a dry run of step 2):
#        PY=.venv/bin/python SKIP_INSTALL=1 QUICK=1 bash benchmarks/gpu_check.sh run /tmp/gpu_out
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
PY=${PY:-python3}

if [[ $mode == prepare ]]; then
    for d in .whl .gpu_data; do
        grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >>.git/info/exclude
    done
    rm -rf .whl && mkdir -p .whl .gpu_data
    plat=()
    for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
        manylinux2014_x86_64 manylinux1_x86_64; do plat+=(--platform "$p"); done
    # what snpcnn imports at run time that the machine's image lacks (keras and its two
    # small dependencies the image lacks, the genotype readers, dask for scikit-allel)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${plat[@]}" -d .whl \
        keras==3.15.1 namex optree scikit-allel==1.3.13 bed-reader==1.1.0 \
        dask partd locket
    cp ../shared/data/mice/mice.bed ../shared/data/mice/mice.bim ../shared/data/mice/mice.fam \
        ../shared/data/mice/mice_phenotypes.csv ../shared/data/mice/mice_covariates.csv .gpu_data/
    du -sh .whl .gpu_data
    exit 0
fi

if [[ $mode != run || -z ${2:-} ]]; then
    echo "usage: bash benchmarks/gpu_check.sh prepare | run OUTDIR" >&2
    exit 2
fi
OUT=$2
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1
if [[ -z ${SKIP_INSTALL:-} ]]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/snpcnn_site .whl/*.whl
    export PYTHONPATH=/tmp/snpcnn_site:$PWD
fi
SNPCNN="$PY -m snpcnn"
(nvidia-smi -L || echo "nvidia-smi: not available") >"$OUT/gpu.txt" 2>&1
$PY -c "from snpcnn.backend import device_description as d; print('device:', d())" \
    | tee -a "$OUT/gpu.txt"

snps=(1000 10000 100000)
folds_wheat=example_data/wheat_cv_folds.csv
if [[ -n ${QUICK:-} ]]; then snps=(1000); folds_wheat=2; fi

# The device's time is short and a 10-fold fit's time there was unknown until measured, so
# every step runs under `timeout` and a step starts only while enough of DEADLINE_S (seconds
# from here, default 520) is left; what was skipped is said in log.txt and determinism.txt.
DEADLINE_S=${DEADLINE_S:-520}
rm -rf /tmp/gpu_fit_wheat_a /tmp/gpu_fit_wheat_b /tmp/gpu_fit_mice
left() { echo $((DEADLINE_S - SECONDS)); }

printf 'job\twall_s\trc\n' >"$OUT/times.tsv"
timed() { # name, limit in s, then the command; never stops the script
    local name=$1 limit=$2 t0 t1 rc=0
    shift 2
    t0=$(date +%s.%N)
    timeout "$limit" "$@" || rc=$?
    t1=$(date +%s.%N)
    awk -v n="$name" -v a="$t0" -v b="$t1" -v r="$rc" \
        'BEGIN { printf "%s\t%.1f\t%s\n", n, b - a, r }' | tee -a "$OUT/times.tsv"
    return 0
}

echo "== throughput of the default (training and prediction)"
timed speed $(($(left) / 3)) $PY benchmarks/default_cnn.py --speed --snps "${snps[@]}" \
    --speed-out "$OUT/speed_gpu.json"

echo "== README command 1: snpcnn fit on wheat (twice if time allows: determinism on this device)"
t0=$SECONDS
timed fit_wheat_a $(($(left) - 10)) $SNPCNN fit example_data/wheat.vcf.gz \
    example_data/wheat_phenotypes.csv --trait GY_E1 --folds "$folds_wheat" \
    --out /tmp/gpu_fit_wheat_a --force
ta=$((SECONDS - t0))
if [[ -f /tmp/gpu_fit_wheat_a/run.json ]]; then
    cp /tmp/gpu_fit_wheat_a/run.json "$OUT/fit_wheat_run.json"
    cp /tmp/gpu_fit_wheat_a/summary.md "$OUT/fit_wheat_summary.md"
fi
if [[ ! -f /tmp/gpu_fit_wheat_a/predictions.csv ]]; then
    echo "not checked: the first fit did not finish" >"$OUT/determinism.txt"
elif (($(left) < ta * 12 / 10 + 10)); then
    echo "not checked: the first fit took ${ta} s and $(left) s were left" >"$OUT/determinism.txt"
else
    timed fit_wheat_b $(($(left) - 5)) $SNPCNN fit example_data/wheat.vcf.gz \
        example_data/wheat_phenotypes.csv --trait GY_E1 --folds "$folds_wheat" \
        --out /tmp/gpu_fit_wheat_b --force
    if cmp -s /tmp/gpu_fit_wheat_a/predictions.csv /tmp/gpu_fit_wheat_b/predictions.csv; then
        echo "identical predictions.csv in two runs of the same command" >"$OUT/determinism.txt"
    elif [[ -f /tmp/gpu_fit_wheat_b/predictions.csv ]]; then
        $PY - >"$OUT/determinism.txt" <<'EOF'
import pandas as pd
a = pd.read_csv("/tmp/gpu_fit_wheat_a/predictions.csv")
b = pd.read_csv("/tmp/gpu_fit_wheat_b/predictions.csv")
d = (a["predicted"] - b["predicted"]).abs()
print(f"predictions differ between two runs: max |diff| {d.max():.3g}, median {d.median():.3g}")
EOF
    else
        echo "not checked: the second fit did not finish" >"$OUT/determinism.txt"
    fi
fi
cat "$OUT/determinism.txt"

if [[ -z ${QUICK:-} ]] && (($(left) > 60)); then
    echo "== snpcnn fit on mice (5-fold, BMI, GENDER as covariate, the three baselines)"
    timed fit_mice $(($(left) - 5)) $SNPCNN fit .gpu_data/mice.bed .gpu_data/mice_phenotypes.csv \
        --trait Obesity.BMI --covariates GENDER --covariates-file .gpu_data/mice_covariates.csv \
        --folds 5 --out /tmp/gpu_fit_mice --force
    if [[ -f /tmp/gpu_fit_mice/run.json ]]; then cp /tmp/gpu_fit_mice/run.json "$OUT/fit_mice_run.json"; fi
else
    echo "== snpcnn fit on mice: skipped ($(left) s left)"
fi
echo "done ($SECONDS s)"
