#!/usr/bin/env bash
# One device call's CUDA check, run on the GPU machine from the repository root, writing to
# $OUT (the device tool brings it back). Here first: `PACK_TEST=1 bash scripts/gpu/pack.sh`,
# `bash scripts/gpu/slim-tree.sh on cuda`; carry .gpu/carry/{base,dist,ort} (+ the official
# RWKV-v7 code for the benchmark, kept outside the repository, e.g. .gpu/ref/RWKV-v7);
# `slim-tree.sh off` afterwards. Steps, each skipped when its variable is 0:
#   TESTS=1      the CUDA package's tests (stops here if they fail) and the core's RWKV tests on CUDA
#   PROFILE=1    cuda-profile at 0.1B and 1.5B, with PROFILE_FLAGS (default: --batches 1,64)
#   BENCH=1      the benchmark against the official code (needs REF, default .gpu/ref/RWKV-v7)
# Prints each step's time and summary; full logs in $OUT. A device call lasts at most 10
# minutes: tests ~1 min, the two profiles 2-4 min (1.5B weights take 35-48 s to make, more
# with comparisons), the benchmark 2-3 min.
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
  node bench/dist/cuda-profile.js "${flags[@]}" > "$OUT/profile-0.1b.md" 2>&1
  grep -E "GPU time a call|replayed by" "$OUT/profile-0.1b.md"
  step "profile 0.1B"
  node bench/dist/cuda-profile.js --layers 24 --embd 2048 "${flags[@]}" > "$OUT/profile-1.5b.md" 2>&1
  grep -E "GPU time a call|replayed by" "$OUT/profile-1.5b.md"
  step "profile 1.5B"
fi
if [ "${BENCH:-1}" != 0 ]; then
  node bench/dist/cuda-vs-pytorch.js --ref "${REF:-.gpu/ref/RWKV-v7}" --out "$OUT/bench.json" > "$OUT/bench.log" 2>&1
  grep -B2 -A9 "| figure" "$OUT/bench.log"
  step "benchmark"
fi
