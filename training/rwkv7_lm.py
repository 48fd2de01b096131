"""A self-contained byte-level RWKV-7 ("x070", Goose) language model in pure PyTorch.

Written for rwkv-streams from the formulas of the official reference code
(BlinkDL/RWKV-LM: RWKV-v7/rwkv_v7_demo.py, rwkv_v7_demo_rnn.py for the computation,
RWKV-v7/train_temp/src/model.py for the training-time initialisation). No code is copied.

Parameter names and shapes are exactly those of official x070 checkpoints:

    emb.weight                          (V, C)
    blocks.0.ln0.weight / .bias         (C,)
    blocks.i.ln1 / ln2 .weight / .bias  (C,)
    blocks.i.att.x_r x_w x_k x_v x_a x_g  (1, 1, C)
    blocks.i.att.w0 (1,1,C)  w1 (C, Dw)  w2 (Dw, C)
    blocks.i.att.a0 (1,1,C)  a1 (C, Da)  a2 (Da, C)
    blocks.i.att.v0 (1,1,C)  v1 (C, Dv)  v2 (Dv, C)     only for i > 0 (unused in block 0)
    blocks.i.att.g1 (C, Dg)  g2 (Dg, C)
    blocks.i.att.k_k (1,1,C)  k_a (1,1,C)  r_k (H, N)
    blocks.i.att.receptance/key/value/output.weight (C, C)
    blocks.i.att.ln_x.weight / .bias    (C,)   GroupNorm(H, C, eps=64e-5)
    blocks.i.ffn.x_k (1,1,C)  ffn.key.weight (F, C)  ffn.value.weight (C, F)
    ln_out.weight / .bias (C,)
    head.weight (V, C)

The time-mix recurrence (per head, S is N x N, rows = value index, columns = key index):

    S_t = S_{t-1} (diag(w_t) + a_t b_t^T) + v_t k_t^T,   o_t = S_t r_t
    with a_t = -kk_t, b_t = kk_t * iclr_t, w_t = exp(-exp(-0.5) * sigmoid(w0 + tanh(xw W1) W2))

is evaluated in training by an exact chunked form (wkv7_chunked, below) or, on a GPU, by two
fused kernels (wkv7_cuda.py; a TimeMix's `wkv_kernel = 'fused'`), and, for parity checks, one
token at a time (RnnRunner, the same steps as the official RNN demo).
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

EXP_HALF = math.exp(-0.5)  # 0.6065306597...: w = exp(-EXP_HALF * sigmoid(.)) lies in (0.545, 1)


def _lora_dim(C, factor):
    # the official "suggestion" in RWKV-v7/train_temp/src/model.py
    return max(32, int(round(factor * (C ** 0.5) / 32) * 32))


@dataclass
class Config:
    n_layer: int = 6
    n_embd: int = 256
    head_size: int = 64
    vocab_size: int = 256
    dim_ffn: int = 0  # 0 -> 4 * n_embd (official x070 channel mix)
    d_decay: int = 0  # 0 -> official suggestion from n_embd
    d_aaa: int = 0
    d_mv: int = 0
    d_gate: int = 0

    def __post_init__(self):
        C = self.n_embd
        assert C % self.head_size == 0
        if not self.dim_ffn:
            self.dim_ffn = 4 * C
        if not self.d_decay:
            self.d_decay = _lora_dim(C, 2.5)
        if not self.d_aaa:
            self.d_aaa = _lora_dim(C, 2.5)
        if not self.d_mv:
            self.d_mv = _lora_dim(C, 1.7)
        if not self.d_gate:
            self.d_gate = _lora_dim(C, 5.0)

    @property
    def n_head(self):
        return self.n_embd // self.head_size

    def to_dict(self):
        return asdict(self)


# ----------------------------------------------------------------------------------------
# WKV-7 kernels in plain PyTorch


def wkv7_sequential(r, logw, k, v, a, b, state=None):
    """Reference recurrence, one step at a time. Inputs (B, T, H, N) float; returns
    (out (B, T, H, N), state (B, H, N, N))."""
    B, T, H, N = r.shape
    S = torch.zeros(B, H, N, N, dtype=r.dtype, device=r.device) if state is None else state
    w = torch.exp(logw)
    outs = []
    for t in range(T):
        sa = S @ a[:, t].unsqueeze(-1)                                  # (B,H,N,1)
        S = S * w[:, t].unsqueeze(-2) + sa @ b[:, t].unsqueeze(-2) \
            + v[:, t].unsqueeze(-1) @ k[:, t].unsqueeze(-2)
        outs.append((S @ r[:, t].unsqueeze(-1)).squeeze(-1))
    return torch.stack(outs, 1), S


def wkv7_chunked(r, logw, k, v, a, b, state=None, chunk=16):
    """Exact chunked evaluation of the WKV-7 recurrence (differentiable, pure PyTorch).

    Inputs (B, T, H, N), computed in float32; logw = log(w) <= 0 with |logw| <= 0.61 (so
    exp(+-cumsum) stays well inside float32 for chunks of 16..64). Returns
    (out (B, T, H, N), final state (B, H, N, N)).

    Inside a chunk starting from state S0, with c_t = sum_{u<=t} log w_u (per key channel),
    y_t := S_{t-1} a_t satisfies y_t = S0 (a_t e^{c_{t-1}}) + sum_{s<t} [ y_s (b~_s . a^_t)
    + v_s (k~_s . a^_t) ] with b~_s = b_s e^{-c_s}, k~_s = k_s e^{-c_s}, a^_t = a_t e^{c_{t-1}}:
    a unit lower-triangular system solved per chunk. Then
        o_t   = S0 r^_t + sum_{s<=t} [ y_s (b~_s . r^_t) + v_s (k~_s . r^_t) ],  r^_t = r_t e^{c_t}
        S_end = S0 diag(e^{c_L}) + sum_s [ y_s (b_s e^{c_L-c_s})^T + v_s (k_s e^{c_L-c_s})^T ].
    Everything that does not depend on S0 is computed for all chunks at once; only
    S_{next} = S0 Tc + Ec is scanned over the chunks.
    """
    B, T, H, N = r.shape
    dt = torch.float32
    r, logw, k, v, a, b = [x.to(dt) for x in (r, logw, k, v, a, b)]
    L = chunk
    pad = (-T) % L
    if pad:
        # padded steps: w = 1 (logw = 0) and zero inputs leave the state unchanged
        r, logw, k, v, a, b = [F.pad(x, (0, 0, 0, 0, 0, pad)) for x in (r, logw, k, v, a, b)]
    Tp = T + pad
    nc = Tp // L

    def chunks(x):  # (B, Tp, H, N) -> (B, H, nc, L, N)
        return x.view(B, nc, L, H, N).permute(0, 3, 1, 2, 4)

    r, logw, k, v, a, b = [chunks(x) for x in (r, logw, k, v, a, b)]
    c = torch.cumsum(logw, dim=3)                  # inclusive
    c_ex = c - logw                                # exclusive
    c_last = c[:, :, :, -1:, :]                    # (B,H,nc,1,N)

    a_hat = a * torch.exp(c_ex)
    r_hat = r * torch.exp(c)
    e_neg = torch.exp(-c)
    b_til = b * e_neg
    k_til = k * e_neg
    dec_end = torch.exp(c_last - c)
    b_bar = b * dec_end
    k_bar = k * dec_end

    strict = torch.tril(torch.ones(L, L, dtype=torch.bool, device=r.device), -1)
    incl = torch.tril(torch.ones(L, L, dtype=torch.bool, device=r.device), 0)
    bt = b_til.transpose(-1, -2)
    kt = k_til.transpose(-1, -2)
    A_ab = (a_hat @ bt).masked_fill(~strict, 0.0)
    A_ak = (a_hat @ kt).masked_fill(~strict, 0.0)
    A_rb = (r_hat @ bt).masked_fill(~incl, 0.0)
    A_rk = (r_hat @ kt).masked_fill(~incl, 0.0)

    eye = torch.eye(L, dtype=dt, device=r.device)
    rhs = torch.cat([a_hat, A_ak @ v], dim=-1)     # (B,H,nc,L,2N)
    sol = torch.linalg.solve_triangular(eye - A_ab, rhs, upper=False, unitriangular=True)
    W_a, U = sol[..., :N], sol[..., N:]            # y_t^T = W_a[t] S0^T + U[t]

    Q = r_hat + A_rb @ W_a                         # (B,H,nc,L,N)
    O_in = A_rb @ U + A_rk @ v                     # (B,H,nc,L,N)
    Tc = torch.diag_embed(torch.exp(c_last.squeeze(3))) + W_a.transpose(-1, -2) @ b_bar   # (B,H,nc,N,N)
    Ec = U.transpose(-1, -2) @ b_bar + v.transpose(-1, -2) @ k_bar                       # (B,H,nc,N,N)

    S = torch.zeros(B, H, N, N, dtype=dt, device=r.device) if state is None else state.to(dt)
    starts = []
    # unbind once, not Tc[:, :, i] in the loop: the backward of each indexing writes its
    # gradient into a zero tensor of Tc's whole size and autograd sums all nc of them
    # (O(nc^2) memory traffic: half the time of a CPU smoke run's training step), where
    # unbind's backward stacks the nc gradients once
    for S_mul, S_add in zip(Tc.unbind(2), Ec.unbind(2)):
        starts.append(S)
        S = S @ S_mul + S_add
    S0 = torch.stack(starts, dim=2)                # (B,H,nc,N,N)
    out = Q @ S0.transpose(-1, -2) + O_in          # (B,H,nc,L,N)
    out = out.permute(0, 2, 3, 1, 4).reshape(B, Tp, H, N)[:, :T]
    return out, S


# ----------------------------------------------------------------------------------------
# modules (official names)


def _time_shift(x, x_prev=None):
    """x (B,T,C) -> x shifted one step right; the first row is x_prev (zeros if None)."""
    first = torch.zeros_like(x[:, :1]) if x_prev is None else x_prev.unsqueeze(1).to(x.dtype)
    return torch.cat([first, x[:, :-1]], dim=1)


class TimeMix(nn.Module):
    def __init__(self, cfg: Config, layer_id: int):
        super().__init__()
        self.cfg, self.layer_id = cfg, layer_id
        C, H, N = cfg.n_embd, cfg.n_head, cfg.head_size
        P = lambda *s: nn.Parameter(torch.zeros(*s))
        self.x_r, self.x_w, self.x_k = P(1, 1, C), P(1, 1, C), P(1, 1, C)
        self.x_v, self.x_a, self.x_g = P(1, 1, C), P(1, 1, C), P(1, 1, C)
        self.w0, self.w1, self.w2 = P(1, 1, C), P(C, cfg.d_decay), P(cfg.d_decay, C)
        self.a0, self.a1, self.a2 = P(1, 1, C), P(C, cfg.d_aaa), P(cfg.d_aaa, C)
        if layer_id > 0:
            self.v0, self.v1, self.v2 = P(1, 1, C), P(C, cfg.d_mv), P(cfg.d_mv, C)
        self.g1, self.g2 = P(C, cfg.d_gate), P(cfg.d_gate, C)
        self.k_k, self.k_a, self.r_k = P(1, 1, C), P(1, 1, C), P(H, N)
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=64e-5)
        # how the WKV recurrence is evaluated: 'chunked' (wkv7_chunked, any device) or 'fused'
        # (wkv7_cuda.wkv7_fused: one kernel forward and one backward; CPU only under emulation)
        self.wkv_kernel = 'chunked'

    def forward(self, x, v_first, chunk=16, state=None):
        """x (B,T,C). state: None or (x_prev (B,C), S (B,H,N,N)); returns (y, v_first, new_state)."""
        B, T, C = x.shape
        H, N = self.cfg.n_head, self.cfg.head_size
        xx = _time_shift(x, None if state is None else state[0]) - x
        # the six token-shift mixes as one stacked multiply-add: in a training step's backward
        # 6 x (mul, add, gradient accumulation) become a few ops (2,880 -> 2,553 ops a step of
        # the speech model with the fused WKV-7, counted on the CPU; training/audio/README.md)
        mu = torch.stack([self.x_r, self.x_w, self.x_k, self.x_v, self.x_a, self.x_g])
        xr, xw, xk, xv, xa, xg = torch.addcmul(x.unsqueeze(0), xx.unsqueeze(0), mu).unbind(0)

        r = self.receptance(xr)
        w = self.w0 + torch.tanh(xw @ self.w1) @ self.w2
        k = self.key(xk)
        v = self.value(xv)
        if self.layer_id == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        a = torch.sigmoid(self.a0 + (xa @ self.a1) @ self.a2)
        g = torch.sigmoid(xg @ self.g1) @ self.g2

        kk = F.normalize((k * self.k_k).view(B, T, H, N).float(), dim=-1, p=2.0)
        k = k * (1 + (a - 1) * self.k_a)
        logw = -EXP_HALF * torch.sigmoid(w.float())

        with torch.autocast(device_type=x.device.type, enabled=False):
            af = a.float().view(B, T, H, N)
            args = (r.float().view(B, T, H, N), logw.view(B, T, H, N), k.float().view(B, T, H, N),
                    v.float().view(B, T, H, N), -kk, kk * af, None if state is None else state[1])
            if self.wkv_kernel == 'fused':
                from wkv7_cuda import wkv7_fused
                o, S = wkv7_fused(*args)
            else:
                o, S = wkv7_chunked(*args, chunk=chunk)
        o = self.ln_x(o.reshape(B * T, C)).view(B, T, C)
        rkv = (r.float().view(B, T, H, N) * k.float().view(B, T, H, N) * self.r_k.float()).sum(-1, keepdim=True)
        o = o + (rkv * v.float().view(B, T, H, N)).view(B, T, C)
        y = self.output((o * g).to(self.output.weight.dtype))
        return y, v_first, (x[:, -1], S)


class ChannelMix(nn.Module):
    def __init__(self, cfg: Config, layer_id: int):
        super().__init__()
        C = cfg.n_embd
        self.x_k = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, cfg.dim_ffn, bias=False)
        self.value = nn.Linear(cfg.dim_ffn, C, bias=False)

    def forward(self, x, x_prev=None):
        xx = _time_shift(x, x_prev) - x
        k = x + xx * self.x_k
        return self.value(torch.relu(self.key(k)) ** 2), x[:, -1]


class Block(nn.Module):
    def __init__(self, cfg: Config, layer_id: int):
        super().__init__()
        self.layer_id = layer_id
        C = cfg.n_embd
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C)
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg, layer_id)

    def forward(self, x, v_first, chunk=16, state=None):
        if self.layer_id == 0:
            x = self.ln0(x)
        y, v_first, st_att = self.att(self.ln1(x), v_first, chunk,
                                      None if state is None else (state[0], state[1]))
        x = x + y
        y, ffn_prev = self.ffn(self.ln2(x), None if state is None else state[2])
        x = x + y
        return x, v_first, (st_att[0], st_att[1], ffn_prev)


class RWKV7(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)])
        self.ln_out = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

    def forward(self, idx, chunk=16, state=None, return_state=False):
        """idx (B,T) int64 -> logits (B,T,V). state: list per layer of (att_x_prev, S, ffn_x_prev)."""
        x = self.emb(idx)
        v_first = None
        new_state = []
        for i, blk in enumerate(self.blocks):
            x, v_first, st = blk(x, v_first, chunk, None if state is None else state[i])
            new_state.append(st)
        logits = self.head(self.ln_out(x))
        return (logits, new_state) if return_state else logits

    # ------------------------------------------------------------------------------------
    @torch.no_grad()
    def init_official(self):
        """Training-time initialisation following RWKV-v7/train_temp/src/model.py
        (module __init__ plus generate_init_weight)."""
        cfg = self.cfg
        C, N, L = cfg.n_embd, cfg.head_size, cfg.n_layer
        for blk in self.blocks:
            i = blk.layer_id
            att = blk.att
            r01 = i / (L - 1) if L > 1 else 0.0
            r10 = 1.0 - i / L
            ddd = torch.arange(C, dtype=torch.float32).view(1, 1, C) / C
            att.x_r.copy_(1.0 - ddd ** (0.2 * r10))
            att.x_w.copy_(1.0 - ddd ** (0.9 * r10))
            att.x_k.copy_(1.0 - ddd ** (0.7 * r10))
            att.x_v.copy_(1.0 - ddd ** (0.7 * r10))
            att.x_a.copy_(1.0 - ddd ** (0.9 * r10))
            att.x_g.copy_(1.0 - ddd ** (0.2 * r10))
            n = torch.arange(C, dtype=torch.float32)
            linear = n / (C - 1) - 0.5
            zig = ((n % N) - (N - 1) / 2) / ((N - 1) / 2)
            zig = zig * zig.abs()
            www = -6 + 6 * (n / (C - 1)) ** (1 + r01 ** 0.3)

            def ortho(p, scale):
                gain = math.sqrt(p.shape[0] / p.shape[1]) if p.shape[0] > p.shape[1] else 1.0
                nn.init.orthogonal_(p, gain=gain * scale)

            att.w1.zero_(); ortho(att.w2, 0.1)
            att.w0.copy_((www + 0.5 + zig * 2.5).view(1, 1, C))
            att.a1.zero_(); ortho(att.a2, 0.1)
            att.a0.copy_((-0.19 + zig * 0.3 + linear * 0.4).view(1, 1, C))
            if i > 0:
                att.v1.zero_(); ortho(att.v2, 0.1)
                att.v0.copy_((0.73 - linear * 0.4).view(1, 1, C))
            att.g1.zero_(); ortho(att.g2, 0.1)
            att.k_k.copy_((0.71 - linear * 0.1).view(1, 1, C))
            att.k_a.fill_(1.02)
            att.r_k.fill_(-0.04)
            # generate_init_weight: 2-D ".weight" matrices orthogonal (att.key 0.1, output 0)
            nn.init.orthogonal_(att.receptance.weight, gain=1.0)
            nn.init.orthogonal_(att.key.weight, gain=0.1)
            nn.init.orthogonal_(att.value.weight, gain=1.0)
            att.output.weight.zero_()
            att.ln_x.weight.fill_(((1 + i) / L) ** 0.7)
            att.ln_x.bias.zero_()
            blk.ffn.x_k.copy_(1.0 - ddd ** (r10 ** 4))
            nn.init.orthogonal_(blk.ffn.key.weight, gain=1.0)
            blk.ffn.value.weight.zero_()
            for ln in [blk.ln1, blk.ln2] + ([blk.ln0] if i == 0 else []):
                ln.weight.fill_(1.0); ln.bias.zero_()
        nn.init.uniform_(self.emb.weight, a=-1e-4, b=1e-4)
        scale = 0.5 * math.sqrt(cfg.vocab_size / C) if cfg.vocab_size > C else 0.5
        nn.init.orthogonal_(self.head.weight, gain=scale)
        self.ln_out.weight.fill_(1.0); self.ln_out.bias.zero_()


class L2Wrap(torch.autograd.Function):
    """Official auxiliary gradient that keeps the largest logit from drifting upwards."""

    @staticmethod
    def forward(ctx, loss, y):
        ctx.save_for_backward(y)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        y = ctx.saved_tensors[0]
        factor = 1e-4 / (y.shape[0] * y.shape[1])
        maxx, ids = torch.max(y, -1, keepdim=True)
        gy = torch.zeros_like(y).scatter_(-1, ids, maxx * factor)
        return grad_output, grad_output * gy


# ----------------------------------------------------------------------------------------
# RNN mode: one token at a time, the steps of the official RWKV-v7/rwkv_v7_demo_rnn.py


class RnnRunner:
    """Runs an official-named x070 state dict token by token (float32 or float64)."""

    def __init__(self, sd, dtype=torch.float32, device="cpu"):
        z = {k: v.to(device=device, dtype=dtype) for k, v in sd.items()}
        self.n_layer = 1 + max(int(k.split(".")[1]) for k in z if k.startswith("blocks."))
        self.H, self.N = z["blocks.0.att.r_k"].shape
        self.C = z["emb.weight"].shape[1]
        for k in list(z):
            z[k] = z[k].squeeze() if not k.endswith("att.r_k") else z[k].flatten()
            if z[k].dim() == 0:
                z[k] = z[k].view(1)
        self.emb = F.layer_norm(z["emb.weight"], (self.C,), z["blocks.0.ln0.weight"], z["blocks.0.ln0.bias"])
        self.z, self.dtype, self.device = z, dtype, device

    def zero_state(self):
        C, H, N = self.C, self.H, self.N
        st = []
        for _ in range(self.n_layer):
            st += [torch.zeros(C, dtype=self.dtype, device=self.device),
                   torch.zeros(H, N, N, dtype=self.dtype, device=self.device),
                   torch.zeros(C, dtype=self.dtype, device=self.device)]
        return st

    @torch.no_grad()
    def forward(self, token, state):
        z, H, N, C = self.z, self.H, self.N, self.C
        x = self.emb[token]
        v_first = None
        for i in range(self.n_layer):
            p = f"blocks.{i}."
            t = p + "att."
            xx = F.layer_norm(x, (C,), z[p + "ln1.weight"], z[p + "ln1.bias"])
            sx = state[3 * i] - xx
            state[3 * i] = xx
            xr, xw, xk = xx + sx * z[t + "x_r"], xx + sx * z[t + "x_w"], xx + sx * z[t + "x_k"]
            xv, xa, xg = xx + sx * z[t + "x_v"], xx + sx * z[t + "x_a"], xx + sx * z[t + "x_g"]
            r = z[t + "receptance.weight"] @ xr
            w = z[t + "w0"] + torch.tanh(xw @ z[t + "w1"]) @ z[t + "w2"]
            k = z[t + "key.weight"] @ xk
            v = z[t + "value.weight"] @ xv
            a = torch.sigmoid(z[t + "a0"] + (xa @ z[t + "a1"]) @ z[t + "a2"])
            g = torch.sigmoid(xg @ z[t + "g1"]) @ z[t + "g2"]
            kk = F.normalize((k * z[t + "k_k"]).view(H, N), dim=-1, p=2.0).view(C)
            k = k * (1 + (a - 1) * z[t + "k_a"])
            if i == 0:
                v_first = v
            else:
                v = v + (v_first - v) * torch.sigmoid(z[t + "v0"] + (xv @ z[t + "v1"]) @ z[t + "v2"])
            w = torch.exp(-EXP_HALF * torch.sigmoid(w))
            S = state[3 * i + 1]
            S = S * w.view(H, 1, N) + (S @ (-kk).view(H, N, 1)) @ (kk * a).view(H, 1, N) \
                + v.view(H, N, 1) @ k.view(H, 1, N)
            state[3 * i + 1] = S
            o = (S @ r.view(H, N, 1)).view(C)
            o = F.group_norm(o.view(1, C), H, z[t + "ln_x.weight"], z[t + "ln_x.bias"], eps=64e-5).view(C)
            o = o + ((r * k * z[t + "r_k"]).view(H, N).sum(-1, keepdim=True) * v.view(H, N)).view(C)
            x = x + z[t + "output.weight"] @ (o * g)

            f = p + "ffn."
            xx = F.layer_norm(x, (C,), z[p + "ln2.weight"], z[p + "ln2.bias"])
            sx = state[3 * i + 2] - xx
            state[3 * i + 2] = xx
            kf = torch.relu(z[f + "key.weight"] @ (xx + sx * z[f + "x_k"])) ** 2
            x = x + z[f + "value.weight"] @ kf
        x = F.layer_norm(x, (C,), z["ln_out.weight"], z["ln_out.bias"])
        return z["head.weight"] @ x, state


def config_from_state_dict(sd):
    n_layer = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    H, N = sd["blocks.0.att.r_k"].shape
    C = sd["emb.weight"].shape[1]
    return Config(n_layer=n_layer, n_embd=C, head_size=N, vocab_size=sd["emb.weight"].shape[0],
                  dim_ffn=sd["blocks.0.ffn.key.weight"].shape[0], d_decay=sd["blocks.0.att.w1"].shape[1],
                  d_aaa=sd["blocks.0.att.a1"].shape[1],
                  d_mv=sd["blocks.1.att.v1"].shape[1] if n_layer > 1 else _lora_dim(C, 1.7),
                  d_gate=sd["blocks.0.att.g1"].shape[1])


# ----------------------------------------------------------------------------------------
# safetensors (own writer/reader; the `safetensors` package is used instead when present)

_ST_DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}
_ST_DT_INV = {v: k for k, v in _ST_DT.items()}


def save_safetensors(tensors, path, metadata=None):
    import json, struct
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DT[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for d in blobs:
            f.write(d)


def load_safetensors(path):
    import json, struct
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        s, e = h["data_offsets"]
        buf = bytearray(raw[base + s:base + e])
        t = torch.frombuffer(buf, dtype=torch.uint8) if len(buf) else torch.empty(0, dtype=torch.uint8)
        out[name] = t.view(_ST_DT_INV[h["dtype"]]).reshape(h["shape"]).clone()
    return out, meta
