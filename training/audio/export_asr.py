#!/usr/bin/env python3
"""Export a train_asr.py checkpoint as the speech model the TypeScript runtime loads.

    python3 training/audio/export_asr.py CKPT_DIR OUT_DIR [--dtype f16|f32] [--run-dir RUN_DIR]

CKPT_DIR holds ckpt.pt.part* (a run's out/ckpt). OUT_DIR gets model.safetensors: the weights
with the feature normalisation folded into the stem (rwkv_speech_model.inference_state_dict),
in fp16 by default (the runtime computes in fp32; fp16 storage halves the file, and the
largest logit change it causes is printed), with the config and training facts in its
metadata. With --run-dir, the run's metrics.json and log are copied beside it.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..'))
from rwkv_speech_model import SpeechConfig, SpeechModel, count_parameters  # noqa: E402
from train_lm import load_ckpt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ckpt')
    ap.add_argument('out')
    ap.add_argument('--dtype', choices=['f16', 'f32'], default='f16')
    ap.add_argument('--run-dir', default='')
    a = ap.parse_args()
    ck = load_ckpt(a.ckpt)
    cfg = SpeechConfig(**ck['meta']['config'])
    model = SpeechModel(cfg)
    model.load_state_dict({k: v.float() for k, v in ck['model'].items()})
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    dtype = torch.float16 if a.dtype == 'f16' else torch.float32
    meta = {'step': str(ck['meta']['step']), 'minutes_trained': f"{ck['meta']['minutes']:.2f}",
            'hours_seen': f"{ck['meta'].get('hours_seen', 0):.0f}", 'vocab': json.dumps(
                ['<blank>', ' ', "'"] + [chr(c) for c in range(ord('a'), ord('z') + 1)])}
    model.export(os.path.join(a.out, 'model.safetensors'), meta, dtype)
    # what fp16 storage changes: the encoder and heads on random features, fp32 vs rounded
    torch.manual_seed(0)
    feats = torch.randn(1, 400, cfg.feature_dim) * 4 + 12
    with torch.no_grad():
        ref, _ = model.encoder(feats)
        ref_ctc = model.ctc(ref)
        if dtype != torch.float32:
            rounded = SpeechModel(cfg)
            rounded.load_state_dict({k: (v.to(dtype).float() if k not in ('encoder.feat_shift', 'encoder.feat_scale')
                                         else v) for k, v in model.state_dict().items()})
            enc, _ = rounded.encoder(feats)
            print(f'fp16 storage: largest CTC logit change {float((rounded.ctc(enc) - ref_ctc).abs().max()):.2e} '
                  f'(logits up to {float(ref_ctc.abs().max()):.1f})')
    if a.run_dir:
        for f in ('metrics.json', 'log.txt'):
            if os.path.exists(os.path.join(a.run_dir, f)):
                shutil.copy(os.path.join(a.run_dir, f), os.path.join(a.out, 'train-' + f))
    print(f"{a.out}/model.safetensors: {count_parameters(model):,} parameters, {a.dtype}, "
          f"{os.path.getsize(os.path.join(a.out, 'model.safetensors')) / 2**20:.1f} MiB, step {ck['meta']['step']}")


if __name__ == '__main__':
    main()
