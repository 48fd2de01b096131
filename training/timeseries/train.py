"""Train the official RWKV4TS on an ETT-format hourly CSV for one horizon and export it (GPU machine).

    python3 training/timeseries/train.py --ref /path/to/RWKV-TS --data ETTh1.csv --horizon 192 --out DIR \
        [--d-model 128 --lr 1e-4 --sched cos --dropout 0 --wd 0 --batch 256 --seed 0 ...]

--ref is a copy of howard-hou/RWKV-TS kept OUTSIDE this repository (or its
Long-term_Forecasting/models folder alone); the model class is imported from there unchanged.

Protocol (the reference loader Dataset_ETT_hour): 12/4/4 months of 30 days for train /
validation / test, later splits starting seq_len rows early, every variable standardized
with the training rows' mean and std; each sample is one channel's window (channel
independence). Training: Adam (AdamW when --wd > 0), MSE loss, the learning rate schedule
per epoch (`cos`: the published script's CosineAnnealingLR with T_max --tmax; `type4`: halved
every epoch; `const`), early stopping on validation MSE (--patience epochs), the epoch with
the best validation MSE kept. --dropout sets the official RWKVConfig.dropout (the Dropout
modules inside the RWKV blocks, which the reference leaves at 0); it changes training only,
never the exported graph. Nothing here reads the test split unless --test is given; test
MSE / MAE are over every test window (stride 1) and channel, standardized.

Writes DIR/model.pth (float32 state_dict, official names), DIR/config.json (sizes, scaling,
recipe, validation figures, and with --test the test figures and the first 64 test
windows' MSE that CI recomputes) and DIR/train.log.
"""
import argparse
import csv
import json
import os
import sys
import time
import types

import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--data', required=True)
p.add_argument('--horizon', type=int, default=96)
p.add_argument('--out', required=True)
p.add_argument('--seq-len', type=int, default=336)
p.add_argument('--d-model', type=int, default=128)
p.add_argument('--n-heads', type=int, default=2)
p.add_argument('--layers', type=int, default=2)
p.add_argument('--lr', type=float, default=1e-4)
p.add_argument('--sched', choices=['cos', 'type4', 'const'], default='cos')
p.add_argument('--tmax', type=int, default=20)
p.add_argument('--epochs', type=int, default=20)
p.add_argument('--patience', type=int, default=3, help='validations without improvement before stopping')
p.add_argument('--evals-per-epoch', type=int, default=1, help='validate this many times per epoch')
p.add_argument('--batch', type=int, default=256)
p.add_argument('--dropout', type=float, default=0.0)
p.add_argument('--wd', type=float, default=0.0)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--max-seconds', type=float, default=1e9, help='stop after the epoch that passes this')
p.add_argument('--test', action='store_true', help='evaluate the kept epoch on the test split')
p.add_argument('--eval-only', action='store_true', help='load DIR/model.pth + config.json, add test figures')
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)

models_dir = a.ref
for sub in ('Long-term_Forecasting', 'models'):
    if os.path.isdir(os.path.join(models_dir, sub)):
        models_dir = os.path.join(models_dir, sub)
sys.path.insert(0, models_dir)
import RWKV4TS as off  # noqa: E402

torch.manual_seed(a.seed)
np.random.seed(a.seed)
dev = 'cuda' if torch.cuda.is_available() else 'cpu'

if a.eval_only:  # the sizes come from the exported config
    saved = json.load(open(os.path.join(a.out, 'config.json')))
    a.seq_len, a.horizon, a.d_model, a.n_heads, a.layers = (
        saved['seqLen'], saved['predLen'], saved['dModel'], saved['nHead'], saved['nLayer'])

L, H = a.seq_len, a.horizon
rows = list(csv.reader(open(a.data)))
columns = rows[0][1:]
data = np.array([[float(x) for x in r[1:]] for r in rows[1:]], dtype=np.float64)
M = 30 * 24
b1, b2 = [0, 12 * M - L, 16 * M - L], [12 * M, 16 * M, 20 * M]
mean, std = data[:b2[0]].mean(0), data[:b2[0]].std(0)
norm = ((data - mean) / std).astype(np.float32)
splits = [torch.from_numpy(norm[b1[i]:b2[i]]).to(dev) for i in range(3)]
C = len(columns)


def windows(x):
    """All (window, channel) samples, window-major: history [N, L, 1], target [N, H, 1]."""
    n = x.shape[0] - L - H + 1
    idx = torch.arange(n, device=x.device)[:, None] + torch.arange(L + H, device=x.device)[None, :]
    w = x[idx].permute(0, 2, 1).reshape(-1, L + H, 1)
    return w[:, :L].contiguous(), w[:, L:].contiguous()


cfg = types.SimpleNamespace(seq_len=L, pred_len=H, patch_size=16, stride=8, d_model=a.d_model,
                            n_heads=a.n_heads, gpt_layers=a.layers, pretrain=False, freeze=False)
