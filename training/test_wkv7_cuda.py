"""Tests of the fused WKV-7 training kernels (cuda_kernels/wkv7.cu through wkv7_cuda.py).

    python3 -m pytest training/test_wkv7_cuda.py

On a machine without a GPU the kernel source runs on the host under cuda_kernels/emulate.h
(g++, a thread per CUDA thread); with a GPU the same cases also run through NVRTC. The
reference is the recurrence itself, step by step in float64 with autograd.
"""
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip('torch')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_launch  # noqa: E402
from rwkv7_lm import wkv7_chunked  # noqa: E402
from wkv7_cuda import wkv7_fused  # noqa: E402

DEVICES = (['cpu'] if shutil.which('g++') else []) + (['cuda'] if torch.cuda.is_available() else [])
LOGW_MIN = -math.exp(-0.5)  # RWKV-7's bound: w >= exp(-exp(-0.5)) = 0.545


def inputs(B, T, H, N=64, seed=0, logw_at_bound=False):
    """RWKV-7-shaped inputs: a = -kk and b = kk * gate with kk unit-norm per head."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(B, T, H, N, generator=g)
    k = torch.randn(B, T, H, N, generator=g) * 0.5
    v = torch.randn(B, T, H, N, generator=g)
    kk = torch.nn.functional.normalize(torch.randn(B, T, H, N, generator=g), dim=-1)
    gate = torch.sigmoid(torch.randn(B, T, H, N, generator=g))
    logw = (torch.full((B, T, H, N), LOGW_MIN) if logw_at_bound
            else LOGW_MIN * torch.sigmoid(torch.randn(B, T, H, N, generator=g) * 2))
    return r, logw, k, v, -kk, kk * gate


def reference(r, logw, k, v, a, b, s0=None):
    """The recurrence one step at a time (dtype of the inputs)."""
    B, T, H, N = r.shape
    S = torch.zeros(B, H, N, N, dtype=r.dtype) if s0 is None else s0
    ys = []
    for t in range(T):
        w = torch.exp(logw[:, t])
        sa = (S @ a[:, t, :, :, None])                          # (B,H,N,1)
        S = S * w[:, :, None, :] + sa * b[:, t, :, None, :] + v[:, t, :, :, None] * k[:, t, :, None, :]
        ys.append((S @ r[:, t, :, :, None])[..., 0])
    return torch.stack(ys, 1), S


def cotangents(B, T, H, N, seed):
    """Random weights on the outputs and on the final state: the loss whose gradients are compared."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, H, N, generator=g), torch.randn(B, H, N, N, generator=g)


def grads_of(fn, xs, gy, gs):
    xs = [x.detach().clone().requires_grad_() for x in xs]
    y, S = fn(*xs)
    ((y * gy).sum() + (S * gs).sum()).backward()
    return y.detach(), S.detach(), [x.grad for x in xs]


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-30))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('T,checkpoint,with_state', [(37, 16, False), (37, 16, True), (16, 16, True), (5, 4, False),
                                                     (1, 16, True)])
def test_fused_wkv7_matches_the_recurrence_in_values_and_gradients(device, T, checkpoint, with_state):
    B, H, N = 2, 2, 64
    xs = list(inputs(B, T, H, N, seed=T))
    g = torch.Generator().manual_seed(7)
    if with_state:
        xs.append(torch.randn(B, H, N, N, generator=g) * 0.3)
    gy = torch.randn(B, T, H, N, generator=g)
    gs = torch.randn(B, H, N, N, generator=g)
    y64, S64, g64 = grads_of(reference, [x.double() for x in xs], gy.double(), gs.double())
    dev = torch.device(device)
    y, S, gr = grads_of(lambda *z: wkv7_fused(*z[:6], state=z[6] if with_state else None, checkpoint=checkpoint),
                        [x.to(dev) for x in xs], gy.to(dev), gs.to(dev))
    assert rel(y.cpu(), y64) < 2e-5 and rel(S.cpu(), S64) < 2e-5
    names = ['r', 'logw', 'k', 'v', 'a', 'b', 'state']
    for name, got, want in zip(names, gr, g64):
        assert got is not None, name
        assert rel(got.cpu(), want) < 1e-4, (name, rel(got.cpu(), want))


