#!/usr/bin/env python3
"""A train_asr.py checkpoint made small enough to carry into a new device call.

    python3 training/audio/slim_ckpt.py IN_DIR OUT_DIR

IN_DIR holds ckpt.pt.part* (fp32 weights, AdamW moments); OUT_DIR gets the weights in fp16 and
no optimizer state (train_asr.py --resume OUT_DIR then starts new moments with a warm-up).
A machine that is still warm resumes from the full checkpoint on its disk instead.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from train_lm import load_ckpt  # noqa: E402



def main():
    src, dst = sys.argv[1:3]
    ck = load_ckpt(src)
    os.makedirs(dst, exist_ok=True)
    model = {k: (v.half() if v.is_floating_point() and not k.endswith(('feat_shift', 'feat_scale')) else v)
             for k, v in ck['model'].items()}
    import io
    blob = io.BytesIO()
    torch.save({'model': model, 'opt': None, 'meta': ck['meta']}, blob)
    data = blob.getvalue()
    for f in os.listdir(dst):
        if f.startswith('ckpt.pt.part'):
            os.remove(os.path.join(dst, f))
    n = 15 << 20
    for i in range(0, len(data), n):
        with open(os.path.join(dst, f'ckpt.pt.part{i // n:02d}'), 'wb') as f:
            f.write(data[i:i + n])
    print(f"{dst}: step {ck['meta']['step']}, {len(data) / 2**20:.1f} MiB")


if __name__ == '__main__':
    main()
