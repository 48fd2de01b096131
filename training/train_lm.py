#!/usr/bin/env python3
"""Train the byte-level RWKV-7 demo LM for a fixed wall-clock budget, then evaluate and export.

    python3 training/train_lm.py --data .gpu/corpus/train.txt.xz --out $OUT --minutes 6.5

Resumable: --resume DIR loads DIR/ckpt.pt.part* (the checkpoint is split into parts of at
most --ckpt-part-mb MiB so that it fits the device tool's per-file limit). The learning-rate
schedule runs over --total-minutes of training (summed over segments; default = --minutes).

Outputs in --out:
  model.safetensors          official x070 names, --export-dtype (fp16 default)
  metrics.json               validation bits per byte, train loss, steps, tokens, wall time, config
  expected-logits-The.json   fp32 logits after the prompt "The " from the zero state (exported weights)
  ckpt.pt.partNN             resumable checkpoint (fp32 weights, AdamW moments in bf16)

Validation bits per byte: the validation file (n bytes) is fed as ONE sequence from the zero
state through the exported weights (upcast to float32, float32 math, no TF32), and the mean of
-log2 p(byte[t+1] | bytes[0..t]) is taken over t = 0 .. n-2 (n-1 predictions; the first byte
is context only). The same number can be obtained in RNN mode, one byte at a time.
"""
import argparse
import io
import json
import lzma
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv7_lm import (Config, RWKV7, L2Wrap, RnnRunner, save_safetensors,  # noqa: E402
                      config_from_state_dict)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def load_bytes(path):
    raw = open(path, "rb").read()
    if path.endswith(".xz"):
        raw = lzma.decompress(raw)
    return raw


def param_groups(model, wd):
    decay, no_decay, w0 = [], [], []
    for n, p in model.named_parameters():
        if n.endswith("att.w0"):
            w0.append(p)
        elif p.squeeze().dim() >= 2 and n.endswith(".weight") and wd > 0:
            decay.append(p)
        else:
            no_decay.append(p)
    return [
        {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0},
        {"params": w0, "weight_decay": 0.0, "lr_scale": 2.0},
        {"params": decay, "weight_decay": wd, "lr_scale": 1.0},
    ]


def lr_at(step, progress, a):
    """linear warm-up over a.warmup steps, then cosine from a.lr to a.lr_final over progress 0..1"""
    p = min(max(progress, 0.0), 1.0)
    lr = a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * p))
    if step < a.warmup:
        lr = lr * (0.1 + 0.9 * step / a.warmup)
    return lr


def save_ckpt(out, model, opt, meta, part_mb):
    opt_sd = opt.state_dict()
    # new dicts: the state_dict's per-parameter dicts are the optimizer's own (live) state
    opt_sd["state"] = {i: {k: (v.to(torch.bfloat16).cpu() if k in ("exp_avg", "exp_avg_sq") else v)
                           for k, v in st.items()} for i, st in opt_sd["state"].items()}
    blob = io.BytesIO()
    torch.save({"model": {k: v.detach().float().cpu() for k, v in model.state_dict().items()},
                "opt": opt_sd, "meta": meta}, blob)
    data = blob.getvalue()
    for f in os.listdir(out):
        if f.startswith("ckpt.pt.part"):
            os.remove(os.path.join(out, f))
    n = part_mb << 20
    for i in range(0, len(data), n):
        with open(os.path.join(out, f"ckpt.pt.part{i // n:02d}"), "wb") as f:
            f.write(data[i:i + n])
    return len(data)


def load_ckpt(d):
    parts = sorted(f for f in os.listdir(d) if f.startswith("ckpt.pt.part"))
    data = b"".join(open(os.path.join(d, f), "rb").read() for f in parts)
    return torch.load(io.BytesIO(data), map_location="cpu")


@torch.no_grad()
def eval_bpb(model, data_bytes, device, chunk=16):
    idx = torch.tensor(list(data_bytes), dtype=torch.long, device=device).view(1, -1)
    logits = model(idx, chunk=chunk)[0].float()
    nll = F.cross_entropy(logits[:-1], idx[0, 1:], reduction="none")
    return (nll.mean().item() / math.log(2)), logits, nll


