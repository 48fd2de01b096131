#!/usr/bin/env bash
# Download (not install) the Debian packages that synthesize English speech on the GPU machine:
# espeak-ng (all its English voices and voice variants), flite (its built-in voices) and festival
# (two US English voices), with the shared libraries they load that the GPU machine's image lacks.
#
#   bash training/audio/fetch-debs.sh           # from the repo root, as root; 26 debs + 1 tarball, 24 MB
#   bash training/audio/fetch-debs.sh --all     # the whole dependency closure (for another image)
#
# Output: .gpu/speech/debs/*.deb (ignored by git; carried with `carry: [".gpu/speech"]`) and
# .gpu/speech/debs/versions.txt ("package version" per line). Nothing is installed here.
# On the GPU machine, training/audio/unpack-debs.sh unpacks them with `dpkg -x` into a folder
# (never /) and prints the environment (PATH, LD_LIBRARY_PATH, ESPEAK_DATA_PATH) to use.
#
# Source: Debian 12 "bookworm" main, amd64. The GPU image (checked on 2026-11-24, see
# training/audio/README.md, "GPU image") is newer (glibc 2.39) than bookworm's glibc 2.36, so
# these binaries run there. The default list is the closure that `apt-cache depends --recurse`
# gives for espeak-ng and flite, less what the image already has (libc6, libgcc-s1 and the
# libraries in IMAGE_HAS below, seen with `ldconfig -p` there); for festival the libraries its
# binary links (`ldd`; its other Depends, alsa-utils, adduser, sgml-base and lsb-base, serve an
# installed system service, not synthesis).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${SPEECH_DEBS:-$REPO/.gpu/speech/debs}

# the programs, their own libraries and data: always needed. festival (since 2026-12-04): its
# lexicons and two US English voices (ked diphone, slt HTS), a third engine for training; 7.6 MB
# of .deb files with libestools2.5 and libgomp1 below. festvox-kallpc16k (kal diphone, 3.6 MB)
# is left out: the same speaker and diphone recordings as flite's kal and kal16 (its long-term
# spectrum is within 2.7 dB of flite kal16's, ked's 6-7 dB away); add it here and to
# synthesize.py's FESTIVAL_VOICES (F0 85..135 Hz) to use it after all
FESTIVAL="festival festlex-cmu festlex-poslex festvox-kdlpc16k festvox-us-slt-hts"
CORE="espeak-ng libespeak-ng1 espeak-ng-data libpcaudio0 libsonic0 flite libflite1 $FESTIVAL"
# library dependencies of the above (libpcaudio0 -> libpulse0 + libasound2, libflite1 ->
# libasound2, festival -> libestools2.5 -> libgomp1, libasound2, libpulse0; libstdc++6 and
# libtinfo6 are in every Ubuntu image): needed only where the image lacks them. libpulse0's own
# closure is large (X11, dbus, sndfile and its codecs), all of it pulled in by pcaudiolib, which
# espeak-ng links but never calls when it writes WAV to stdout.
LIBS="libestools2.5 libgomp1 libasound2 libpulse0 libasyncns0 libdbus-1-3 libsystemd0 libcap2
libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1 libsndfile1 libflac12 libmp3lame0
libmpg123-0 libogg0 libopus0 libvorbis0a libvorbisenc2 libx11-6 libx11-xcb1
libxau6 libxcb1 libxdmcp6 libbsd0 libmd0"
# present in the GPU image (Ubuntu 24.04.3, `ldconfig -p` there via unpack-debs.sh's report,
# runs/2026-11-24-synth-check.log): not downloaded unless --all
IMAGE_HAS="${IMAGE_HAS-libbsd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libmd0 libsystemd0
libx11-6 libxau6 libxcb1 libxdmcp6 libzstd1}"

PKGS="$CORE"
for p in $LIBS; do
  if [[ "${1:-}" == "--all" ]] || ! grep -qw -- "$p" <<<"$IMAGE_HAS"; then PKGS="$PKGS $p"; fi
done

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
rm -rf "$DEST" && mkdir -p "$DEST"
# shellcheck disable=SC2086
( cd "$DEST" && apt-get -o APT::Sandbox::User=root download -qq $PKGS )
: >"$DEST/versions.txt"
for d in "$DEST"/*.deb; do
  echo "$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)" >>"$DEST/versions.txt"
done
cat "$DEST/versions.txt"
# the English part of espeak-ng's data only (saves 3.8 MB of the 64 MiB a device call carries)
bash "$(dirname "$0")/slim-espeak-data.sh" "$DEST" "$DEST/../../speech-debs-full"
du -sh "$DEST"
