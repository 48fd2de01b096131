#!/usr/bin/env bash
# Build the English byte-level training corpus for models/demo-lm from Debian packages.
#
#   sudo bash training/data/build_corpus.sh            # from the repo root, as root (uses apt-get)
#
# Debian 12 (bookworm, main). Downloads the packages below with `apt-get download`,
# unpacks them with `dpkg-deb -x` into a scratch folder (nothing from them is installed,
# except `bible-kjv`, whose `bible` program is needed to decompress the KJV text),
# turns them into plain text (man pages rendered by man/groff, POD by pod2text, the rest
# are already text or reStructuredText), then training/data/build_corpus.py cleans,
# dedupes, caps each source and splits train / validation by document.
#
# Outputs:
#   $CORPUS_WORK/out/train.txt        training text (default CORPUS_WORK=/tmp/rwkv-corpus)
#   .gpu/corpus/train.txt.xz          the same, xz-compressed: carried to the GPU machine (ignored folder)
#   .gpu/corpus/manifest.json         per-source sizes, package versions, validation documents
#   models/demo-lm/validation.txt     held-out validation text (<= 256 KiB, committed)
#   models/demo-lm/corpus-manifest.json  copy of the manifest (committed, small)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${CORPUS_WORK:-/tmp/rwkv-corpus}
OUT=${CORPUS_OUT:-$REPO/.gpu/corpus}

PKGS="bible-kjv-text fortunes fortunes-min jargon-text gnu-standards debian-reference-en
debian-faq debian-policy developers-reference manpages manpages-dev perl-doc python3.11-doc
linux-doc-6.1 git-doc bash-doc"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tools: bible (KJV decompressor), man+groff (render man pages), pod2text (perl), info not needed
apt-get install -y -qq --no-install-recommends bible-kjv man-db groff-base bsdextrautils perl xz-utils python3 >/dev/null

rm -rf "$WORK" && mkdir -p "$WORK/debs" "$WORK/x" "$WORK/text" "$OUT"
( cd "$WORK/debs" && apt-get download $PKGS )
: > "$WORK/versions.txt"
for d in "$WORK"/debs/*.deb; do
  n=$(dpkg-deb -f "$d" Package); v=$(dpkg-deb -f "$d" Version)
  echo "$n $v" >> "$WORK/versions.txt"
  mkdir -p "$WORK/x/$n" && dpkg-deb -x "$d" "$WORK/x/$n"
done
echo "bible-kjv $(dpkg-query -W -f='${Version}' bible-kjv)" >> "$WORK/versions.txt"

# KJV: the whole text, decompressed by the `bible` program from bible-kjv-text's data file.
bible -p "$WORK/x/bible-kjv-text/usr/lib" "Genesis 1:1-Revelation 22:21" > "$WORK/text/kjv.txt"

python3 "$REPO/training/data/build_corpus.py" --root "$WORK/x" --work "$WORK" \
  --versions "$WORK/versions.txt" --out "$WORK/out" --val-out "$REPO/models/demo-lm/validation.txt"

# only the compressed training text travels (the device tool carries at most 64 MiB)
xz -9e -T0 -c "$WORK/out/train.txt" > "$OUT/train.txt.xz"
cp "$WORK/out/manifest.json" "$OUT/manifest.json"
cp "$WORK/out/manifest.json" "$REPO/models/demo-lm/corpus-manifest.json"
ls -l "$OUT" "$WORK/out/train.txt" "$REPO/models/demo-lm/validation.txt"
