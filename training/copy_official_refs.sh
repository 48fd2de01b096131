#!/usr/bin/env bash
# Copy the official RWKV reference implementations used by make_parity_fixtures.py into
# .gpu/ref/ (an ignored scratch folder: third-party code, never committed).
#   bash training/copy_official_refs.sh <bare git dir of BlinkDL/RWKV-LM> <bare git dir of BlinkDL/ChatRWKV>
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LM=${1:?RWKV-LM git dir}; CHAT=${2:?ChatRWKV git dir}
DST="$REPO/.gpu/ref"
rm -rf "$DST"; mkdir -p "$DST"
copy() { # gitdir repo-name path
  mkdir -p "$DST/$2/$(dirname "$3")"
  git --git-dir="$1" show "HEAD:$3" > "$DST/$2/$3"
}
for f in RWKV-v4neo/src/model_run.py RWKV-v7/rwkv_v7_demo_rnn.py RWKV-v7/rwkv_v7_demo.py RWKV-v5/rwkv_v6_demo.py; do copy "$LM" RWKV-LM "$f"; done
for f in RWKV_v5_demo.py RWKV_v6_demo.py rwkv_pip_package/src/rwkv/model.py; do copy "$CHAT" ChatRWKV "$f"; done
cat > "$DST/SOURCES.json" <<JSON
{"RWKV-LM": "BlinkDL/RWKV-LM@$(git --git-dir="$LM" rev-parse HEAD)",
 "ChatRWKV": "BlinkDL/ChatRWKV@$(git --git-dir="$CHAT" rev-parse HEAD)"}
JSON
find "$DST" -type f | sort
