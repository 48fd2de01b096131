"""Parity fixtures for our VRWKV against the official Vision-RWKV code (GPU machine).

    python3 training/vision/make_vrwkv_parity_fixture.py --ref /path/to/Vision-RWKV --out DIR

--ref is a copy of OpenGVLab/Vision-RWKV kept OUTSIDE this repository. Its backbone file
(classification/mmcls_custom/models/backbones/vrwkv.py) is run as written, with two
adjustments made on a temporary copy: its CUDA kernel is built for this GPU (the file asks
for sm_86 only, and the kernel uses a THC header and `Tensor.type()` dispatch that
PyTorch 2 no longer has), and the
mmcv/mmcls helpers it imports are given by small stand-ins below that do what those
libraries do for this model (a Conv2d patch embedding, bicubic position-embedding
resize, a backbone registry). For two reduced random-initialised configs it writes the
state_dict (with a linear head) and, for a batch at the trained size and one at another
size, the images, the backbone's final features and the head's logits.
"""
import argparse, os, re, sys, tempfile, types

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--ref', required=True)
p.add_argument('--out', required=True)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(0)

# ---- stand-ins for the mmcv / mmcls pieces the backbone imports ---------------------------
def module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m

class BaseModule(nn.Module):
    def __init__(self, init_cfg=None):
        super().__init__()

class PatchEmbed(nn.Module):
    """mmcv PatchEmbed with conv_type Conv2d, no norm, input divisible by the patch."""
    def __init__(self, in_channels, input_size, embed_dims, conv_type, kernel_size, stride, bias):
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, bias=bias)
        self.init_out_size = (input_size // stride, input_size // stride)
    def forward(self, x):
        x = self.projection(x)
        out_size = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), out_size

def resize_pos_embed(pos_embed, src_shape, dst_shape, mode='bicubic', num_extra_tokens=1):
    """mmcls resize_pos_embed."""
    if src_shape[0] == dst_shape[0] and src_shape[1] == dst_shape[1]:
        return pos_embed
    _, L, C = pos_embed.shape
    src_h, src_w = src_shape
    extra = pos_embed[:, :num_extra_tokens]
    w = pos_embed[:, num_extra_tokens:].reshape(1, src_h, src_w, C).permute(0, 3, 1, 2)
    w = F.interpolate(w, size=dst_shape, align_corners=False, mode=mode)
    return torch.cat((extra, torch.flatten(w, 2).transpose(1, 2)), dim=1)

class Registry:
    def register_module(self, *args, **kw):
        return lambda cls: cls

for n in ['mmcv', 'mmcv.runner', 'mmcv.cnn', 'mmcv.cnn.bricks', 'mmcls', 'mmcls.models', 'mmcls.models.backbones',
          'mmcls_custom', 'mmcls_custom.models']:
    module(n)
module('mmcv.runner.base_module', BaseModule=BaseModule, ModuleList=nn.ModuleList)
module('mmcv.cnn.bricks.transformer', PatchEmbed=PatchEmbed)
module('mmcls.models.builder', BACKBONES=Registry())
module('mmcls.models.utils', resize_pos_embed=resize_pos_embed)
module('mmcls.models.backbones.base_backbone', BaseBackbone=BaseModule)
module('mmcls_custom.models.utils', DropPath=nn.Identity)

# ---- the official backbone, its kernel built for this GPU -------------------------------
root = os.path.join(a.ref, 'classification', 'mmcls_custom', 'models', 'backbones')
tmp = tempfile.mkdtemp()
for f in ['bi_wkv.cpp', 'bi_wkv_kernel.cu']:
    src = open(os.path.join(root, 'cuda_new', f)).read().replace('#include <THC/THCAtomics.cuh>', '')
    src = re.sub(r'AT_DISPATCH_FLOATING_TYPES\((\w+)\.type\(\)', r'AT_DISPATCH_FLOATING_TYPES(\1.scalar_type()', src)
    open(os.path.join(tmp, f), 'w').write(src)
major, minor = torch.cuda.get_device_capability()
source = open(os.path.join(root, 'vrwkv.py')).read()
source = source.replace('mmcls_custom/models/backbones/cuda_new/', tmp + '/')
source = re.sub(r"-gencode arch=compute_\d+,code=sm_\d+", f"-gencode arch=compute_{major}{minor},code=sm_{major}{minor}", source)
open(os.path.join(tmp, 'official_vrwkv.py'), 'w').write(source)
sys.path.insert(0, tmp)
import official_vrwkv as off  # noqa: E402