def f32s(x):
    """shortest decimal that round-trips as float32"""
    import numpy as np
    return str(np.float32(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".gpu/corpus/train.txt.xz")
    ap.add_argument("--val", default="models/demo-lm/validation.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=6.5, help="wall-clock training budget of this segment")
    ap.add_argument("--total-minutes", type=float, default=0, help="length of the lr schedule (0: --minutes)")
    ap.add_argument("--resume", default="", help="folder holding ckpt.pt.part*")
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--head-size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-final", type=float, default=5e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--export-dtype", default="fp16", choices=["fp16", "fp32"])
    ap.add_argument("--ckpt-part-mb", type=int, default=15)
    ap.add_argument("--rnn-check-bytes", type=int, default=1024)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit; for tests)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    if not a.total_minutes:
        a.total_minutes = a.minutes
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    t_start = time.time()
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log("device", torch.cuda.get_device_name(0), "torch", torch.__version__)

    train = load_bytes(a.data)
    val = open(a.val, "rb").read()
    log(f"train {len(train)} bytes, validation {len(val)} bytes")
    data = torch.frombuffer(bytearray(train), dtype=torch.uint8).to(dev)

    ck = load_ckpt(a.resume) if a.resume else None
    if ck:
        cfg = Config(**ck["meta"]["config"])
    else:
        cfg = Config(n_layer=a.n_layer, n_embd=a.n_embd, head_size=a.head_size)
    model = RWKV7(cfg)
    if ck:
        model.load_state_dict(ck["model"])
    else:
        model.init_official()
    model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    log("config", cfg.to_dict(), "params", n_params)

    groups = param_groups(model, a.wd)
    kw = dict(lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    if dev.type == "cuda":
        kw["fused"] = True
    opt = torch.optim.AdamW(groups, **kw)
    step, tokens, train_secs, loss_hist = 0, 0, 0.0, []
    if ck:
        opt.load_state_dict(ck["opt"])
        for st in opt.state.values():
            for k in ("exp_avg", "exp_avg_sq"):
                if k in st:
                    st[k] = st[k].float().to(dev)
        m = ck["meta"]
        step, tokens, train_secs, loss_hist = m["step"], m["tokens"], m["train_secs"], m.get("loss_hist", [])
        log(f"resumed at step {step}, {tokens} tokens, {train_secs:.0f} s trained")
    del ck

    B, T = a.batch, a.ctx
    ar = torch.arange(T + 1, device=dev)
    budget = a.minutes * 60
    t0 = time.time()
    model.train()
    acc, acc_n = torch.zeros((), device=dev), 0
    seg_steps = 0
    while True:
        el = time.time() - t0
        if el >= budget or (a.max_steps and seg_steps >= a.max_steps):
            break
        progress = (train_secs + el) / (a.total_minutes * 60)
        lr = lr_at(step, progress, a)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        offs = torch.randint(0, len(train) - T - 1, (B,), device=dev)
        xy = data[offs[:, None] + ar].long()
        x, y = xy[:, :-1], xy[:, 1:]
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model(x, chunk=a.chunk)
            loss = F.cross_entropy(logits.float().view(-1, cfg.vocab_size), y.reshape(-1))
            loss = L2Wrap.apply(loss, logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        step += 1
        seg_steps += 1
        tokens += B * T
        acc += loss.detach().float()
        acc_n += 1
        if step % a.log_every == 0 or step in (1, 5, 20):
            el = time.time() - t0
            mean = acc.item() / max(acc_n, 1)
            loss_hist.append([step, round(mean, 4)])
            log(f"step {step} loss {mean:.4f} ({mean / math.log(2):.3f} bits) lr {lr:.2e} gnorm {gn.item():.2f} "
                f"tok {tokens / 1e6:.1f}M  {B * T * seg_steps / max(el, 1e-9) / 1e3:.0f}k tok/s  t {el:.0f}s")
            acc, acc_n = torch.zeros((), device=dev), 0
    train_secs += time.time() - t0
    final_loss = loss_hist[-1][1] if loss_hist else float("nan")
    log(f"training done: {step} steps, {tokens} tokens, {train_secs:.0f} s")

    meta = {"config": cfg.to_dict(), "step": step, "tokens": tokens, "train_secs": train_secs,
            "loss_hist": loss_hist, "args": vars(a)}
    nbytes = save_ckpt(a.out, model, opt, meta, a.ckpt_part_mb)
    log(f"checkpoint {nbytes / 2**20:.1f} MiB")
    del opt

    # ---------------- export + evaluation with the exported weights
    ex_dtype = torch.float16 if a.export_dtype == "fp16" else torch.float32
    sd = {k: v.detach().to("cpu", ex_dtype).contiguous() for k, v in model.state_dict().items()}
    meta_st = {"format": "pt", "rwkv_version": "7", "architecture": "x070", "vocab": "bytes",
               "n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "head_size": cfg.head_size, "dim_ffn": cfg.dim_ffn}
    path = os.path.join(a.out, "model.safetensors")
    try:
        from safetensors.torch import save_file
        save_file(sd, path, metadata={k: str(v) for k, v in meta_st.items()})
        writer = "safetensors " + __import__("safetensors").__version__
    except ImportError:
        save_safetensors(sd, path, meta_st)
        writer = "rwkv7_lm.save_safetensors"
    log(f"exported {path} ({os.path.getsize(path) / 2**20:.2f} MiB, {a.export_dtype}, {writer})")

    sd32 = {k: v.float() for k, v in sd.items()}
    assert config_from_state_dict(sd32) == cfg
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ev = RWKV7(cfg)
    ev.load_state_dict(sd32)
    ev.to(dev).eval()
    t1 = time.time()
    bpb, vlogits, vnll = eval_bpb(ev, val, dev, chunk=a.chunk)
    log(f"validation: {bpb:.4f} bits/byte over {len(val) - 1} predicted bytes ({time.time() - t1:.1f} s)")

    # RNN-mode cross-check (CPU, float32) on the first bytes of the validation text
    rn = RnnRunner(sd32, torch.float32, "cpu")
    st = rn.zero_state()
    nb = min(a.rnn_check_bytes, len(val) - 1)
    diffs, nll_rnn = [], 0.0
    for t in range(nb):
        o, st = rn.forward(val[t], st)
        diffs.append((o - vlogits[t].cpu()).abs().max().item())
        nll_rnn += F.cross_entropy(o.view(1, -1), torch.tensor([val[t + 1]])).item()
    bpb_rnn_prefix = nll_rnn / nb / math.log(2)
    bpb_chunk_prefix = vnll[:nb].mean().item() / math.log(2)
    log(f"RNN check on {nb} bytes: max |logit diff| {max(diffs):.2e}; bpb rnn {bpb_rnn_prefix:.5f} "
        f"chunked {bpb_chunk_prefix:.5f}")

    # expected logits after "The " from the zero state
    prompt = b"The "
    res = {}
    for name, dt in (("float32", torch.float32), ("float64", torch.float64)):
        r2 = RnnRunner(sd32, dt, "cpu")
        s2 = r2.zero_state()
        for bt in prompt:
            o, s2 = r2.forward(bt, s2)
        res[name] = o
    top = torch.topk(torch.softmax(res["float64"], -1), 8)
    top_list = [[int(i), bytes([int(i)]).decode("latin-1"), round(float(p), 4)] for p, i in zip(top.values, top.indices)]
    with open(os.path.join(a.out, "expected-logits-The.json"), "w") as f:
        f.write('{\n "prompt": "The ",\n "prompt_bytes": [84, 104, 101, 32],\n')
        f.write(' "weights": "models/demo-lm/model.safetensors (%s, upcast to float32)",\n' % a.export_dtype)
        f.write(' "method": "RNN mode, one byte at a time from the zero state (training/rwkv7_lm.py RnnRunner, '
                'the steps of the official RWKV-v7/rwkv_v7_demo_rnn.py), CPU",\n')
        f.write(' "top8_next_bytes": %s,\n' % json.dumps(top_list))
        f.write(' "logits_float64": [%s],\n' % ",".join(repr(float(x)) for x in res["float64"]))
        f.write(' "dtype": "float32",\n')
        f.write(' "logits": [%s]\n}\n' % ",".join(f32s(x) for x in res["float32"]))
    log("next byte after 'The ':", top_list[:5], "fp32 vs fp64 max diff",
        (res["float32"].double() - res["float64"]).abs().max().item())

    # a short sample (temperature 0.8, seed 0) for the model card
    g = torch.Generator().manual_seed(0)
    s2 = rn.zero_state()
    text = bytearray(b"The ")
    for bt in text:
        o, s2 = rn.forward(bt, s2)
    for _ in range(400):
        p = torch.softmax(o / 0.8, -1)
        bt = int(torch.multinomial(p, 1, generator=g))
        text.append(bt)
        o, s2 = rn.forward(bt, s2)
    sample = text.decode("utf-8", errors="replace")
    log("sample:", repr(sample))

    metrics = {
        "val_bpb": bpb,
        "val_bytes": len(val),
        "val_predicted_bytes": len(val) - 1,
        "val_method": "whole validation file as one sequence from the zero state; mean -log2 p(byte[t+1]|bytes[..t]) "
                      "over t=0..n-2; exported weights upcast to float32, float32 math without TF32, chunked WKV "
                      f"(chunk {a.chunk}) == RNN mode",
        "rnn_check": {"bytes": nb, "max_abs_logit_diff": max(diffs), "bpb_rnn_prefix": bpb_rnn_prefix,
                      "bpb_chunked_prefix": bpb_chunk_prefix},
        "train_loss_last_nats": final_loss,
        "train_loss_last_bits": final_loss / math.log(2),
        "loss_history": loss_hist,
        "steps": step,
        "tokens_seen": tokens,
        "train_seconds": train_secs,
        "wall_seconds_this_segment": time.time() - t_start,
        "params": n_params,
        "config": cfg.to_dict(),
        "export_dtype": a.export_dtype,
        "safetensors_writer": writer,
        "recipe": {k: getattr(a, k) for k in ("batch", "ctx", "chunk", "lr", "lr_final", "warmup", "wd", "beta1",
                                              "beta2", "eps", "clip", "seed", "minutes", "total_minutes")},
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "next_byte_after_The_top8": top_list,
        "sample_T0.8": sample,
    }
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    log("wrote metrics.json; total wall", f"{time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
