#!/usr/bin/env bash
# A device call carries the working tree and its carries in 64 MiB. The tracked tree is
# about 46 MB (models 31 MB), so a call that also carries node (scripts/gpu/pack.sh: base
# about 30 MB) does not fit. This takes what such a call rarely needs out of the working tree
# with git's sparse checkout (the files stay tracked and committed; git status stays clean):
#
#   bash scripts/gpu/slim-tree.sh on [lm|speech]   # keep the demo LM (default) or the speech model
#   bash scripts/gpu/slim-tree.sh on cuda          # no models, parity fixtures kept (CUDA tests, benches)
#   bash scripts/gpu/slim-tree.sh on train         # the speech model and training/ (speech training)
#   bash scripts/gpu/slim-tree.sh off              # everything back (run it before committing)
#
# Out while on: the other of the two 11-12 MB models (cuda: every model), the 192/336/720-hour
# RWKV-TS models, every package's fixtures/ (cuda: only audio's), training/ (cuda: kept), the studio's
# screenshots and bench/speech outputs: about 19-20 MB stay (cuda: about 9 MB). Measured on 2026-12-03: the device tool sent the slimmed tree, and
# `rwkv-streams bench --device cuda` ran with carries base + dist + apps.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  on)
    case "${2:-lm}" in
      lm) drop=('/models/rwkv-speech-en-synth/' '/packages/*/fixtures/' '/training/') ;;
      speech) drop=('/models/demo-lm/' '/packages/*/fixtures/' '/training/') ;;
      cuda) drop=('/models/' '/packages/audio/fixtures/') ;; # keeps the parity fixtures
      # speech training (training/audio/gpu-train.sh, carry .gpu/speech, 29 MB): the speech
      # model (its --init) and training/ stay; about 20 MB of the tree travels
      train) drop=('/models/demo-lm/' '/packages/*/fixtures/' '/training/audio/samples/'
        '/packages/cuda/gpu-runs/' '/packages/vision/gpu-runs/') ;;
      *) echo "slim-tree.sh on [lm|speech|cuda|train]" >&2; exit 2 ;;
    esac
    git sparse-checkout set --no-cone '/*' "${drop[@]/#/!}" '!/models/rwkv-ts-etth1-720/' \
      '!/models/rwkv-ts-etth1-336/' '!/models/rwkv-ts-etth1-192/' \
      '!/apps/studio/test/screenshots/' '!/bench/speech/'
    ;;
  off) git sparse-checkout disable ;;
  *) echo "usage: slim-tree.sh on [lm|speech|cuda|train] | off" >&2; exit 2 ;;
esac
echo "tracked files on disk: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1) bytes"
