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
#    (about 5 minutes on an H200; it writes at most 8 files to OUT:
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

echo "== throughput of the default (training and prediction)"
$PY benchmarks/default_cnn.py --speed --snps "${snps[@]}" --speed-out "$OUT/speed_gpu.json"

printf 'job\twall_s\n' >"$OUT/times.tsv"
timed() { # name, then the command
    local name=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s\t%.1f\n", n, b - a }' \
        | tee -a "$OUT/times.tsv"
}

echo "== README command 1: snpcnn fit on wheat (twice: determinism on this device)"
for run in a b; do
    timed "fit_wheat_$run" $SNPCNN fit example_data/wheat.vcf.gz example_data/wheat_phenotypes.csv \
        --trait GY_E1 --folds "$folds_wheat" --out "/tmp/gpu_fit_wheat_$run" --force
done
cp /tmp/gpu_fit_wheat_a/run.json "$OUT/fit_wheat_run.json"
cp /tmp/gpu_fit_wheat_a/summary.md "$OUT/fit_wheat_summary.md"
if cmp -s /tmp/gpu_fit_wheat_a/predictions.csv /tmp/gpu_fit_wheat_b/predictions.csv; then
    echo "identical predictions.csv in two runs of the same command" >"$OUT/determinism.txt"
else
    $PY - >"$OUT/determinism.txt" <<'EOF'
import pandas as pd
a = pd.read_csv("/tmp/gpu_fit_wheat_a/predictions.csv")
b = pd.read_csv("/tmp/gpu_fit_wheat_b/predictions.csv")
d = (a["predicted"] - b["predicted"]).abs()
print(f"predictions differ between two runs: max |diff| {d.max():.3g}, median {d.median():.3g}")
EOF
fi
cat "$OUT/determinism.txt"

if [[ -z ${QUICK:-} ]]; then
    echo "== snpcnn fit on mice (5-fold, BMI, GENDER as covariate, the three baselines)"
    timed fit_mice $SNPCNN fit .gpu_data/mice.bed .gpu_data/mice_phenotypes.csv \
        --trait Obesity.BMI --covariates GENDER --covariates-file .gpu_data/mice_covariates.csv \
        --folds 5 --out /tmp/gpu_fit_mice --force
    cp /tmp/gpu_fit_mice/run.json "$OUT/fit_mice_run.json"
fi
echo "done"