model = off.RWKV4TS(cfg, dev)
for m in model.modules():
    if isinstance(m, torch.nn.Dropout):
        m.p = a.dropout


@torch.no_grad()
def evaluate(x, y):
    model.eval()
    preds = torch.cat([model(x[i:i + 4096].clone(), 0) for i in range(0, len(x), 4096)])
    model.train()
    return ((preds - y) ** 2).mean().item(), (preds - y).abs().mean().item(), preds


def test_figures():
    xte, yte = windows(splits[2])
    mse, mae, preds = evaluate(xte, yte)
    # the first 64 test windows, all channels (samples are window-major): CI recomputes it
    sub = ((preds[: 64 * C] - yte[: 64 * C]) ** 2).mean().item()
    return {'testMse': mse, 'testMae': mae, 'testWindows': splits[2].shape[0] - L - H + 1,
            'first64TestWindowsMse': sub}


if a.eval_only:
    state = torch.load(os.path.join(a.out, 'model.pth'), map_location=dev)
    model.load_state_dict(state)
    saved.update(test_figures())
    json.dump(saved, open(os.path.join(a.out, 'config.json'), 'w'), indent=1)
    print(json.dumps({k: saved[k] for k in ('predLen', 'valMse', 'testMse', 'testMae')}))
    sys.exit(0)

xtr, ytr = windows(splits[0])
xva, yva = windows(splits[1])
params = list(model.parameters())
opt = (torch.optim.AdamW(params, lr=a.lr, weight_decay=a.wd) if a.wd > 0
       else torch.optim.Adam(params, lr=a.lr))
if a.sched == 'cos':
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.tmax, eta_min=1e-8)
elif a.sched == 'type4':
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
else:
    sched = None

log = open(os.path.join(a.out, 'train.log'), 'w')
recipe = {k: getattr(a, k) for k in ('lr', 'sched', 'tmax', 'epochs', 'patience', 'evals_per_epoch', 'batch', 'dropout', 'wd', 'seed')}
recipe['optimizer'] = 'AdamW' if a.wd > 0 else 'Adam'
log.write(f'recipe {json.dumps(recipe)}; d_model {a.d_model}, {a.n_heads} heads, {a.layers} layers; '
          f'{sum(t.numel() for t in params)} parameters\n')
best, best_state, best_epoch, stale = float('inf'), None, 0, 0
t0 = time.time()
steps_per_epoch = (len(xtr) + a.batch - 1) // a.batch
eval_at = {round(steps_per_epoch * (j + 1) / a.evals_per_epoch) for j in range(a.evals_per_epoch)}
done = False
for epoch in range(a.epochs):
    order = torch.randperm(len(xtr), device=dev)
    total, steps = 0.0, 0
    for s in range(0, len(order), a.batch):
        i = order[s:s + a.batch]
        loss = ((model(xtr[i].clone(), 0) - ytr[i]) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach()
        steps += 1
        if steps not in eval_at:
            continue
        val_mse, val_mae, _ = evaluate(xva, yva)
        at = f'{epoch + steps / steps_per_epoch:.2f}'
        line = (f'epoch {at}: train loss {total.item() / steps:.4f}, val MSE {val_mse:.4f} '
                f'MAE {val_mae:.4f} ({time.time() - t0:.0f} s)')
        print(line, flush=True)
        log.write(line + '\n')
        if val_mse < best:
            best, best_epoch, stale = val_mse, float(at), 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= a.patience:
                done = True
                break
    if sched:
        sched.step()
    if done:
        break
    if time.time() - t0 > a.max_seconds:
        log.write('stopped: time budget\n')
        break

model.load_state_dict(best_state)
val_mse, val_mae, _ = evaluate(xva, yva)
out = {
    'model': 'RWKV4TS (official class)', 'data': os.path.basename(a.data), 'columns': columns,
    'seqLen': L, 'predLen': H, 'patchSize': 16, 'stride': 8, 'dModel': a.d_model, 'nHead': a.n_heads,
    'nLayer': a.layers, 'mean': mean.tolist(), 'std': std.tolist(), 'recipe': recipe,
    'chosenEpoch': best_epoch, 'valMse': val_mse, 'valMae': val_mae, 'trainSeconds': time.time() - t0,
}
line = f'kept epoch {best_epoch}: val MSE {val_mse:.4f} MAE {val_mae:.4f}'
if a.test:
    out.update(test_figures())
    line += f'; test MSE {out["testMse"]:.4f} MAE {out["testMae"]:.4f} over {out["testWindows"]} windows x {C} channels'
print(line, flush=True)
log.write(line + '\n')
log.close()
torch.save({k: v.float().cpu().contiguous() for k, v in best_state.items()}, os.path.join(a.out, 'model.pth'))
json.dump(out, open(os.path.join(a.out, 'config.json'), 'w'), indent=1)