@pytest.mark.parametrize('device', DEVICES)
def test_undoing_steps_at_the_decay_bound_stays_accurate(device):
    """Every decay at RWKV-7's smallest (each undone step grows rounding by 1.83x): the
    gradients of a 64-step sequence against float64, checkpoints of 4, 8 (the default), 16."""
    B, T, H, N = 1, 64, 2, 64
    xs = list(inputs(B, T, H, N, seed=3, logw_at_bound=True))
    gy, gs = cotangents(B, T, H, N, seed=8)
    _, _, g64 = grads_of(reference, [x.double() for x in xs], gy.double(), gs.double())
    dev = torch.device(device)
    errs = {}
    for ck in (4, 8, 16):
        _, _, gr = grads_of(lambda *z: wkv7_fused(*z, checkpoint=ck), [x.to(dev) for x in xs], gy.to(dev), gs.to(dev))
        errs[ck] = max(rel(a.cpu(), b) for a, b in zip(gr, g64))
    assert errs[4] < 5e-6 and errs[8] < 3e-5 and errs[16] < 2e-3, errs


@pytest.mark.parametrize('device', DEVICES)
def test_fused_wkv7_agrees_with_the_chunked_form(device):
    B, T, H, N = 2, 50, 2, 64
    xs = list(inputs(B, T, H, N, seed=11))
    gy, gs = cotangents(B, T, H, N, seed=9)
    dev = torch.device(device)
    yc, Sc, gc = grads_of(lambda *z: wkv7_chunked(*z, chunk=16), [x.to(dev) for x in xs], gy.to(dev), gs.to(dev))
    yf, Sf, gf = grads_of(lambda *z: wkv7_fused(*z), [x.to(dev) for x in xs], gy.to(dev), gs.to(dev))
    assert rel(yf, yc) < 1e-4 and rel(Sf, Sc) < 1e-4
    for a, b in zip(gf, gc):
        assert rel(a, b) < 1e-3


@pytest.mark.parametrize('device', DEVICES)
def test_a_wrong_gradient_is_caught(device):
    """The comparison can fail: a reference with b's gradient path cut differs."""
    B, T, H, N = 1, 9, 1, 64
    xs = list(inputs(B, T, H, N, seed=5))
    gy, gs = cotangents(B, T, H, N, seed=1)
    cut = lambda r, lw, k, v, a, b: reference(r, lw, k, v, a, b.detach())  # noqa: E731
    _, _, g_cut = grads_of(cut, [x.double() for x in xs], gy.double(), gs.double())
    _, _, gf = grads_of(lambda *z: wkv7_fused(*z), [x.to(device) for x in xs], gy.to(device), gs.to(device))
    assert g_cut[5] is None and gf[5].abs().max() > 0
    assert rel(gf[0].cpu(), g_cut[0]) < 1e-4  # r's gradient does not depend on b's path


def test_bad_inputs_name_the_problem():
    r, logw, k, v, a, b = inputs(1, 4, 1, 64)
    with pytest.raises(ValueError, match='head size 32'):
        wkv7_fused(*inputs(1, 4, 1, 32))
    with pytest.raises(ValueError, match='k has shape'):
        wkv7_fused(r, logw, k[:, :3], v, a, b)
    with pytest.raises(ValueError, match='state has shape'):
        wkv7_fused(r, logw, k, v, a, b, state=torch.zeros(1, 1, 64, 63))
    with pytest.raises(ValueError, match='checkpoint must be'):
        wkv7_fused(r, logw, k, v, a, b, checkpoint=0)


