#!/usr/bin/env bash
# Fetch (here, where Debian's archive is reachable) what the mbrola engine of synthesize.py
# needs on the GPU machine:
#
#   bash training/audio/fetch-mbrola.sh     # from the repo root
#
# Output (ignored by git): .gpu/mbrola/mbrola.tar.xz with, under mbrola/:
#   bin/mbrola      the MBROLA diphone synthesizer (Debian contrib mbrola 3.3+dfsg-9, AGPL-3;
#                   links only libc), which espeak-ng runs for its mb-* voices
#   voices/         the English diphone databases us1 (US female), us2 and us3 (US male) and
#                   en1 (British male) (Debian non-free mbrola-us1/us2/us3/en1; their licence,
#                   in copyright/, permits synthesizing speech with the MBROLA program and
#                   free redistribution, not selling them or a sold product containing them:
#                   they only render training audio on the GPU machine and are never shipped)
#   copyright/      the packages' copyright files
# espeak-ng's own data already holds the phoneme maps (mbrola_ph/us_phtrans, us3_phtrans,
# en1_phtrans) and the voice definitions (voices/mb/mb-us1 ...). 22.5 MB: with .gpu/speech and
# .gpu/rhvoice it does not fit one call, so a staging call unpacks it into /tmp/mbrola
# (stage-mbrola.sh), where gpu-train.sh with MBROLA_SHARE finds it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/training/audio/debian-pool.sh"
DEST=$REPO/.gpu/mbrola
mkdir -p "$DEST"
fetch_pool_debs "$POOL_TMP" contrib/m/mbrola/mbrola_3.3+dfsg-9_amd64.deb \
  non-free/m/mbrola-us1/mbrola-us1_0.3+repack2-5_all.deb \
  non-free/m/mbrola-us2/mbrola-us2_0.1+repack2-5_all.deb \
  non-free/m/mbrola-us3/mbrola-us3_0.1+repack2-4_all.deb \
  non-free/m/mbrola-en1/mbrola-en1_19980910+repack2-5_all.deb
o=$POOL_TMP/mbrola
mkdir -p "$o/bin" "$o/voices" "$o/copyright"
cp "$POOL_TMP/x/usr/bin/mbrola" "$o/bin/"
for v in us1 us2 us3 en1; do
  cp "$POOL_TMP/x/usr/share/mbrola/$v/$v" "$o/voices/$v"
  cp "$POOL_TMP/x/usr/share/doc/mbrola-$v/copyright" "$o/copyright/mbrola-$v"
done
cp "$POOL_TMP/x/usr/share/doc/mbrola/copyright" "$o/copyright/mbrola"
tar -C "$POOL_TMP" -c mbrola | xz -T2 -6 > "$DEST/mbrola.tar.xz"
ls -l "$DEST"
