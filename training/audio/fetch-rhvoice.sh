#!/usr/bin/env bash
# Fetch (here, where Debian's archive is reachable) what the rhvoice engine of synthesize.py
# needs on the GPU machine:
#
#   bash training/audio/fetch-rhvoice.sh     # from the repo root
#
# Output (ignored by git): .gpu/rhvoice/rhvoice.tar.xz with, under rhvoice/:
#   lib/    libRHVoice.so.5 (C API), libRHVoice_core.so.7, libsonic.so.0 (Debian 12: rhvoice
#           1.8.0+dfsg-3 from non-free, sonic 0.2.0-12 from main; they link only libc and
#           libstdc++, which the GPU image has); rhvoice_render.py loads them by path
#   data/   languages/English and the 16 kHz models of voices bdl, clb, alan and slt (GPL-2+ in
#           Debian's copyright file, slt's CMU's licence; evgeniy-eng and lyubov, CC BY-NC-ND,
#           are left out)
#   conf/   RHVoice.conf with quality=min (the 16 kHz models; the 24 kHz ones are not carried)
#   copyright/  the packages' copyright files
# About 14 MB. A training call carries the tree and .gpu/speech; this goes in a staging call
# before it (stage-rhvoice.sh), like GnuSpeech.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/training/audio/debian-pool.sh"
DEST=$REPO/.gpu/rhvoice
mkdir -p "$DEST"
fetch_pool_debs "$POOL_TMP" non-free/r/rhvoice/librhvoice-core7_1.8.0+dfsg-3_amd64.deb \
  non-free/r/rhvoice/librhvoice5_1.8.0+dfsg-3_amd64.deb \
  non-free/r/rhvoice/rhvoice-english_1.8.0+dfsg-3_all.deb \
  main/s/sonic/libsonic0_0.2.0-12_amd64.deb
o=$POOL_TMP/rhvoice
mkdir -p "$o/lib" "$o/data/voices" "$o/conf" "$o/copyright"
for f in libRHVoice.so.5 libRHVoice_core.so.7 libsonic.so.0; do
  cp -L "$POOL_TMP/x/usr/lib/x86_64-linux-gnu/$f" "$o/lib/"
done
cp -r "$POOL_TMP/x/usr/share/RHVoice/languages" "$o/data/"
for v in bdl clb alan slt; do
  mkdir -p "$o/data/voices/$v"
  cp "$POOL_TMP/x/usr/share/RHVoice/voices/$v/voice.info" "$POOL_TMP/x/usr/share/RHVoice/voices/$v/voice.params" "$o/data/voices/$v/"
  cp -r "$POOL_TMP/x/usr/share/RHVoice/voices/$v/16000" "$o/data/voices/$v/"
done
printf 'quality=min\n' > "$o/conf/RHVoice.conf"
for p in rhvoice-english librhvoice5 librhvoice-core7 libsonic0; do
  cp "$POOL_TMP/x/usr/share/doc/$p/copyright" "$o/copyright/$p"
done
tar -C "$POOL_TMP" -c rhvoice | xz -T2 -6 > "$DEST/rhvoice.tar.xz"
ls -l "$DEST"
