#!/usr/bin/env bash
# On the GPU machine (device call, carry [".gpu/gnuspeech"], `bash scripts/gpu/slim-tree.sh on
# cuda` here first): unpack node into /tmp/node-bin and GnuSpeech's node_modules into
# /tmp/gnuspeech, where a later call on the same machine (gpu-train.sh with GNUSPEECH_SHARE)
# finds them. Renders one sentence to check the pair works.
set -euo pipefail
mkdir -p /tmp/node-bin /tmp/gnuspeech
xz -dc .gpu/gnuspeech/node.xz > /tmp/node-bin/node && chmod +x /tmp/node-bin/node
tar -xJf .gpu/gnuspeech/gnuspeech.tar.xz -C /tmp/gnuspeech
echo '[{"text": "the quick brown fox", "voice": "male", "tempo": 1.0, "path": "/tmp/gnuspeech/check.wav"}]' \
  > /tmp/gnuspeech/check.json
GNUSPEECH_MODULES=/tmp/gnuspeech/node_modules /tmp/node-bin/node training/audio/gnuspeech-render.mjs \
  /tmp/gnuspeech/check.json
echo "node $(/tmp/node-bin/node --version); gnuspeech check: $(stat -c %s /tmp/gnuspeech/check.wav) bytes"
