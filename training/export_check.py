#!/usr/bin/env python3
"""Check an exported demo LM (models/demo-lm) without the GPU and without the `safetensors` package.

    python3 training/export_check.py                      # names/shapes + "The " logits
    python3 training/export_check.py --bpb                # + validation bits per byte (chunked, CPU)
    python3 training/export_check.py --bpb --rnn 4096     # + RNN mode on the first 4096 bytes

1. every tensor name/shape is that of an official RWKV-7 x070 checkpoint (the layout that
   rwkv7_lm.RWKV7 builds: blocks.0 has no att.v0/v1/v2);
2. the logits after "The " (RNN mode, float32, zero state) equal expected-logits-The.json;
3. optionally recomputes the validation bits per byte as train_lm.py defines it and compares
   it with metrics.json.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7_lm import RWKV7, RnnRunner, config_from_state_dict, load_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="models/demo-lm")
    ap.add_argument("--bpb", action="store_true")
    ap.add_argument("--rnn", type=int, default=0, help="also run RNN mode over this many validation bytes")
    a = ap.parse_args()
    sd, meta = load_safetensors(os.path.join(a.dir, "model.safetensors"))
    dtypes = sorted({str(v.dtype) for v in sd.values()})
    sd = {k: v.float() for k, v in sd.items()}
    cfg = config_from_state_dict(sd)
    print("metadata", meta)
    print("config", cfg.to_dict(), "dtypes", dtypes, "params", sum(v.numel() for v in sd.values()))

    ref = RWKV7(cfg).state_dict()
    missing = sorted(set(ref) - set(sd))
    extra = sorted(set(sd) - set(ref))
    bad = sorted(k for k in ref if k in sd and tuple(ref[k].shape) != tuple(sd[k].shape))
    print("missing", missing, "unexpected", extra, "wrong shape", bad)
    ok = not (missing or extra or bad)

    exp = json.load(open(os.path.join(a.dir, "expected-logits-The.json")))
    rn = RnnRunner(sd, torch.float32)
    st = rn.zero_state()
    for b in exp["prompt_bytes"]:
        o, st = rn.forward(b, st)
    d = (o.double() - torch.tensor(exp["logits"], dtype=torch.float64)).abs().max().item()
    print(f"'The ' logits: max |diff| vs expected {d:.3e}")
    ok &= d < 1e-3

    if a.bpb:
        val = open(os.path.join(a.dir, "validation.txt"), "rb").read()
        m = RWKV7(cfg)
        m.load_state_dict(sd)
        m.eval()
        with torch.no_grad():
            idx = torch.tensor(list(val), dtype=torch.long).view(1, -1)
            logits = m(idx, chunk=16)[0]
            nll = F.cross_entropy(logits[:-1], idx[0, 1:], reduction="none")
        bpb = nll.mean().item() / math.log(2)
        want = json.load(open(os.path.join(a.dir, "metrics.json")))["val_bpb"]
        print(f"validation bpb {bpb:.6f} over {len(val) - 1} predicted bytes (metrics.json: {want:.6f})")
        ok &= abs(bpb - want) < 1e-3
        if a.rnn:
            st = rn.zero_state()
            n = min(a.rnn, len(val) - 1)
            tot, mx = 0.0, 0.0
            for t in range(n):
                o, st = rn.forward(val[t], st)
                mx = max(mx, (o - logits[t]).abs().max().item())
                tot += F.cross_entropy(o.view(1, -1), torch.tensor([val[t + 1]])).item()
            print(f"RNN mode on {n} bytes: bpb {tot / n / math.log(2):.6f} vs chunked "
                  f"{nll[:n].mean().item() / math.log(2):.6f}; max |logit diff| {mx:.2e}")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
