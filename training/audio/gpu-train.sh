#!/usr/bin/env bash
# One device call of the speech model's training (device tool, carry [".gpu/speech"]).
#
#   bash training/audio/gpu-train.sh WAIT_S TRAIN_MINUTES [TOTAL_MINUTES] [RESUME_DIR]
#
# The first call on a machine renders the held-out sets and a first block of training shards
# (16 cores), then starts two daemons in their own sessions (setsid), which outlive the call
# while the machine is held: train_asr.py training for TRAIN_MINUTES (lr schedule over
# TOTAL_MINUTES; fbank computed on the GPU), and, once it has its feature statistics,
# synthesize.py adding training shards on 5 cores. Stop them with a pattern that cannot match
# the device command's own shell: pkill -f "[t]rain_asr.py --data" (the plain name matches it). Every call, the
# first included, then waits up to WAIT_S seconds (less if training ends) and copies the latest
# complete checkpoint, the log and the metrics (and the exported model once written) to $OUT.
# A later call within 30 s of the last one finds the machine warm and only waits and copies.
set -u
W=/tmp/asr
DATA=/tmp/speech
WAIT_S=${1:?wait seconds}
TRAIN_MIN=${2:?training minutes}
TOTAL_MIN=${3:-$TRAIN_MIN}
RESUME=${4:-}
# 5.39 M parameters: 8 encoder layers of 256 (channel mix 512), a prediction network of 128
CONFIG=${CONFIG:-'{"enc_layers": 8, "enc_dim": 256, "enc_ffn": 512, "pred_dim": 128}'}
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
UTTS0=${UTTS0:-20000}          # training utterances rendered before training starts
# ... and in all, by the background synthesizer: utterance i reads training sentence i, so the
# last 1,311 of the 129,311 sentences are never rendered for training (sentences 128000..128999
# are the second dev set's: --split train --utts 129000 --start-shard 256, training/audio/README.md;
# no run before this limit read past utterance 106,000)
UTTS=${UTTS:-128000}
PER_VOICE=${PER_VOICE:-300}    # held-out sentences per held-out voice
WORKERS=${WORKERS:-16}
T0=$SECONDS
mkdir -p "$W"
if [ ! -f "$W/started" ] && [ "$TRAIN_MIN" = 0 ]; then
  # a follow-up call that landed on a fresh machine (the last one went back after 30 s idle):
  # the daemons and their checkpoints are gone; starting a 0-minute run would only waste time
  echo "fresh machine: no training started by an earlier call is running here; start again with TRAIN_MINUTES > 0 (and the last checkpoint as RESUME_DIR)"
  exit 3
