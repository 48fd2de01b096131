#!/usr/bin/env python3
"""Long-term spectra of the voices in rendered shards, against the training voices' mean.

    python3 training/audio/voice_spectra.py --train /tmp/dev2/train --other /tmp/heldout/test-voices

For each voice (espeak-ng variant, flite or festival voice) of up to --utts utterances: the mean
80-bin log-mel filterbank (the model's features: data.FBANK_OPTIONS) over
speech frames (within 8 log-power units of the utterance's loudest), minus the mean over the
--train voices, with its overall level removed. Printed per voice: the linear tilt across the
band and the spread left around it, then the curve in 8 bands of 10 bins for a few voices.

Why: the training EQ (`--eq-tilt`, `--eq-bump`, data.spectral_eq) should span the voices it must
generalise to. The held-out flite voice rms (measured 2026-12-05): tilt +0.45, like the training
voices, but a mid band (bins 20-50) about 1.5 below both ends, which the default EQ draws
(tilt 0.6, two bumps of 0.5) never reach.
"""
import argparse
import glob
import json
import os
from collections import defaultdict

import sys

import numpy as np
import torch
from torchaudio.compliance import kaldi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402


def voice_key(u):
    if u['engine'] == 'espeak':
        return f"espeak:{u['variant'] or u['voice']}"
    return f"{u['engine']}:{u['voice']}"


def mean_spectra(folder, utts):
    """{voice: mean log-mel (80,)} over the first `utts` utterances of each voice in `folder`."""
    acc = defaultdict(list)
    shards = sorted(glob.glob(os.path.join(folder, 'shard-*.json')))
    if not shards:
        raise SystemExit(f'voice_spectra.py: no shard-*.json in {folder}')
    for j in shards:
        meta = json.load(open(j))
        audio = np.load(j[:-len('.json')] + '.npy', mmap_mode='r')
        for u in meta['utts']:
            key = voice_key(u)
            if len(acc[key]) >= utts:
                continue
            x = np.asarray(audio[u['offset']:u['offset'] + u['length']], dtype=np.float32)
            if np.abs(x).max() <= 1.0:
                x = x * 32768.0  # the runtime's int16 scale
            f = kaldi.fbank(torch.from_numpy(x)[None], **data.FBANK_OPTIONS)  # the model's features
            energy = f.mean(1)
            acc[key].append(f[energy > energy.max() - 8].mean(0).numpy())
    return {k: np.mean(v, 0) for k, v in acc.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--train', required=True, help='a folder of training shards (the reference voices)')
    ap.add_argument('--other', default='', help='a folder of other shards (e.g. the held-out voices)')
    ap.add_argument('--utts', type=int, default=40, help='utterances per voice')
    ap.add_argument('--show', default='flite:rms,flite:awb,flite:slt,flite:kal16,festival:ked_diphone,espeak:m4',
                    help='voices whose curves are printed in 8 bands')
    a = ap.parse_args()
    train = mean_spectra(a.train, a.utts)
    other = mean_spectra(a.other, a.utts) if a.other else {}
    ref = np.mean(list(train.values()), 0)
    x = np.linspace(-1.0, 1.0, 80)
    curves = {}
    for name, voices in (('other', other), ('train', train)):
        for key, v in sorted(voices.items()):
            d = v - ref
            d = d - d.mean()
            tilt = np.polyfit(x, d, 1)[0]
            curves[key] = d
            print(f'{name:6s} {key:34s} tilt {tilt:+.2f}  spread around it {np.std(d - tilt * x):.2f}')
    print('\nin 8 bands of 10 mel bins (log-power, relative to the training mean, level removed):')
    for key in a.show.split(','):
        if key in curves:
            print(f'{key:34s}', ' '.join(f'{b:+.2f}' for b in curves[key].reshape(8, 10).mean(1)))


if __name__ == '__main__':
    main()
