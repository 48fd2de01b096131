#!/usr/bin/env bash
# One device call's CUDA check, run on the GPU machine from the repository root, writing to
# $OUT (the device tool brings it back). Here first: `PACK_TEST=1 bash scripts/gpu/pack.sh`,
# `bash scripts/gpu/slim-tree.sh on cuda`; carry .gpu/carry/{base,dist,ort} (+ the official
# RWKV-v7 code for the benchmark, kept outside the repository, e.g. .gpu/ref/RWKV-v7);
# `slim-tree.sh off` afterwards. Steps, each skipped when its variable is 0:
#   TESTS=1      the CUDA package's tests (stops here if they fail) and the core's RWKV tests on CUDA
#   PROFILE=1    cuda-profile at PROFILE_SIZES (default "0.1b 1.5b"), with PROFILE_FLAGS
#                (default: --batches 1,64)
#   BENCH=1      the benchmark against the official code (needs REF, default .gpu/ref/RWKV-v7)
# Prints each step's time and summary; full logs in $OUT. A device call lasts at most 10
# minutes: tests ~1 min, the two profiles 2-4 min (each comparison flag adds a pair of plans;
# three at 1.5B took 373 s on 2026-12-05), the benchmark 3-3.5 min. The variables of the
# backend (RWKV_STREAMS_CUDA_*) pass through to every step.
set -o pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?run on the GPU machine through the device tool (OUT unset)}"
source scripts/gpu/unpack.sh > "$OUT/unpack.log" 2>&1
step() { echo "== $1 $(($(date +%s) - t0)) s"; t0=$(date +%s); }
t0=$(date +%s)
if [ "${TESTS:-1}" != 0 ]; then
  node node_modules/vitest/vitest.mjs run packages/cuda > "$OUT/cuda-tests.log" 2>&1
  rc=$?
  tail -n 4 "$OUT/cuda-tests.log"
  grep -E "FAIL|✗|×" "$OUT/cuda-tests.log" | head -20
  step "cuda tests (rc $rc)"
  [ $rc -ne 0 ] && exit 1
  RWKV_STREAMS_TEST_DEVICE=cuda node node_modules/vitest/vitest.mjs run packages/core/src/rwkv \
    > "$OUT/core-rwkv-on-cuda.log" 2>&1
  tail -n 4 "$OUT/core-rwkv-on-cuda.log"
  step "core RWKV tests on CUDA"
fi
if [ "${PROFILE:-1}" != 0 ]; then
  flags=(${PROFILE_FLAGS:---batches 1,64})
  for size in ${PROFILE_SIZES:-0.1b 1.5b}; do
    case "$size" in
      0.1b) shape=() ;;
      1.5b) shape=(--layers 24 --embd 2048) ;;
      *) echo "PROFILE_SIZES takes 0.1b and/or 1.5b, not '$size'" >&2; exit 2 ;;
    esac
    node bench/dist/cuda-profile.js "${shape[@]}" "${flags[@]}" > "$OUT/profile-$size.md" 2>&1
    grep -E "GPU time a call|replayed by" "$OUT/profile-$size.md"
    step "profile $size"
  done
fi
if [ "${BENCH:-1}" != 0 ]; then
  node bench/dist/cuda-vs-pytorch.js --ref "${REF:-.gpu/ref/RWKV-v7}" --out "$OUT/bench.json" > "$OUT/bench.log" 2>&1
  grep -B2 -A9 "| figure" "$OUT/bench.log"
  step "benchmark"
fi
