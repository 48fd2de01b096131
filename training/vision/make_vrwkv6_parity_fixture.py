"""Parity fixtures for our VRWKV6 against the official Vision-RWKV code (GPU machine).

    python3 training/vision/make_vrwkv6_parity_fixture.py --ref /path/to/Vision-RWKV --out DIR

--ref is a copy of OpenGVLab/Vision-RWKV kept OUTSIDE this repository. Its backbone file
(classification/mmcls_custom/models/backbones/vrwkv6.py) is run as written, with its
CUDA kernel (cuda_v6/) built from a temporary copy (the file loads it by a path relative
to the classification folder), loaded by official_vrwkv.py with the same small stand-ins
for the mmcv/mmcls helpers it imports. The official code fixes the head size
at 64, so the reduced configs have 64-channel heads.

For two reduced random-initialised configs it writes the state_dict (with a linear head;
every parameter rounded to float16 and stored so, to keep the files small: the official
model runs on exactly those values in float32) and, for a batch at the trained size and
one at another size, the images, the output of block 0, the backbone's final features
and the head's logits, computed twice: with the official CUDA kernel (`features`, ...)
and with the WKV evaluated exactly by its definition in float64 (`exact.features`, ...).
"""
import argparse, json, os, sys

import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--out', required=True)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_vrwkv import load_official_vrwkv6  # noqa: E402

off, kernel_note = load_official_vrwkv6(a.ref)
print('official kernel:', kernel_note, flush=True)
official_kernel = off.RUN_CUDA_RWKV6


def exact_wkv6(B, T, C, H, r, k, v, w, u):
    """The bidirectional WKV-6 by its definition, in float64, O(T^2): what the official
    kernel computes (a backward walk over s > t plus a forward walk over s < t with the
    bonus u at s = t), with the decay factors exp(-exp(w)) of the positions strictly
    between s and t, summed as logs."""
    N = C // H
    r, k, v, w = (x.double().reshape(B, T, H, N) for x in (r, k, v, w))
    lw = -torch.exp(w)  # log of the decay factor, [B, T, H, N]
    cs = torch.cumsum(lw, 1)
    t = torch.arange(T, device=r.device)
    ct, cs_s = cs[:, :, None], cs[:, None, :]  # [B, t, s, H, N]
    before = (ct - lw[:, :, None]) - cs_s  # s < t: sum_{s < m < t} lw_m = cs[t-1] - cs[s]
    after = (cs_s - lw[:, None, :]) - ct  # s > t: cs[s-1] - cs[t]
    m_before = (t[:, None] > t[None, :])[None, :, :, None, None]
    m_after = (t[:, None] < t[None, :])[None, :, :, None, None]
    ex = torch.where(m_before, before, torch.where(m_after, after, torch.zeros_like(before)))
    A = torch.exp(ex)
    eye = (t[:, None] == t[None, :])[None, :, :, None, None]
    A = torch.where(eye, u.double().reshape(1, 1, 1, H, N).expand_as(A), A)
    y = torch.einsum('bthi,btshi,bshi,bshj->bthj', r, A, k, v)
    return y.reshape(B, T, C).float().contiguous()


CONFIGS = {
    # plain: two heads (per-head Q-shift and group norm), FFN rate 1, pre-norm, no switches
    'plain': dict(img_size=32, patch_size=4, embed_dims=128, num_heads=2, depth=2, hidden_rate=1),
    # every switch on: key norm, layer scale, post-norm, class token
    'switches': dict(img_size=32, patch_size=4, embed_dims=64, num_heads=1, depth=2, key_norm=True,
                     init_values=0.5, post_norm=True, with_cls_token=True),
}
SIZES = {'trained': (32, 32), 'other': (20, 36)}
notes = []
for name, cfg in CONFIGS.items():
    backbone = off.VRWKV6(**cfg).cuda().eval()
    head = nn.Linear(cfg['embed_dims'], 10).cuda()
    with torch.no_grad():  # move every parameter off its initial value so each one matters
        for n_, prm in list(backbone.named_parameters()) + list(head.named_parameters()):
            prm.add_(torch.randn_like(prm) * (0.3 if prm.dim() < 2 else 0.1))
            prm.copy_(prm.half().float())  # exactly representable in the float16 file
    state = {f'backbone.{k}': v.detach().cpu().half().contiguous() for k, v in backbone.state_dict().items()}
    state.update({f'head.fc.{k}': v.detach().cpu().half().contiguous() for k, v in head.state_dict().items()})
    torch.save({'state_dict': state}, os.path.join(a.out, f'vrwkv6-{name}.pth'))
    expected = {}
    dev = {}
    block0 = {}
    hook = backbone.layers[0].register_forward_hook(lambda m, i, o: block0.__setitem__('out', o.detach()))

    def run(wkv):
        off.RUN_CUDA_RWKV6 = wkv
        feat = backbone(x)[-1]  # [B, C, rows, cols]
        return {
            'block0': block0['out'].cpu().contiguous(),
            'features': feat.flatten(2).transpose(1, 2).cpu().contiguous(),
            'logits': head(feat.mean(dim=(2, 3))).cpu().contiguous(),
        }

    for size_name, (h, w) in SIZES.items():
        x = torch.randn(2, 3, h, w, device='cuda')
        expected[f'{size_name}.pixels'] = x.cpu().contiguous()
        with torch.no_grad():
            ex = run(exact_wkv6)
            for k_, v_ in ex.items():
                expected[f'{size_name}.exact.{k_}'] = v_
            if kernel_note == 'built':
                kern = run(official_kernel)
                for k_, v_ in kern.items():
                    expected[f'{size_name}.{k_}'] = v_
                    dev[f'{size_name}.{k_}'] = (v_ - ex[k_]).abs().max().item()
    hook.remove()
    torch.save(expected, os.path.join(a.out, f'vrwkv6-{name}-expected.pth'))
    print(name, {k: tuple(v.shape) for k, v in expected.items()}, flush=True)
    print(name, 'official kernel vs exact float64 WKV, max |diff|:', json.dumps(dev), flush=True)
    notes.append(f'- {name} ({json.dumps(cfg)}): official kernel vs exact WKV, max |diff| '
                 + ', '.join(f'{k} {v:.3e}' for k, v in dev.items()))
open(os.path.join(a.out, 'SOURCE.md'), 'w').write(
    'Made by training/vision/make_vrwkv6_parity_fixture.py from OpenGVLab/Vision-RWKV@'
    + os.environ.get('REF_COMMIT', 'unknown') + ' (classification/mmcls_custom/models/backbones/vrwkv6.py '
    'and its cuda_v6 kernel, ' + kernel_note + '), torch ' + torch.__version__ + ', on '
    + torch.cuda.get_device_name() + '.\n\n'
    'Weights are stored as float16 (the official model ran on exactly those values in float32). '
    'Outputs without a prefix come from the official model as written (its CUDA WKV kernel); '
    '`exact.*` from the same model with the WKV evaluated by its definition in float64.\n\n'
    + '\n'.join(notes) + '\n')
