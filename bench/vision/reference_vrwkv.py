"""The official Vision-RWKV VRWKV backbone's speed and memory on this GPU, and the random
weights it ran with (for bench/src/vrwkv-vs-official.ts to run the same model).

    python3 bench/vision/reference_vrwkv.py --ref /path/to/Vision-RWKV --out DIR [--configs tiny,small]
        [--sizes 224,1024] [--batch 32,2] [--seconds 3]

--ref is a copy of OpenGVLab/Vision-RWKV kept OUTSIDE this repository (loaded by
training/vision/official_vrwkv.py). Per config it writes DIR/vrwkv-<config>.pth (the
backbone's state_dict, official names under `backbone.`) and DIR/reference.json: per
config and input size, the batch, images/s (float32, the official CUDA kernel, no grad, as
many batches as fit in --seconds after a warm-up) and the peak memory
(torch.cuda.max_memory_allocated, weights included), in float32 and again under
torch.autocast(float16) (`_amp` keys; --no-amp skips it).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'training', 'vision'))
from official_vrwkv import load_official_vrwkv  # noqa: E402

# The official ImageNet configs (configs/vrwkv/vrwkv_{tiny,small}_8xb128_in1k.py).
CONFIGS = {
    'tiny': dict(img_size=224, patch_size=16, embed_dims=192, depth=12),
    'small': dict(img_size=224, patch_size=16, embed_dims=384, depth=12),
}

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--out', required=True)
p.add_argument('--configs', default='tiny,small')
p.add_argument('--sizes', default='224,1024')
p.add_argument('--batch', default='32,2', help='batch per size, in --sizes order')
p.add_argument('--seconds', type=float, default=3.0)
p.add_argument('--no-amp', action='store_true', help='skip the torch.autocast(float16) timing')
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(0)
off = load_official_vrwkv(a.ref)
sizes = [int(s) for s in a.sizes.split(',')]
batches = [int(b) for b in a.batch.split(',')]
result = {'device': torch.cuda.get_device_name(), 'torch': torch.__version__, 'configs': {}}
for name in a.configs.split(','):
    cfg = CONFIGS[name]
    model = off.VRWKV(**cfg).cuda().eval()
    params = sum(p_.numel() for p_ in model.parameters())
    state = {f'backbone.{k}': v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    torch.save({'state_dict': state}, os.path.join(a.out, f'vrwkv-{name}.pth'))
    entry = {'config': cfg, 'parameters': params, 'sizes': {}}
    for size, batch in zip(sizes, batches):
        x = torch.randn(batch, 3, size, size, device='cuda')
        figures = {'batch': batch}
        # float32 as the weights are; then under autocast(float16), as the official training
        # runs (its WKV function casts to float32 itself)
        for suffix, amp in [('', False)] + ([] if a.no_amp else [('_amp', True)]):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            with torch.no_grad(), torch.autocast('cuda', dtype=torch.float16, enabled=amp):
                for _ in range(3):
                    model(x)
                torch.cuda.synchronize()
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < a.seconds or n < 3:
                    model(x)
                    n += 1
                torch.cuda.synchronize()
                dt = time.perf_counter() - t0
            figures['images_per_s' + suffix] = n * batch / dt
            figures['peak_bytes' + suffix] = torch.cuda.max_memory_allocated()
        entry['sizes'][str(size)] = figures
        print(name, size, figures, flush=True)
    result['configs'][name] = entry
    del model
json.dump(result, open(os.path.join(a.out, 'reference.json'), 'w'), indent=1)
