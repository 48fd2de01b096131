#!/usr/bin/env bash
# The studio's browser tests drive Debian's Chromium (through playwright-core, which
# downloads no browser). This finds it (CHROMIUM_PATH, else /usr/bin/chromium) and, when
# it is missing on a machine where we are root with apt-get, installs it; otherwise it
# exits non-zero naming what to install, so the tests never skip silently.
set -euo pipefail

found() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] && return 0
    echo "ensure-chromium: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
    exit 1
  fi
  [ -x /usr/bin/chromium ]
}

if found; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium for the studio's browser tests (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  if found; then exit 0; fi
  echo "ensure-chromium: apt-get installed chromium but /usr/bin/chromium is not there" >&2
  exit 1
fi

echo "ensure-chromium: the studio's browser tests need Chromium at /usr/bin/chromium:" >&2
echo "  install Debian's package (sudo apt-get install chromium), or set CHROMIUM_PATH to a Chromium binary" >&2
exit 1
