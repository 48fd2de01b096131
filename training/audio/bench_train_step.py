"""One training step of the speech model (forward, losses, backward, AdamW), chunked WKV-7
against the fused kernels, on random features of a training batch's size: steps a second and
the GPU's busy share, without rendering any audio (what the WKV kernel changes is the model's
part of the step; the trainer adds augmentation and features).

    python3 training/audio/bench_train_step.py                     # GPU machine: shipped config, B 96, 12 s
    python3 training/audio/bench_train_step.py --b 2 --seconds 2 --steps 1   # anywhere (CPU: emulated kernels)
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv_speech_model import SpeechModel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default=os.path.join(HERE, '..', '..', 'models', 'rwkv-speech-en-synth',
                                                    'model.safetensors'))
    ap.add_argument('--b', type=int, default=96, help='utterances a batch (the trainer: ~1200 s of audio)')
    ap.add_argument('--seconds', type=float, default=12.0, help='seconds of audio each')
    ap.add_argument('--labels', type=int, default=160, help='characters each')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--chunk', type=int, default=32)
    a = ap.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    frames = int(a.seconds * 100) // 4 * 4
    g = torch.Generator().manual_seed(0)
    feats = (torch.randn(a.b, frames, 80, generator=g) * 3 + 10).to(device)
    lens = torch.full((a.b,), frames)
    targets = torch.randint(1, 29, (a.b, a.labels), generator=g).to(device)
    tlens = torch.full((a.b,), a.labels)
    print(f'speech training step, B {a.b} x {a.seconds:g} s ({frames // 4} encoder steps), {a.labels} labels, '
          f'{torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}')
    results = {}
    for kernel in ('chunked', 'fused'):
        model = SpeechModel.from_exported(a.model).set_wkv_chunk(a.chunk).set_wkv_kernel(kernel).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def step():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                ctc, rnnt, _ = model.losses(feats, lens, targets, tlens)
            loss = 0.3 * ctc + 0.7 * rnnt
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach()

        for _ in range(2):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        gpu_ms = 0.0
        for _ in range(a.steps):
            if device.type == 'cuda':
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
            loss = step()
            if device.type == 'cuda':
                e.record()
                torch.cuda.synchronize()
                gpu_ms += s.elapsed_time(e)
        wall = (time.perf_counter() - t0) / a.steps
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else 0.0
        results[kernel] = wall
        print(f'{kernel:>8} ({"chunks of " + str(a.chunk) if kernel == "chunked" else "2 kernels a block"}): '
              f'{wall * 1000:8.1f} ms a step, {1 / wall:6.2f} steps/s, loss {float(loss):.4f}'
              + (f', peak memory {peak:.1f} GiB' if device.type == 'cuda' else ''))
        del model, opt
    print(f'fused / chunked step time: {results["fused"] / results["chunked"]:.3f}')


if __name__ == '__main__':
    main()