official_kernel = off.RUN_CUDA


def exact_bi_wkv(w, u, k, v):
    """The bidirectional WKV by its definition (the paper's equation), in float64, O(T^2).

    The official kernels keep running sums updated by subtracting terms, which loses
    precision: measured against this, their output is off by 3e-2 at T = 64 with this
    model's decay scale and exceeds the range of v at larger scales (see SOURCE.md). The
    fixtures therefore run the official model with this exact WKV, so that everything
    else of the official code is compared exactly, and record the kernel's deviation.
    """
    B, T, C = k.shape
    k, v, w, u = k.double(), v.double(), w.double(), u.double()
    t = torch.arange(T, device=k.device)
    dist = (t[:, None] - t[None, :]).abs().double() - 1  # |t - i| - 1
    ex = k[:, None, :, :] - dist[None, :, :, None] * w  # [B, t, i, C]
    eye = torch.eye(T, dtype=torch.bool, device=k.device)[None, :, :, None]
    ex = torch.where(eye, (u + k)[:, None, :, :].expand_as(ex), ex)
    m = ex.max(dim=2, keepdim=True).values
    e = torch.exp(ex - m)
    y = (e * v[:, None, :, :]).sum(2) / (e.sum(2) + 1e-6)
    return y.float()


off.RUN_CUDA = exact_bi_wkv

CONFIGS = {
    # plain: pre-norm, no key norm, no layer scale
    'plain': dict(img_size=32, patch_size=4, embed_dims=32, depth=2),
    # every switch on: key norm, layer scale, post-norm
    'switches': dict(img_size=32, patch_size=4, embed_dims=32, depth=2, key_norm=True, init_values=0.5, post_norm=True),
}
notes = []
for name, cfg in CONFIGS.items():
    backbone = off.VRWKV(**cfg).cuda().eval()
    head = nn.Linear(cfg['embed_dims'], 10).cuda()
    with torch.no_grad():  # move every parameter off its initial value so each one matters
        for n_, prm in list(backbone.named_parameters()) + list(head.named_parameters()):
            prm.add_(torch.randn_like(prm) * (0.3 if prm.dim() < 2 else 0.1))
    state = {f'backbone.{k}': v.detach().cpu().float().contiguous() for k, v in backbone.state_dict().items()}
    state.update({f'head.fc.{k}': v.detach().cpu().float().contiguous() for k, v in head.state_dict().items()})
    torch.save({'state_dict': state}, os.path.join(a.out, f'vrwkv-{name}.pth'))
    expected = {}
    kernel_dev = 0.0
    # (The official kernel splits tokens in 32 groups: sizes with a multiple of 32 patches.)
    for size_name, (h, w) in {'trained': (32, 32), 'other': (16, 64)}.items():
        x = torch.randn(2, 3, h, w, device='cuda')
        with torch.no_grad():
            feat = backbone(x)[-1]  # [B, C, rows, cols]
            feats = feat.flatten(2).transpose(1, 2)  # [B, N, C]
            logits = head(feat.mean(dim=(2, 3)))
            off.RUN_CUDA = official_kernel
            kernel_feats = backbone(x)[-1].flatten(2).transpose(1, 2)
            off.RUN_CUDA = exact_bi_wkv
            kernel_dev = max(kernel_dev, (kernel_feats - feats).abs().max().item())
        expected[f'{size_name}.pixels'] = x.cpu().contiguous()
        expected[f'{size_name}.features'] = feats.cpu().contiguous()
        expected[f'{size_name}.logits'] = logits.cpu().contiguous()
    torch.save(expected, os.path.join(a.out, f'vrwkv-{name}-expected.pth'))
    print(name, {k: tuple(v.shape) for k, v in expected.items()})
    notes.append(f'- {name}: the official CUDA kernel instead of the exact WKV moves the final features by up to {kernel_dev:.3e}.')
open(os.path.join(a.out, 'SOURCE.md'), 'w').write(
    'Made by training/vision/make_vrwkv_parity_fixture.py from OpenGVLab/Vision-RWKV@'
    + os.environ.get('REF_COMMIT', 'unknown') + ' (classification/mmcls_custom/models/backbones/vrwkv.py, '
    'with its WKV evaluated exactly by its definition), torch ' + torch.__version__ + ', on '
    + torch.cuda.get_device_name() + '.\n\n' + '\n'.join(notes) + '\n')