fi
if [ ! -f "$W/started" ]; then
  # Unpacked by the first call only: the background synthesizer runs from these files, and
  # unpacking again over them truncates files its engines have mapped (SIGBUS, -7: it ended
  # the synthesizer of run 5 and a flite worker of run 4 when a later call started).
  eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)" >/dev/null
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  $PY -c "import torch, torchaudio; print('torch', torch.__version__, 'torchaudio', torchaudio.__version__)"
  S="$PY training/audio/synthesize.py --text .gpu/speech/text --out $DATA"
  # GNUSPEECH_SHARE (e.g. 0.1): that share of the training utterances rendered by GnuSpeech,
  # from node and its modules a staging call left in /tmp (stage-gnuspeech.sh)
  G=()
  if [ -n "${GNUSPEECH_SHARE:-}" ]; then
    [ -x /tmp/node-bin/node ] && [ -d /tmp/gnuspeech/node_modules ] || {
      echo "GNUSPEECH_SHARE needs /tmp/node-bin/node and /tmp/gnuspeech/node_modules: run stage-gnuspeech.sh in a call just before"; exit 4; }
    export PATH=/tmp/node-bin:$PATH GNUSPEECH_MODULES=/tmp/gnuspeech/node_modules
    G=(--gnuspeech "$GNUSPEECH_SHARE")
  fi
  # RHVOICE_SHARE (e.g. 0.15): that share of the training utterances not given to GnuSpeech
  # rendered by RHVoice, from .gpu/rhvoice (fetch-rhvoice.sh) carried with this call
  # (10.6 MB: the train-slimmed tree, .gpu/speech and it fit in one call) or left in /tmp by
  # stage-rhvoice.sh
  if [ -n "${RHVOICE_SHARE:-}" ]; then
    [ -f .gpu/rhvoice/rhvoice.tar.xz ] && [ ! -d /tmp/rhvoice/lib ] && tar -xJf .gpu/rhvoice/rhvoice.tar.xz -C /tmp
    [ -d /tmp/rhvoice/lib ] || { echo "RHVOICE_SHARE needs .gpu/rhvoice carried (fetch-rhvoice.sh) or /tmp/rhvoice (stage-rhvoice.sh)"; exit 4; }
    export RHVOICE_DATA=/tmp/rhvoice/data RHVOICE_LIB=/tmp/rhvoice/lib RHVOICE_CONF=/tmp/rhvoice/conf
    G+=(--rhvoice "$RHVOICE_SHARE")
  fi
  # MBROLA_SHARE (e.g. 0.2): that share of the training utterances given to neither GnuSpeech
  # nor RHVoice rendered by espeak-ng's mb-* voices through MBROLA, from .gpu/mbrola
  # (fetch-mbrola.sh, 22.5 MB) carried with this call or left in /tmp/mbrola by stage-mbrola.sh
  # (with .gpu/speech and .gpu/rhvoice it does not fit one call)
  if [ -n "${MBROLA_SHARE:-}" ]; then
    [ -f .gpu/mbrola/mbrola.tar.xz ] && [ ! -x /tmp/mbrola/bin/mbrola ] && tar -xJf .gpu/mbrola/mbrola.tar.xz -C /tmp
    [ -x /tmp/mbrola/bin/mbrola ] || { echo "MBROLA_SHARE needs .gpu/mbrola carried (fetch-mbrola.sh) or /tmp/mbrola (stage-mbrola.sh)"; exit 4; }
    export MBROLA_DIR=/tmp/mbrola
    G+=(--mbrola "$MBROLA_SHARE")
  fi
  # PICO_SHARE (e.g. 0.15): that share of the training utterances given to none of GnuSpeech,
  # RHVoice and MBROLA rendered by SVOX Pico, from .gpu/pico (fetch-pico.sh, 1.6 MB) carried
  # with this call
  if [ -n "${PICO_SHARE:-}" ]; then
    [ -f .gpu/pico/pico.tar.xz ] && [ ! -d /tmp/pico/lib ] && tar -xJf .gpu/pico/pico.tar.xz -C /tmp
    [ -d /tmp/pico/lib ] || { echo "PICO_SHARE needs .gpu/pico carried (fetch-pico.sh)"; exit 4; }
    export PICO_LANG=/tmp/pico/lang PICO_LIB=/tmp/pico/lib
    G+=(--pico "$PICO_SHARE")
  fi
  $S --split test-voices --test-per-voice $PER_VOICE --workers $WORKERS | tail -n 1
  $S --split test-sentences --workers $WORKERS | tail -n 1
  $S --split train --utts $UTTS0 --workers $WORKERS "${G[@]}" | tail -n 1
  if [[ "${EXTRA:-}" == *"--wkv-kernel fused"* ]]; then
    # the fused WKV-7 kernels (NVRTC) checked on this GPU against float64 before they train;
    # if they fail, the call still trains, with the chunked form (the log says why)
    if $PY -m pytest -q training/test_wkv7_cuda.py >"$W/wkv7-tests.log" 2>&1; then
      tail -n 1 "$W/wkv7-tests.log"
      $PY training/bench_wkv7.py --reps 5 2>&1 | tee -a "$W/wkv7-tests.log" | tail -n 4
    else
      tail -n 25 "$W/wkv7-tests.log" | cut -c1-300
      echo "the fused WKV-7 kernels failed on this GPU: training with the chunked form instead"
      EXTRA=${EXTRA//--wkv-kernel fused/}
    fi
  fi
  R=()
  [ -n "$RESUME" ] && R=(--resume "$RESUME")
  setsid nohup $PY training/audio/train_asr.py --data $DATA --out "$W/out" --minutes "$TRAIN_MIN" \
    --total-minutes "$TOTAL_MIN" --workers ${LOADERS:-10} --config "$CONFIG" ${EXTRA:-} "${R[@]}" >"$W/train.log" 2>&1 </dev/null &
  # the background synthesizer starts once the trainer has its feature statistics: on
  # 2026-12-03 they took 5 minutes single-threaded beside 21 synthesis processes
  for _ in $(seq 300); do grep -q " parameters; config" "$W/out/log.txt" 2>/dev/null && break; sleep 1; done
  setsid nohup $S --split train --utts $UTTS --workers 5 "${G[@]}" >"$W/synth.log" 2>&1 </dev/null &
  touch "$W/started"
  echo "setup $((SECONDS - T0)) s; daemons started"
fi
while [ $((SECONDS - T0)) -lt "$WAIT_S" ] && [ ! -f "$W/out/done" ]; do
  if ! pgrep -f "[t]rain_asr.py --data" >/dev/null; then echo "train_asr.py is not running"; break; fi
  sleep 5
done
# the latest complete checkpoint: its manifest lists the parts and their total size
for try in 1 2 3 4 5; do
  rm -rf "$OUT/ckpt"
  [ -f "$W/out/ckpt/manifest.json" ] || break
  cp -r "$W/out/ckpt" "$OUT/ckpt" 2>/dev/null
  $PY - "$OUT/ckpt" <<'EOF' && break
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, 'manifest.json')))
n = sum(os.path.getsize(os.path.join(d, p)) for p in m['parts'])
sys.exit(0 if n == m['bytes'] else 1)
EOF
  sleep 2
done
cp "$W/out/log.txt" "$W/out/metrics.json" "$W/out/profile.txt" "$W/wkv7-tests.log" "$OUT/" 2>/dev/null  # profile.txt: --profile-steps
tail -n 5 "$W/train.log" | grep -v "^ *File\|^ *\^" | cut -c1-400
grep "^[0-9:]* \(step\|eval\|epoch\|resumed\|feature\|checkpoint\)" "$W/out/log.txt" 2>/dev/null | tail -n 25 | cut -c1-400
tail -n 2 "$W/synth.log" 2>/dev/null | cut -c1-300
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
uptime
echo "call $((SECONDS - T0)) s"
