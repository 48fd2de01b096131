#!/usr/bin/env bash
# On the GPU machine (device call, carry [".gpu/mbrola"], with stage-rhvoice.sh in the same
# call when both are used: with .gpu/speech the three do not fit one call's 64 MiB): unpack
# MBROLA into /tmp/mbrola, where a later call on the same machine (gpu-train.sh with
# MBROLA_SHARE) finds it. Loads each voice database and renders a phoneme of it (a vowel
# both phoneme sets share) to check the program runs here.
set -euo pipefail
tar -xJf .gpu/mbrola/mbrola.tar.xz -C /tmp
printf '_ 100\n@ 150 50 120\n_ 100\n' > /tmp/mbrola/check.pho
for v in us1 us2 us3 en1; do
  /tmp/mbrola/bin/mbrola "/tmp/mbrola/voices/$v" /tmp/mbrola/check.pho "/tmp/mbrola/check-$v.wav"
  echo "mbrola check: $v $(/tmp/mbrola/bin/mbrola -i "/tmp/mbrola/voices/$v" 2>&1 | grep -v '^$' | sed -n 2p) $(stat -c %s "/tmp/mbrola/check-$v.wav") bytes"
done
