#!/usr/bin/env bash
# Fetch (here, where the npm registry is reachable) what the GnuSpeech engine of synthesize.py
# needs on the GPU machine, which has neither node nor a registry:
#
#   bash training/audio/fetch-gnuspeech.sh     # from the repo root
#
# Output (ignored by git): .gpu/gnuspeech/gnuspeech.tar.xz, the node_modules folder of npm
# @echogarden/gnuspeech-wasm (GPL-3; its English data included; about 1.5 MB packed), and
# .gpu/gnuspeech/node.xz, this machine's node (about 22 MB). A training call carries the tree,
# .gpu/speech and these together past the 64 MiB a call may carry, so a first call stages them
# (training/audio/stage-gnuspeech.sh, with the slimmed 'cuda' tree) and the training call,
# within the machine's 30 s of idle, finds them in /tmp (gpu-train.sh, GNUSPEECH_SHARE).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$REPO/.gpu/gnuspeech
VERSION=${GNUSPEECH_VERSION:-0.3.0}
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "@echogarden/gnuspeech-wasm@$VERSION")
tar -C "$tmp" -c node_modules | xz -T2 -6 > "$DEST/gnuspeech.tar.xz"
xz -T2 -c "$(command -v node)" > "$DEST/node.xz"
ls -l "$DEST"
