#!/usr/bin/env bash
# Fetch (here, where Debian's archive is reachable) what the pico engine of synthesize.py needs
# on the GPU machine:
#
#   bash training/audio/fetch-pico.sh     # from the repo root
#
# Output (ignored by git): .gpu/pico/pico.tar.xz with, under pico/:
#   lib/        libttspico.so.0 (SVOX Pico, Debian non-free svox 1.0+git20130326-14.1; links
#               only libc); pico_render.py loads it by path
#   lang/       the English lingware: en-US_ta.bin + en-US_lh0_sg.bin (US female) and
#               en-GB_ta.bin + en-GB_kh0_sg.bin (British female); the other languages are left out
#   copyright/  the packages' copyright files (the engine Apache-2.0; the lingware
#               redistributable, "claims to be Apache-2.0 but the source code is not included":
#               it only renders training audio on the GPU machine and is never shipped)
# About 1.6 MB, small enough to travel with .gpu/speech in the training call (gpu-train.sh,
# PICO_SHARE).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/training/audio/debian-pool.sh"
DEST=$REPO/.gpu/pico
mkdir -p "$DEST"
V=1.0+git20130326-14.1
fetch_pool_debs "$POOL_TMP" non-free/s/svox/libttspico0t64_${V}_amd64.deb \
  non-free/s/svox/libttspico-data_${V}_all.deb
o=$POOL_TMP/pico
mkdir -p "$o/lib" "$o/lang" "$o/copyright"
cp -L "$POOL_TMP/x/usr/lib/x86_64-linux-gnu/libttspico.so.0.0.0" "$o/lib/libttspico.so.0"
for f in en-US_ta.bin en-US_lh0_sg.bin en-GB_ta.bin en-GB_kh0_sg.bin; do
  cp "$POOL_TMP/x/usr/share/pico/lang/$f" "$o/lang/"
done
for p in libttspico0t64 libttspico-data; do
  cp "$POOL_TMP/x/usr/share/doc/$p/copyright" "$o/copyright/$p"
done
tar -C "$POOL_TMP" -c pico | xz -T2 -6 > "$DEST/pico.tar.xz"
ls -l "$DEST"
