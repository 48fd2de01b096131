"""WKV-7 for training as two fused kernels (cuda_kernels/wkv7.cu): a drop-in for
rwkv7_lm.wkv7_chunked with the same arguments and results.

Why: the chunked PyTorch form issues about 290 small operations a layer for one training step
(forward and backward; 259-337 at chunks of 64-16, counted with torch.profiler on the CPU),
and the speech trainer's step is bound by the host issuing them (training/audio/README.md,
"Eighth run": ~5,000 launches a step, the GPU idle half the time). Here a layer's WKV is one
launch forward and one backward.

Memory kept for the backward: the inputs, sa_t [B, T, H, N] and one state [N, N] per head
every `checkpoint` steps (float32; T / 8 states at the default, about what the chunked form
keeps at chunks of 32: three [N, N] matrices a chunk). On the CPU the same kernel source runs under cuda_kernels/emulate.h
(for tests; slow).
"""
import torch

from cuda_launch import load_kernels

HEAD_SIZE = 64


def _kernels(device):
    return load_kernels('wkv7.cu', {'WKV_N': HEAD_SIZE}, device)


class _Wkv7(torch.autograd.Function):
    @staticmethod
    def forward(ctx, r, logw, k, v, a, b, s0, checkpoint):
        B, T, H, N = r.shape
        kern = _kernels(r.device)
        y = torch.empty_like(r)
        sa = torch.empty_like(r)
        nc = -(-T // checkpoint)
        ckpt = torch.empty(B, H, nc, N, N, device=r.device, dtype=torch.float32)
        s_out = torch.empty(B, H, N, N, device=r.device, dtype=torch.float32)
        kern.wkv7_forward(B * H, N, B, T, H, checkpoint, r, logw, k, v, a, b, s0, y, sa, ckpt, s_out)
        ctx.save_for_backward(r, logw, k, v, a, b, sa, ckpt, *([] if s0 is None else [s0]))
        ctx.has_s0, ctx.checkpoint = s0 is not None, checkpoint
        ctx.set_materialize_grads(False)  # an unused output's gradient comes as None, not zeros
        return y, s_out

    @staticmethod
    def backward(ctx, dy, ds_out):
        r, logw, k, v, a, b, sa, ckpt, *rest = ctx.saved_tensors
        s0 = rest[0] if ctx.has_s0 else None
        B, T, H, N = r.shape
        dy = torch.zeros_like(r) if dy is None else dy.float().contiguous()
        ds_out = None if ds_out is None else ds_out.float().contiguous()
        grads = [torch.empty_like(r) for _ in range(6)]
        ds0 = torch.empty_like(s0) if ctx.has_s0 and ctx.needs_input_grad[6] else None
        _kernels(r.device).wkv7_backward(B * H, N, B, T, H, ctx.checkpoint, r, logw, k, v, a, b, s0, sa, ckpt,
                                         dy, ds_out, *grads, ds0)
        return (*grads, ds0, None)


def wkv7_fused(r, logw, k, v, a, b, state=None, checkpoint=8):
    """WKV-7 over (B, T, H, N) inputs as rwkv7_lm.wkv7_chunked computes it: returns
    (out (B, T, H, N), final state (B, H, N, N)), float32, differentiable in every input and
    the state. logw = log(w) <= 0; the backward undoes up to `checkpoint` - 1 steps between
    stored states, dividing by w each time, so keep |logw| small (RWKV-7's are at most 0.61:
    1.83x rounding growth a step at worst) or the checkpoint short. Measured against float64
    (T = 256, every decay at that bound; test_wkv7_cuda.py): largest gradient error relative
    to the gradient's largest value 3.7e-7 / 2.9e-6 / 3.2e-4 at checkpoints of 4 / 8 / 16
    steps (1.5e-5 at 16 with decays drawn inside the range), the chunked form 6.1e-7."""
    B, T, H, N = r.shape
    if N != HEAD_SIZE:
        raise ValueError(f'wkv7_fused: head size {N}, the kernels are built for {HEAD_SIZE}')
    if T < 1:
        raise ValueError('wkv7_fused: no steps (T = 0)')
    if not isinstance(checkpoint, int) or checkpoint < 1:
        raise ValueError(f'wkv7_fused: checkpoint must be a positive int, not {checkpoint!r}')
    xs = [x.float().contiguous() for x in (r, logw, k, v, a, b)]
    for name, x in zip(('logw', 'k', 'v', 'a', 'b'), xs[1:]):
        if x.shape != xs[0].shape:
            raise ValueError(f'wkv7_fused: {name} has shape {tuple(x.shape)}, r has {tuple(xs[0].shape)}')
    s0 = None
    if state is not None:
        s0 = state.float().contiguous()
        if tuple(s0.shape) != (B, H, N, N):
            raise ValueError(f'wkv7_fused: state has shape {tuple(s0.shape)}, not {(B, H, N, N)}')
    return _Wkv7.apply(*xs, s0, checkpoint)
