#!/usr/bin/env bash
# Unpack the .deb files of fetch-debs.sh into a folder (never /) so espeak-ng, flite and festival run.
#
#   eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)"
#   espeak-ng --version; flite --version; festival --version
#   festival -b "$FESTIVAL_INIT" '(begin (voice_ked_diphone) (utt.save.wave
#       (utt.synth (Utterance Text "hello world")) "/tmp/hello.wav" (quote riff)))'
#
# Prints (stdout) the `export` lines for PATH, LD_LIBRARY_PATH, ESPEAK_DATA_PATH, ESPEAK_NG_BIN,
# FLITE_BIN, FESTIVAL_BIN, FESTIVAL_LIBDIR and FESTIVAL_INIT. festival looks for its init file
# in its compiled-in /usr/share/festival whatever --libdir or FESTLIBDIR say (it then prints
# "Initialization file /usr/share/festival/init.scm not found", harmless): FESTIVAL_INIT is a
# script, written here, that points libdir, datadir and lexdir at the unpacked folder and loads
# init.scm from there (voices are then found under its voices/); give it first to festival -b,
# as above. synthesize.py writes the same lines into the script it runs. Progress and a report
# go to stderr. The programs' own packages are always
# unpacked; a library package is unpacked only when the system (`ldconfig -p`) lacks one of the
# shared libraries it ships, so the image's own libraries are used where it has them. The
# report lists which library packages were needed: that is how fetch-debs.sh's IMAGE_HAS list
# was made. Uses `dpkg-deb -x` (or `dpkg -x`); falls back to Python's ar/tar reader without dpkg.
set -euo pipefail
DEBS=${1:?usage: unpack-debs.sh DEBS_DIR DEST_DIR}
DEST=${2:?usage: unpack-debs.sh DEBS_DIR DEST_DIR}
[[ "$(cd "$DEST" 2>/dev/null && pwd || echo "$DEST")" == "/" ]] && { echo "refusing to unpack into /" >&2; exit 2; }
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
CORE=" espeak-ng libespeak-ng1 espeak-ng-data libpcaudio0 libsonic0 flite libflite1 festival "
# (festvox-kallpc16k: not fetched by default, see fetch-debs.sh; unpacked where it is there)
CORE="$CORE festlex-cmu festlex-poslex festvox-kdlpc16k festvox-kallpc16k festvox-us-slt-hts "

extract() { # deb dest
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$1" "$2"
  else python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8  # "!<arch>\n"
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2], filter="tar")
    pos += 60 + size + (size & 1)
EOF
  fi
}
members() { # deb -> file list
  if command -v dpkg-deb >/dev/null; then dpkg-deb -c "$1" | awk '{print $6}'
  else echo "(no dpkg-deb)"; fi
}
pkgname() { basename "$1" | cut -d_ -f1; }

SYS=$(ldconfig -p 2>/dev/null | awk '{print $1}' | sort -u)
needed="" skipped=""
for d in "$DEBS"/*.deb; do
  p=$(pkgname "$d")
  if [[ "$CORE" == *" $p "* ]]; then extract "$d" "$DEST"; continue; fi
  # each library's soname: the shortest versioned name it ships (libasound.so.2, libestools.so.2.5)
  libs=$(members "$d" | grep -oE '[^/]+\.so(\.[0-9]+)+$' | awk '{ b = $0; sub(/\.so\..*/, "", b);
    if (!(b in m) || length($0) < length(m[b])) m[b] = $0 } END { for (b in m) print m[b] }' | sort -u || true)
  missing=""
  for l in $libs; do grep -qxF "$l" <<<"$SYS" || missing="$missing $l"; done
  if [[ -n "$missing" ]]; then
    extract "$d" "$DEST"; needed="$needed $p"
    echo "unpack $p (system lacks:${missing:- data package})" >&2
  else
    skipped="$skipped $p"
  fi
done
# slimmed data packages (slim-espeak-data.sh): the data tree of a .deb, as a tarball
for t in "$DEBS"/*.tar.xz; do
  [[ -e "$t" ]] || continue
  tar -C "$DEST" -xJf "$t"
  echo "unpack $(basename "$t")" >&2
done
LIB="$DEST/usr/lib/x86_64-linux-gnu"
LDP="$LIB:$LIB/pulseaudio:$DEST/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "library packages unpacked:${needed:- none}" >&2
echo "library packages the system already has:${skipped:- none}" >&2
for b in "$DEST/usr/bin/espeak-ng" "$DEST/usr/bin/flite" "$DEST/usr/bin/festival"; do
  [[ -e "$b" ]] || continue # festival: only where fetch-debs.sh fetched it (2026-12-04 on)
  nf=$(LD_LIBRARY_PATH="$LDP" ldd "$b" "$LIB/libespeak-ng.so.1" "$LIB/libpcaudio.so.0" 2>&1 | grep 'not found' || true)
  [[ -n "$nf" ]] && { echo "MISSING for $b: $nf" >&2; exit 3; }
done
cat <<EOF
export PATH="$DEST/usr/bin:\$PATH"
export LD_LIBRARY_PATH="$LDP"
export ESPEAK_DATA_PATH="$LIB"
export ESPEAK_NG_BIN="$DEST/usr/bin/espeak-ng"
export FLITE_BIN="$DEST/usr/bin/flite"
export FESTIVAL_BIN="$DEST/usr/bin/festival"
export FESTIVAL_LIBDIR="$DEST/usr/share/festival/"
export FESTIVAL_INIT="$DEST/festival-init.scm"
EOF
if [[ -e "$DEST/usr/share/festival/init.scm" ]]; then
  cat >"$DEST/festival-init.scm" <<EOF
(set! libdir "$DEST/usr/share/festival/")
(set! datadir libdir)
(set! lexdir (path-append libdir "dicts/"))
(load (path-append libdir "init.scm"))
EOF
fi
