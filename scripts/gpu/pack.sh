#!/usr/bin/env bash
# Packs what the GPU machine lacks into ignored folders, each a `carry` path of the device
# tool (a call carries at most 64 MiB with the working tree, so a run takes only what it
# needs):
#   .gpu/carry/base    node (stripped) and node_modules without onnxruntime, sharp, the build and
#                      lint tools and the examples' chart libraries (about 30 MB; vitest then needs
#                      esbuild: PACK_TEST=1 keeps it). PACK_EXCLUDE adds tar --exclude options.
#   .gpu/carry/ort     onnxruntime-node's Linux x64 binaries (CPU comparisons; 13 MB)
#   .gpu/carry/shared  ../shared/fixtures/rwkv-cpp (the rwkv.cpp fixtures; 10 MB)
#   .gpu/carry/dist    the built dist/ folders (for bench and examples)
#   .gpu/carry/apps    what the CLI imports beyond base: sharp with its libvips, vega and d3
#                      (timeseries charts), mathjs, chart.js (about 10 MB); with the
#                      working tree slimmed (scripts/gpu/slim-tree.sh) base + dist + apps let
#                      `rwkv-streams bench --device cuda` run there
# On the machine, from the repository root: `source scripts/gpu/unpack.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
c=.gpu/carry
mkdir -p "$c/base" "$c/ort" "$c/shared" "$c/dist" "$c/apps"
if [ ! -f "$c/base/node.xz" ]; then
  cp "$(readlink -f "$(command -v node)")" /tmp/node-stripped && strip /tmp/node-stripped
  xz -T0 -9e -c /tmp/node-stripped > "$c/base/node.xz"
fi
ort='node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin'
skip=(--exclude="$ort"
  --exclude='node_modules/.pnpm/@biomejs*' --exclude='node_modules/.pnpm/turbo*'
  --exclude='node_modules/.pnpm/typescript@*' --exclude='node_modules/.pnpm/mathjs@*'
  --exclude='node_modules/.pnpm/@img+sharp*' --exclude='node_modules/.pnpm/sharp@*'
  --exclude='node_modules/.pnpm/vega*' --exclude='node_modules/.cache')
# vitest transforms TypeScript with esbuild (bundled by vite/rollup): kept only for test runs.
[ -z "${PACK_TEST:-}" ] && skip+=(--exclude='node_modules/.pnpm/@esbuild*' --exclude='node_modules/.pnpm/esbuild@*'
  --exclude='node_modules/.pnpm/rollup*' --exclude='node_modules/.pnpm/@rollup*')
# shellcheck disable=SC2206
skip+=(${PACK_EXCLUDE:-})
tar -c "${skip[@]}" \
  node_modules packages/*/node_modules apps/*/node_modules examples/*/node_modules bench/node_modules test/node_modules \
  | xz -T0 -6 > "$c/base/node_modules.tar.xz"
tar -c $ort/napi-v6/linux/x64 | xz -T0 -6 > "$c/ort/ort.tar.xz"
[ -d ../shared/fixtures/rwkv-cpp ] && tar -c -C .. shared/fixtures/rwkv-cpp | xz -T0 -9e > "$c/shared/shared.tar.xz"
tar -c packages/*/dist apps/*/dist bench/dist 2>/dev/null | xz -T0 -6 > "$c/dist/dist.tar.xz"
# shellcheck disable=SC2046
tar -c $(ls -d node_modules/.pnpm/@img+sharp* node_modules/.pnpm/sharp@* node_modules/.pnpm/@img+colour* \
  node_modules/.pnpm/vega* node_modules/.pnpm/d3* node_modules/.pnpm/mathjs@* node_modules/.pnpm/chart.js@* \
  node_modules/.pnpm/@kurkle* 2>/dev/null) | xz -T0 -6 > "$c/apps/apps.tar.xz"
du -sh "$c"/*/*
