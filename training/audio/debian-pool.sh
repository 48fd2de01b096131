# Sourced by fetch-rhvoice.sh and fetch-mbrola.sh (bash): Debian packages by their path in the
# archive's pool, for packages this machine's apt sources do not carry (non-free, contrib).
#
#   fetch_pool_debs DIR POOL_PATH...   e.g. fetch_pool_debs "$POOL_TMP" non-free/r/rhvoice/x_1.0_all.deb
#
# downloads each into DIR and extracts it into DIR/x (DEBIAN_MIRROR, default deb.debian.org).
# Sourcing it also makes the scratch folder POOL_TMP, removed when the script exits.
POOL_TMP=$(mktemp -d)
trap 'rm -rf "$POOL_TMP"' EXIT
fetch_pool_debs() {
  local dir=$1 deb
  shift
  for deb in "$@"; do
    curl -sSf -o "$dir/$(basename "$deb")" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}/pool/$deb"
    dpkg -x "$dir/$(basename "$deb")" "$dir/x"
  done
}