def test_kernel_signatures_and_argument_checks():
    sigs = dict(cuda_launch.kernel_signatures(cuda_launch._source('wkv7.cu', {'WKV_N': 64})))
    assert [n for _, n in sigs['wkv7_forward']][:4] == ['B', 'T', 'H', 'CK']
    assert sigs['wkv7_backward'][-1] == ('float*', 'ds0')
    with pytest.raises(cuda_launch.KernelError, match='no extern'):
        cuda_launch.kernel_signatures('__global__ void f(int n) {}')
    with pytest.raises(cuda_launch.KernelError, match='not int, float'):
        cuda_launch.kernel_signatures('extern "C" __global__ void f(double x) {}')
    if 'cpu' in DEVICES:
        kern = cuda_launch.load_kernels('wkv7.cu', {'WKV_N': 64}, torch.device('cpu'))
        with pytest.raises(cuda_launch.KernelError, match='argument r: need a contiguous float32'):
            kern.wkv7_forward(1, 64, 1, 1, 1, 16, torch.zeros(64, dtype=torch.float64), *[None] * 10)
        with pytest.raises(cuda_launch.KernelError, match='15 arguments expected'):
            kern.wkv7_forward(1, 64, 1)


@pytest.mark.skipif(shutil.which('nvcc') is None, reason='no nvcc here')
def test_the_kernels_compile_for_hopper_without_spills(tmp_path):
    """The source NVRTC compiles on the GPU machine, compiled here by nvcc for sm_90: no
    register spills (the backward keeps a column of S and of dS, 128 floats, in registers)."""
    src = tmp_path / 'wkv7.cu'
    src.write_text(cuda_launch._source('wkv7.cu', {'WKV_N': 64}))
    done = subprocess.run(['nvcc', '-arch=sm_90', '-cubin', '-Xptxas', '-v', '-o', str(tmp_path / 'k.cubin'),
                           str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    spills = re.findall(r'(\d+) bytes spill stores', done.stderr)
    assert len(spills) == 2 and all(s == '0' for s in spills), done.stderr


@pytest.mark.parametrize('device', DEVICES)
def test_an_unused_output_needs_no_gradient(device):
    """Only the outputs (or only the final state) in the loss: the other's gradient is absent,
    not zeros, and the inputs' gradients are still the recurrence's."""
    B, T, H, N = 1, 11, 1, 64
    xs = [x.to(device) for x in inputs(B, T, H, N, seed=2)]
    for pick in (0, 1):
        a64 = [x.double().cpu().requires_grad_() for x in xs]
        reference(*a64)[pick].square().sum().backward()
        a32 = [x.clone().requires_grad_() for x in xs]
        wkv7_fused(*a32)[pick].square().sum().backward()
        for got, want in zip(a32, a64):
            if want.grad is None:  # r does not reach the final state
                assert float(got.grad.abs().max()) == 0.0
            else:
                assert rel(got.grad.cpu(), want.grad) < 1e-4


def test_a_missing_library_names_what_was_tried_and_where(monkeypatch, tmp_path):
    monkeypatch.setenv('CUDA_PATH', str(tmp_path))
    with pytest.raises(cuda_launch.KernelError) as e:
        cuda_launch._open(['libnot-a-cuda-library.so.1'], 'a CUDA library')
    msg = str(e.value)
    assert msg.startswith('a CUDA library not found: tried libnot-a-cuda-library.so.1')
    assert os.path.join(str(tmp_path), 'lib64') in msg and 'CUDA_PATH' in msg


@pytest.mark.parametrize('device', DEVICES)
def test_kernels_are_read_once_and_outlive_their_source_file(device, monkeypatch, tmp_path):
    """A running trainer asks for its kernels every step; the source is read once a process, so
    the working tree re-copied under it (the device tool's next call) cannot fail a step."""
    (tmp_path / 'wkv7.cu').write_text(open(os.path.join(cuda_launch.KERNEL_DIR, 'wkv7.cu')).read())
    monkeypatch.setattr(cuda_launch, 'KERNEL_DIR', str(tmp_path))
    monkeypatch.setattr(cuda_launch, '_loaded', {})
    first = cuda_launch.load_kernels('wkv7.cu', {'WKV_N': 64}, torch.device(device))
    (tmp_path / 'wkv7.cu').unlink()
    assert cuda_launch.load_kernels('wkv7.cu', {'WKV_N': 64}, torch.device(device)) is first
    with pytest.raises(FileNotFoundError):  # other defines are another build, read afresh
        cuda_launch.load_kernels('wkv7.cu', {'WKV_N': 32}, torch.device(device))
