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
    keep=()
    case "${2:-lm}" in
      lm) drop=('/models/rwkv-speech-en-synth/' '/packages/*/fixtures/' '/training/') ;;
      speech) drop=('/models/demo-lm/' '/packages/*/fixtures/' '/training/') ;;
      cuda) drop=('/models/' '/packages/audio/fixtures/') ;; # keeps the parity fixtures
      # speech training (training/audio/gpu-train.sh, carry .gpu/speech, 26 MB, and with a
      # staging call before it .gpu/rhvoice and .gpu/mbrola, 33 MB): only what the GPU machine
      # runs stays, training/ (less the other modalities and the audio samples), scripts/ and
      # the speech model's weights (its --init); about 14 MB of the tree travels
      train) drop=('/packages/' '/apps/' '/bench/' '/examples/' '/docs/' '/test/' '/models/*/'
        '/training/audio/samples/' '/training/vision/' '/training/timeseries/' '/pnpm-lock.yaml')
        keep=('/models/rwkv-speech-en-synth/model.safetensors') ;;
      *) echo "slim-tree.sh on [lm|speech|cuda|train]" >&2; exit 2 ;;
    esac
    # later patterns win: a file named in keep comes back from a folder that drop took out
    git sparse-checkout set --no-cone '/*' "${drop[@]/#/!}" '!/models/rwkv-ts-etth1-720/' \
      '!/models/rwkv-ts-etth1-336/' '!/models/rwkv-ts-etth1-192/' \
      '!/apps/studio/test/screenshots/' '!/bench/speech/' ${keep[@]+"${keep[@]}"}
    ;;
  off) git sparse-checkout disable ;;
  *) echo "usage: slim-tree.sh on [lm|speech|cuda|train] | off" >&2; exit 2 ;;
esac
echo "tracked files on disk: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1) bytes"
