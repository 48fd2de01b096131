"""Forward + backward of one WKV-7 layer, chunked PyTorch form against the fused kernels, at a
training batch's shape: milliseconds a call (GPU time by CUDA events; wall time on the CPU),
their ratio, and the launches each issues (counted with torch.profiler).

    python3 training/bench_wkv7.py                        # GPU machine: B 300, T 400, H 4
    python3 training/bench_wkv7.py --b 2 --t 40 --reps 2  # anywhere (the CPU runs the kernels emulated)
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7_lm import wkv7_chunked  # noqa: E402
from test_wkv7_cuda import inputs  # noqa: E402
from wkv7_cuda import wkv7_fused  # noqa: E402


def timed(fn, xs, gy, reps, device):
    def once():
        ys = [x.detach().requires_grad_() for x in xs]
        y, s = fn(*ys)
        (y * gy).sum().backward()

    once()
    if device.type == 'cuda':
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            once()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t0) * 1000 / reps


def launches(fn, xs, gy, device):
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with profile(activities=acts) as prof:
        ys = [x.detach().requires_grad_() for x in xs]
        y, _ = fn(*ys)
        (y * gy).sum().backward()
    if device.type == 'cuda':
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--b', type=int, default=300)
    ap.add_argument('--t', type=int, default=400)
    ap.add_argument('--h', type=int, default=4)
    ap.add_argument('--chunk', type=int, default=32)
    ap.add_argument('--reps', type=int, default=10)
    a = ap.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    xs = [x.to(device) for x in inputs(a.b, a.t, a.h)]
    gy = torch.randn_like(xs[0])
    name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu (fused: emulated)'
    print(f'WKV-7 forward + backward, B {a.b}, T {a.t}, H {a.h}, N 64, {name}')
    rows = [(f'chunked ({a.chunk})', lambda *z: wkv7_chunked(*z, chunk=a.chunk)), ('fused', wkv7_fused)]
    ms = {}
    for label, fn in rows:
        ms[label] = timed(fn, xs, gy, a.reps, device)
        n = launches(fn, xs, gy, device)
        print(f'{label:>14}: {ms[label]:9.3f} ms a call' + (f', {n} GPU kernels' if n is not None else ''))
    print(f'fused / chunked time: {ms["fused"] / ms[rows[0][0]]:.3f}')


if __name__ == '__main__':
    main()
