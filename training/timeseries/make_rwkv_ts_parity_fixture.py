"""Parity fixture for our RWKV-TS against the official RWKV4TS (GPU or CPU machine with PyTorch).

    python3 training/timeseries/make_rwkv_ts_parity_fixture.py --ref /path/to/RWKV-TS --out DIR

--ref is a copy of howard-hou/RWKV-TS kept OUTSIDE this repository; its
Long-term_Forecasting/models/RWKV4TS.py is imported as written (it needs einops). A reduced
random-initialised model (every parameter moved off its initial value) forecasts a batch
of random multichannel windows; the state_dict and the inputs/outputs are saved.
"""
import argparse, os, sys, types

import torch

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--out', required=True)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(0)
sys.path.insert(0, os.path.join(a.ref, 'Long-term_Forecasting', 'models'))
import RWKV4TS as off  # noqa: E402

cfg = types.SimpleNamespace(seq_len=64, pred_len=24, patch_size=16, stride=8, d_model=32, n_heads=2,
                            gpt_layers=2, pretrain=False, freeze=False)
model = off.RWKV4TS(cfg, 'cpu').eval()
with torch.no_grad():
    for n, prm in model.named_parameters():
        prm.add_(torch.randn_like(prm) * (0.2 if prm.dim() < 2 else 0.05))
state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
torch.save(state, os.path.join(a.out, 'rwkv-ts-tiny.pth'))
B, L, M = 3, cfg.seq_len, 4
t = torch.arange(L).float()
history = torch.stack([torch.stack([(c + 1) * torch.sin(t / (5 + c) + b) + 10 * c + 0.3 * torch.randn(L) for c in range(M)], 1)
                       for b in range(B)])  # [B, L, M]: offsets, scales, noise
with torch.no_grad():
    forecast = model(history.clone(), 0)
torch.save({'history': history.contiguous(), 'forecast': forecast.contiguous()},
           os.path.join(a.out, 'rwkv-ts-tiny-expected.pth'))
open(os.path.join(a.out, 'SOURCE.md'), 'w').write(
    'Made by training/timeseries/make_rwkv_ts_parity_fixture.py from howard-hou/RWKV-TS@'
    + os.environ.get('REF_COMMIT', 'unknown') + ' (Long-term_Forecasting/models/RWKV4TS.py), torch '
    + torch.__version__ + ': seq_len 64, pred_len 24, patch 16, stride 8, d_model 32, 2 heads, 2 layers, 4 channels.\n')
print({k: tuple(v.shape) for k, v in state.items() if k.startswith(('in_', 'out_'))}, tuple(forecast.shape))
