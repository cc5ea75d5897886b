#!/usr/bin/env bash
# One prepared GPU session (issue 21): run as is on a lent GPU machine, in the repository root.
#
#   bash benchmarks/gpu_session.sh             # the GPU machine: data in .gpu-data/ (benchmarks/README.md)
#   bash benchmarks/gpu_session.sh --dry-run   # any CPU: smoke profile, temporary runs folder, minutes
#
# Stages, in this order, each skipped when an earlier session already did it or when the time left
# is too short; no stage starts a unit it cannot finish (dboost.runner --time-limit):
#   0. data      reassemble CIFAR-10 from .gpu-data/p0..p3 (or DEVICE.md's a/b/c) into .gpu-data/all
#   1. benchmark eager vs torch.compile modes, s/epoch at width 64 (<= 2 min)  -> benchmarks/results/gpu_compile_h200.json
#   2. probe     the full profile's training length (<= 2 min)                 -> benchmarks/results/length_probe_h200.json
#   3. full      the full profile's units, compiled if stage 1 recommends it   -> runs/full/
#   4. gpu       the gpu profile's missing work: the Linear head at seeds 1-2; boosting chains only where
#                their members' outputs are stored (benchmarks/chains.py)      -> runs/gpu/
#   5. data size the interp profile's data-size study at 20k and 50k images (width 16)  -> runs/interp/data_size/
#   5b. backlog  the interp units a 2-core CPU without native bf16 needs days for (35-50 min each there):
#                seeds 3 and 4 of the claims and of boosting (issue 17), then the data-size study
#                at 500-10k (issue 19); every row records the GPU it trained on -> runs/interp/
#   6. pack      every new or changed file under runs/ and benchmarks/results/ (not the unit cache)
#                into $OUT/rows.tar.gz.part-NN (15 MiB pieces) + $OUT/session.log
# Environment: OUT (the device tool sets it), DBOOST_SESSION_S (seconds this call may take, default
# 570 for timeout_s=600), DBOOST_COMPILE (force a compile mode, or "none"), PYTHON (default python3).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
BUDGET=${DBOOST_SESSION_S:-570}
OUT=${OUT:-$ROOT/.gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1
left() { echo $((BUDGET - SECONDS)); }
say() { echo "[gpu_session +${SECONDS}s] $*"; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); v=d.get(sys.argv[2]); print('' if v is None else v)" "$@" 2>/dev/null; }

if [[ $DRY == 1 ]]; then
  BASE=$(mktemp -d)
  export DBOOST_RUNS=$BASE/runs
  RES=$BASE/results
  DEVICE=cpu; P_FULL=smoke; P_GPU=smoke; CPUS=(--cpus-per-unit 1)
  # tiny sizes so every stage runs in seconds; the same --set for every stage so the probe's units are reused
  SHRINK=(--set n_train=200 --set n_test=100 --set batch_size=25 --set members=2
          --set 'rules=["zero","save_mean_reverse"]')
  BENCH=(--tiny --device cpu --width 4 --compile-modes --acc-epochs 2)
  PROBE=(--lengths 1 2 --threshold 0.0)
  FULL_ONLY=(--only gap_sweep boosting)
  P_DS=smoke
  DS_SET=(--set 'sizes=[100,250]' --set 'size_steps=[8,8]' --set resample_n=null --set 'size_seeds=[0]'
          --set n_train=200 --set n_test=100 --set batch_size=25)
  BACKLOG_DS=("${DS_SET[@]}")  # stage 5's units again: the stage's path runs, nothing new trains
  BACKLOG_SEEDS=(--only frozen_last_layer "${SHRINK[@]}")  # stage 4's: nothing new trains
  UNIT_S=30
else
  BASE=$ROOT
  RES=$ROOT/benchmarks/results
  DEVICE=cuda; P_FULL=full; P_GPU=gpu; CPUS=()
  SHRINK=()
  BENCH=(--device cuda --width 64 --compile-modes default reduce-overhead)
  PROBE=(--lengths 20 30 40 50 --threshold 0.99)
  FULL_ONLY=()
  P_DS=interp
  DS_SET=(--set 'sizes=[20000,50000]' --set 'size_steps=[40000,100000]' --set resample_n=null)
  BACKLOG_DS=()  # the profile's own sizes (500-10k) and resampled seeds
  BACKLOG_SEEDS=(--only gap_sweep frozen_last_layer boosting)  # the profile's 5 seeds: what is missing
  UNIT_S=60  # the longest unit (50 epochs eager + evaluation): what a stage may overrun its limit by
fi
RUNS=${DBOOST_RUNS:-$ROOT/runs}
mkdir -p "$RES"
MARK=$(mktemp)  # files newer than this are packed at the end
say "start: dry_run=$DRY budget=${BUDGET}s runs=$RUNS results=$RES out=$OUT"

# ---------------------------------------------------------------- 0. data
if [[ $DRY == 0 ]]; then
  if [[ -z ${DBOOST_DATA:-} ]]; then
    mkdir -p .gpu-data/all
    if ls .gpu-data/p0/*.part >/dev/null 2>&1; then
      cat .gpu-data/p0/*.part .gpu-data/p1/*.part .gpu-data/p2/*.part .gpu-data/p3/*.part | tar x -C .gpu-data/all \
        || { say "data: the parts do not make a tar (a call was missed? start again from call 1)"; exit 3; }
    elif [[ -d .gpu-data/a ]]; then
      cp .gpu-data/[abc]/* .gpu-data/all/
    fi
    export DBOOST_DATA=$ROOT/.gpu-data/all
  fi
  n=$(ls "$DBOOST_DATA"/*.npy 2>/dev/null | wc -l)
  say "data: DBOOST_DATA=$DBOOST_DATA holds $n .npy files (need 8)"
  [[ $n -ge 8 ]] || { say "data missing: see benchmarks/README.md (four carry calls)"; exit 3; }
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
fi

# ---------------------------------------------------------------- 1. benchmark
BENCH_JSON=$RES/gpu_compile_h200.json
[[ $DRY == 1 ]] && BENCH_JSON=$RES/gpu_compile_dry.json
if [[ -s $BENCH_JSON && -n $(json "$BENCH_JSON" best_s_per_epoch) ]]; then
  say "benchmark: done in an earlier session ($BENCH_JSON)"
else
  say "benchmark: eager vs compiled"
  timeout 140 "$PY" benchmarks/gpu.py --compile-only --budget-s 110 --out "$BENCH_JSON" "${BENCH[@]}" \
    || say "benchmark: exit $? (partial results kept)"
fi
COMPILE=${DBOOST_COMPILE:-$(json "$BENCH_JSON" recommended_compile)}
[[ $COMPILE == none ]] && COMPILE=
COMPILE_SET=()
[[ -n $COMPILE ]] && COMPILE_SET=(--set "compile=$COMPILE")
say "benchmark: best $(json "$BENCH_JSON" best_s_per_epoch) s/epoch; the full profile trains with compile=${COMPILE:-eager}"

# ---------------------------------------------------------------- 2. length probe
PROBE_JSON=$RES/length_probe_h200.json
[[ $DRY == 1 ]] && PROBE_JSON=$RES/length_probe_dry.json
EPOCHS=$(json "$PROBE_JSON" chosen_epochs)
if [[ -n $EPOCHS ]]; then
  say "probe: done in an earlier session: $EPOCHS epochs"
elif (( $(left) > 200 )); then
  say "probe: candidate lengths ${PROBE[*]}"
  timeout 140 "$PY" benchmarks/length_probe.py --profile "$P_FULL" --device "$DEVICE" --budget-s 110 \
    --out "$PROBE_JSON" "${PROBE[@]}" "${SHRINK[@]}" "${COMPILE_SET[@]}" || say "probe: exit $?"
  EPOCHS=$(json "$PROBE_JSON" chosen_epochs)
  say "probe: chosen epochs: ${EPOCHS:-none yet} ($(json "$PROBE_JSON" stopped))"
fi

# a batch run of profile $1 with the experiments/settings that follow, stopped in time for the next stages
batch() {
  local profile=$1 reserve=$2; shift 2
  local limit_s=$(( $(left) - reserve - UNIT_S ))
  if (( limit_s < 60 )); then say "$profile: skipped, ${limit_s}s would be left for units"; return 0; fi
  local minutes
  minutes=$("$PY" -c "print(round($limit_s / 60, 2))")
  say "$profile: units for ${minutes} min: $*"
  timeout $((limit_s + UNIT_S + 60)) "$PY" -m dboost.runner --profile "$profile" --device "$DEVICE" --no-notebooks \
    --no-publish --executor processes --workers 1 "${CPUS[@]}" --time-limit "$minutes" "$@" \
    || say "$profile: exit $? (every finished unit is stored; rerun resumes)"
}

# ---------------------------------------------------------------- 3. the full profile
if [[ -n $EPOCHS ]]; then
  batch "$P_FULL" 30 "${FULL_ONLY[@]}" --set "epochs=$EPOCHS" "${COMPILE_SET[@]}" "${SHRINK[@]}"
else
  say "full: skipped: no training length chosen yet (the probe resumes next session)"
fi

# ---------------------------------------------------------------- 4. the gpu profile's missing work
BLOCKED=$("$PY" benchmarks/chains.py "$P_GPU")
GPU_ONLY=(frozen_last_layer boosting)
if [[ -n $BLOCKED ]]; then
  say "gpu: boosting skipped: these chains' stored members have no outputs, continuing them would retrain them" \
      "non-deterministically on a GPU: $BLOCKED"
  GPU_ONLY=(frozen_last_layer)
fi
batch "$P_GPU" 30 --only "${GPU_ONLY[@]}" "${SHRINK[@]}"

# ---------------------------------------------------------------- 5. data size
# The interp profile's data-size study (width 16, bf16, batch 100) at 20k and 50k images (issue 19 leaves
# these to a GPU).  PROPOSED steps, extrapolated from interp's size_steps (1k: 2,000 ... 10k: 8,000, about
# n^0.6); seed 0 still doubles them (size_max_doublings) until its gap-0 net fits.  The study's owner may
# change them: they are part of the units' keys.
if "$PY" -c "import sys; from dboost.experiments import PROFILES; sys.exit(0 if 'data_size' in PROFILES['$P_DS']['experiments'] else 1)"; then
  batch "$P_DS" 30 --only data_size "${DS_SET[@]}"
else
  say "data size: skipped: profile $P_DS has no data_size experiment"
fi

# ---------------------------------------------------------------- 5b. the interp backlog
# Same keys as on the CPU (the device is not part of a unit's key), so what lands here is simply not
# trained there; a chain continues from its members' committed outputs on any machine.
batch "$P_DS" 30 "${BACKLOG_SEEDS[@]}"
if "$PY" -c "import sys; from dboost.experiments import PROFILES; sys.exit(0 if 'data_size' in PROFILES['$P_DS']['experiments'] else 1)"; then
  batch "$P_DS" 30 --only data_size "${BACKLOG_DS[@]}"
fi

# ---------------------------------------------------------------- 6. pack what came out
cd "$BASE"
find "${RUNS#"$BASE"/}" "${RES#"$BASE"/}" -type f -newer "$MARK" ! -path '*/cache/*' ! -name '.*.tmp' ! -name '*.tmp.ipynb' \
  | sort > "$OUT/files.txt"
say "pack: $(wc -l < "$OUT/files.txt") new or changed files"
if [[ -s $OUT/files.txt ]]; then
  tar czf - -T "$OUT/files.txt" | split -b 15m -d - "$OUT/rows.tar.gz.part-"
  ls -l "$OUT"
fi
rm -f "$MARK"
say "done; unpack in the checkout with: cat rows.tar.gz.part-* | tar xz"
