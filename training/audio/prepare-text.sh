#!/usr/bin/env bash
# Build the sentence lists that the speech synthesizer reads, from Debian text packages.
#
#   bash training/audio/prepare-text.sh        # from the repo root, as root; ~1 min, stdlib Python
#
# Debian 12 "bookworm" main. Downloads the packages below with `apt-get download` and unpacks
# them with `dpkg-deb -x` into a scratch folder; nothing from them is installed except the tool
# `bible` (package bible-kjv), which decompresses the King James text of bible-kjv-text.
# training/audio/prepare_text.py then extracts, normalises, filters, dedupes, caps and splits
# (seeded, deterministic): see its docstring and training/audio/README.md ("Text").
#
# Outputs (.gpu/speech is ignored by git and carried to the GPU machine):
#   .gpu/speech/text/train.tsv.xz     "source<TAB>sentence" per line, training sentences
#   .gpu/speech/text/test.tsv.xz      held-out sentences (never synthesized for training)
#   training/audio/text-manifest.json package versions, licences, counts, seed (committed)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${SPEECH_TEXT_WORK:-/tmp/speech-text}
OUT=${SPEECH_TEXT_OUT:-$REPO/.gpu/speech/text}
SEED=${SPEECH_TEXT_SEED:-20261124}

PKGS="wordnet-base fortunes fortunes-min bible-kjv-text jargon-text dict-devil wamerican"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
command -v bible >/dev/null || apt-get install -y -qq --no-install-recommends bible-kjv >/dev/null

rm -rf "$WORK" && mkdir -p "$WORK/debs" "$WORK/x" "$OUT"
# shellcheck disable=SC2086
( cd "$WORK/debs" && apt-get -o APT::Sandbox::User=root download -qq $PKGS )
: >"$WORK/versions.txt"
for d in "$WORK"/debs/*.deb; do
  echo "$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)" >>"$WORK/versions.txt"
  dpkg-deb -x "$d" "$WORK/x"
done
echo "bible-kjv $(dpkg-query -W -f='${Version}' bible-kjv)" >>"$WORK/versions.txt"
bible -p "$WORK/x/usr/lib" "Genesis 1:1-Revelation 22:21" >"$WORK/kjv.txt"

python3 "$REPO/training/audio/prepare_text.py" --root "$WORK/x" --kjv "$WORK/kjv.txt" \
  --versions "$WORK/versions.txt" --seed "$SEED" --out "$OUT" \
  --manifest "$REPO/training/audio/text-manifest.json"
ls -l "$OUT"
