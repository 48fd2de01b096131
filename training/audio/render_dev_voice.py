#!/usr/bin/env python3
"""Render dev set 2's sentences (train sentences 128,000..128,999, which no training run reads:
gpu-train.sh's UTTS) in a dev voice, one that is neither in training nor in the held-out sets
(synthesize.RHVOICE_DEV_VOICES): a run is judged on an unseen voice there before the held-out
sets are read once.

  eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)"
  tar -xJf .gpu/rhvoice/rhvoice.tar.xz -C /tmp   # fetch-rhvoice.sh
  RHVOICE_DATA=/tmp/rhvoice/data RHVOICE_LIB=/tmp/rhvoice/lib RHVOICE_CONF=/tmp/rhvoice/conf \\
    python3 training/audio/render_dev_voice.py --text .gpu/speech/text --out /tmp/devclb

Writes shards as synthesize.py does (--out/train/shard-*.npy/json; the split is named 'train'
so that speech-heldout.js reads it with --sets train). Each utterance's prosody is drawn from
the voice's ranges with a seed of its own: the set is a pure function of the arguments.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthesize  # noqa: E402


def dev_jobs(sentences, voice, first, count, seed):
    """The dev voice's jobs: sentence i for i in [first, first + count)."""
    jobs = []
    for i in range(first, first + count):
        src, text = sentences[i % len(sentences)]
        rng = random.Random(f"{seed}:dev-voice:{voice}:{i}")
        jobs.append({"id": f"dev-{voice}-{i:07d}", "text": text, "source": src, "engine": "rhvoice",
                     "voice": voice, "variant": "", **synthesize.prosody(rng, "rhvoice", voice)})
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", required=True, help="folder with train.tsv.xz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--voice", default="clb", choices=sorted(synthesize.RHVOICE_DEV_VOICES))
    ap.add_argument("--first", type=int, default=128000)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shard-size", type=int, default=250)
    a = ap.parse_args()
    sentences = synthesize.read_tsv(os.path.join(a.text, "train.tsv.xz"))
    jobs = dev_jobs(sentences, a.voice, a.first, a.count, a.seed)
    out = os.path.join(a.out, "train")
    os.makedirs(out, exist_ok=True)
    synthesize._init_worker()
    total = 0.0
    for k in range(0, len(jobs), a.shard_size):
        _, n, secs, _ = synthesize.write_shard((out, k // a.shard_size, jobs[k:k + a.shard_size]))
        total += secs
    print(f"{len(jobs)} utterances of {a.voice}, {total / 3600:.2f} h, in {out}")


if __name__ == "__main__":
    sys.exit(main())
