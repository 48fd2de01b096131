#!/usr/bin/env bash
# On the GPU machine (device call, carry [".gpu/rhvoice"], `bash scripts/gpu/slim-tree.sh on
# cuda` here first; it may share the call with stage-gnuspeech.sh): unpack RHVoice into
# /tmp/rhvoice, where a later call on the same machine (gpu-train.sh with RHVOICE_SHARE) finds
# it. Says one sentence in each voice to check the libraries load and the voices speak.
set -euo pipefail
mkdir -p /tmp/rhvoice
tar -xJf .gpu/rhvoice/rhvoice.tar.xz -C /tmp
R=/tmp/rhvoice
python3 - "$R" <<'PY'
import sys
sys.path.insert(0, "training/audio")
from rhvoice_render import RHVoice
r = sys.argv[1]
engine = RHVoice(f"{r}/data", f"{r}/lib", f"{r}/conf")
for v in ("bdl", "clb", "alan", "slt"):
    x, sr = engine.say("the quick brown fox", v)
    print(f"rhvoice check: {v} {len(x) / sr:.2f} s at {sr} Hz")
PY
