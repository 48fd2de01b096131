#!/usr/bin/env bash
# Make the carried TTS packages smaller: replace espeak-ng-data_*.deb (4.3 MB: every language's
# pronunciation dictionary) by espeak-ng-data-en.tar.xz, the same files without the other
# languages' *_dict files (English needs en_dict; phoneme tables, language and voice
# definitions stay whole). The device tool carries 64 MiB in all, and the working tree plus
# the full packages came within 0.1 MB of it. unpack-debs.sh extracts *.tar.xz beside the debs.
#
#   bash training/audio/slim-espeak-data.sh .gpu/speech/debs [KEEP_DIR]
#
# The original deb moves to KEEP_DIR (default .gpu/speech-debs-full: outside the carried
# .gpu/speech). Synthesis from the slimmed data gives the same samples (checked: identical
# shards for training and held-out voices).
set -euo pipefail
DEBS=${1:?usage: slim-espeak-data.sh DEBS_DIR [KEEP_DIR]}
KEEP=${2:-.gpu/speech-debs-full}
deb=$(ls "$DEBS"/espeak-ng-data_*.deb 2>/dev/null | head -n 1 || true)
[[ -n "$deb" ]] || { echo "no espeak-ng-data_*.deb in $DEBS (already slimmed?)" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
data=$(dirname "$(find "$tmp" -name phontab | head -n 1)")
find "$data" -maxdepth 1 -name '*_dict' ! -name 'en_dict' -delete
tar -C "$tmp" -cJf "$DEBS/espeak-ng-data-en.tar.xz" .
mkdir -p "$KEEP"
mv "$deb" "$KEEP/"
echo "$(basename "$deb") -> espeak-ng-data-en.tar.xz ($(du -h "$DEBS/espeak-ng-data-en.tar.xz" | cut -f1)); the deb moved to $KEEP" >&2
