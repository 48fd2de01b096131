#!/usr/bin/env bash
# One device call: record the GPU image, unpack the TTS packages, run the tests, synthesize a
# small set with timing, benchmark engines and the augmenting loader, bring back samples.
#
#   device run, carry [".gpu/speech"]:
#   bash training/audio/gpu-synth-check.sh 4000     # number of training utterances
#
# Writes to $OUT: synth-check.log (everything printed), image.txt (ldconfig -p, library folder,
# pip list: what the image has), samples.tar (WAVs + samples.json), summary.json.
set -uo pipefail
N=${1:-4000}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
DATA=/tmp/speech; TTS=/tmp/speech-tts
step() { echo; echo "=== $(date -u +%H:%M:%S) $*"; }

{
step image
cat /etc/os-release | head -4; uname -r; nproc; free -g | head -2; df -h /tmp | tail -1
ldd --version | head -1
python3 -c 'import sys, numpy, scipy, torch, torchaudio; print(sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__, "torch", torch.__version__, "torchaudio", torchaudio.__version__, "cuda", torch.cuda.is_available())'
for t in dpkg-deb espeak-ng espeak flite sox ffmpeg pytest; do printf '%s: %s\n' "$t" "$(command -v $t || echo -)"; done
{ echo "## ldconfig -p"; ldconfig -p; echo "## ls /usr/lib/x86_64-linux-gnu"; ls /usr/lib/x86_64-linux-gnu; echo "## pip list"; python3 -m pip list 2>/dev/null; } > "$OUT/image.txt"
wc -l "$OUT/image.txt"

step unpack
t0=$(date +%s.%N)
bash training/audio/unpack-debs.sh .gpu/speech/debs "$TTS" > /tmp/tts-env.sh || { echo "unpack failed"; exit 1; }
source /tmp/tts-env.sh
echo "unpack took $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || python3 -c "import time;print(time.time()-$t0)") s"
espeak-ng --version; flite --version | head -1

step tests
python3 -m pytest -q -p no:cacheprovider training/audio/test_pipeline.py 2>&1 | tail -4

step "synthesize train ($N utterances, $(nproc) workers)"
python3 training/audio/synthesize.py --text .gpu/speech/text --out $DATA --split train --utts "$N" --shard-size 125 | tail -3
step "synthesize test (test-voices 100 per held-out voice; test-sentences first 600)"
python3 training/audio/synthesize.py --text .gpu/speech/text --out $DATA --split test --utts 600 --test-per-voice 100 --shard-size 50 | grep '^{'
du -sh $DATA/*

step "engine + loader benchmarks, samples"
python3 training/audio/gpu_check.py --data $DATA --out /tmp/samples
tar -C /tmp -cf "$OUT/samples.tar" samples
python3 - <<'PY' > "$OUT/summary.json"
import json
d = {}
for f in ("summary-train.json", "summary-test.json", "gpu-check.json"):
    d[f] = json.load(open("/tmp/speech/" + f))
print(json.dumps(d, indent=1))
PY
cat "$OUT/summary.json"
step done
} 2>&1 | tee "$OUT/synth-check.log"
