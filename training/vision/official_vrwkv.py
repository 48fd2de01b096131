"""The official Vision-RWKV backbones (VRWKV and VRWKV6), importable here (GPU machine).

    from official_vrwkv import load_official_vrwkv
    off = load_official_vrwkv('/path/to/Vision-RWKV')   # a copy kept OUTSIDE this repository
    backbone = off.VRWKV(img_size=224, patch_size=16, embed_dims=192, depth=12).cuda()

Its backbone file (classification/mmcls_custom/models/backbones/vrwkv.py) runs as written,
with two adjustments made on a temporary copy: its CUDA kernel is built for this GPU (the
file asks for sm_86 only, and the kernel uses a THC header and `Tensor.type()` dispatch that
PyTorch 2 no longer has), and the mmcv/mmcls helpers it imports are given by small
stand-ins that do what those libraries do for this model (a Conv2d patch embedding,
bicubic position-embedding resize, a backbone registry). VRWKV6's
kernel (cuda_v6) is compiled as the file asks. Used by make_vrwkv_parity_fixture.py,
make_vrwkv6_parity_fixture.py and bench/vision/reference_vrwkv.py.
"""
import importlib.util
import os
import re
import sys
import tempfile
import types

import torch
import torch.nn as nn
import torch.nn.functional as F


def install_stand_ins():
    """Registers the mmcv/mmcls stand-ins in sys.modules (idempotent)."""
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



def _import_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_official_vrwkv(ref):
    """The official VRWKV module (its VRWKV class, RUN_CUDA, ...), kernel compiled for this GPU."""
    install_stand_ins()
    # ---- the official backbone, its kernel built for this GPU -------------------------------
    root = os.path.join(ref, 'classification', 'mmcls_custom', 'models', 'backbones')
    tmp = tempfile.mkdtemp()
    for f in ['bi_wkv.cpp', 'bi_wkv_kernel.cu']:
        src = open(os.path.join(root, 'cuda_new', f)).read().replace('#include <THC/THCAtomics.cuh>', '')
        src = re.sub(r'AT_DISPATCH_FLOATING_TYPES\((\w+)\.type\(\)', r'AT_DISPATCH_FLOATING_TYPES(\1.scalar_type()', src)
        open(os.path.join(tmp, f), 'w').write(src)
    major, minor = torch.cuda.get_device_capability()
    source = open(os.path.join(root, 'vrwkv.py')).read()
    source = source.replace('mmcls_custom/models/backbones/cuda_new/', tmp + '/')
    source = re.sub(r"-gencode arch=compute_\d+,code=sm_\d+", f"-gencode arch=compute_{major}{minor},code=sm_{major}{minor}", source)
    path = os.path.join(tmp, 'vision_rwkv_vrwkv.py')  # not this module's name
    open(path, 'w').write(source)
    return _import_file('vision_rwkv_vrwkv', path)


def load_official_vrwkv6(ref):
    """The official VRWKV6 module and a note on its kernel: 'built', or why not (then the
    module is loaded without it, so that a float64 WKV can stand in)."""
    install_stand_ins()
    root = os.path.join(ref, 'classification', 'mmcls_custom', 'models', 'backbones')
    tmp = tempfile.mkdtemp()
    for f in ['wkv6_op.cpp', 'wkv6_cuda.cu']:
        open(os.path.join(tmp, f), 'w').write(open(os.path.join(root, 'cuda_v6', f)).read())
    source = open(os.path.join(root, 'vrwkv6.py')).read()
    source = source.replace('mmcls_custom/models/backbones/cuda_v6/', tmp + '/')
    path = os.path.join(tmp, 'vision_rwkv_vrwkv6.py')
    open(path, 'w').write(source)
    try:
        return _import_file('vision_rwkv_vrwkv6', path), 'built'
    except Exception as e:  # the kernel did not build: load without it, say so
        note = f'not built ({type(e).__name__}: {str(e)[:200]})'
        import torch.utils.cpp_extension as ext
        ext.load = lambda **kw: None
        sys.modules.pop('vision_rwkv_vrwkv6', None)
        return _import_file('vision_rwkv_vrwkv6', path), note
