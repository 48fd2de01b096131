#!/usr/bin/env python3
"""Train the streaming speech model (rwkv_speech_model.py) on synthesize.py shards (GPU machine).

    python3 training/audio/train_asr.py --data /tmp/speech --out DIR --minutes 26 \
        [--resume DIR] [--total-minutes 26]

Resumable in segments (device calls last at most 10 minutes; a daemon started with setsid can
run across calls while the machine is held): every --ckpt-minutes the checkpoint is written to
--out/ckpt/ as ckpt.pt.partNN (parts of at most --ckpt-part-mb MiB, the device tool's per-file
limit) with manifest.json, beside log.txt and metrics.json; --resume DIR continues from one (weights, AdamW moments,
step, minutes trained, normalisation statistics). The learning rate follows the minutes of
training done (linear warm-up, then cosine to --lr-final at --total-minutes).

Data: --data/train is re-scanned every epoch, so shards that a background synthesize.py adds
while this trains are used from the next epoch on. Batches are bucketed by duration (at most
--batch-seconds of padded audio). Loss: --ctc-weight x CTC + (1 - it) x transducer
+ --vad-weight x voice activity (BCE against activity_frames of the clean utterance).

Evaluation (every --eval-minutes and at the end): greedy CTC and greedy transducer word error
rate on the first --eval-utts utterances of --data/test-voices (per held-out voice) and
--data/test-sentences, and the VAD head's frame accuracy; written to metrics.json.
"""
import argparse
import functools
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..'))
import data  # noqa: E402
import gpu_fbank  # noqa: E402
from rwkv_speech_model import (BLANK, MAX_WKV_CHUNK, WKV_CHUNK, SpeechConfig, SpeechModel,  # noqa: E402
                              count_parameters)
from spec_augment import spec_augment  # noqa: E402
from train_lm import load_ckpt, param_groups, save_ckpt  # noqa: E402

LOG = None


def log(*a):
    line = time.strftime('%H:%M:%S') + ' ' + ' '.join(str(x) for x in a)
    print(line, flush=True)
    if LOG:
        with open(LOG, 'a') as f:
            f.write(line + '\n')


def duration_batches(durations, max_seconds, rng, max_batch=256, pool=4096):
    """Index lists: shuffled, then sorted by duration within pools, cut so that
    (longest in batch) x (batch size) <= max_seconds; batch order shuffled."""
    order = rng.permutation(len(durations))
    out = []
    for c in range(0, len(order), pool):
        chunk = sorted(order[c:c + pool], key=lambda i: durations[i])
        b, longest = [], 0.0
        for i in chunk:
            d = durations[i]
            if b and (max(longest, d) * (len(b) + 1) > max_seconds or len(b) >= max_batch):
                out.append(b)
                b, longest = [], 0.0
            b.append(int(i))
            longest = max(longest, d)
        if b:
            out.append(b)
    rng.shuffle(out)
    return out


def word_errors(ref, hyp):
    """(edits, reference words): Levenshtein distance over words."""
    r, h = ref.split(), hyp.split()
    prev = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        cur = [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
        prev = cur
    return prev[-1], len(r)


def batch_features(bt, device):
    """The batch's fbank features on `device`: computed there from the waveforms (loader items
    of features=False), or the loader's own; (B, frames_padded, 80)."""
    if 'feats' in bt:
        return bt['feats'].to(device, non_blocking=True)
    feats, _ = gpu_fbank.fbank_batch(bt['waves'].to(device, non_blocking=True), bt['wave_lens'],
                                     bt.get('warps'), bt.get('eqs'))
    pad = bt['frames_padded'] - feats.shape[1]
    return torch.nn.functional.pad(feats, (0, 0, 0, pad)) if pad > 0 else feats[:, :bt['frames_padded']]


def ctc_greedy(log_probs, lens):
    """(B, T, V) -> texts: argmax, collapse repeats, drop blanks."""
    best = log_probs.argmax(-1).cpu().numpy()
    out = []
    for b, n in enumerate(lens.tolist()):
        ids, prev = [], -1
        for s in best[b, :n]:
            if s != prev and s != BLANK:
                ids.append(int(s))
            prev = s
        out.append(data.decode_ids(ids))
    return out


@torch.no_grad()
def transducer_greedy(model, enc, lens, max_symbols=1):
    """Batched greedy transducer search: at each encoder step emit the joiner's argmax while it
    is not blank, at most max_symbols per step; the prediction network advances only for the
    streams that emitted (its state kept per stream)."""
    B, T, _ = enc.shape
    dev = enc.device
    pred = model.predictor
    from rwkv_speech_model import run_blocks

    def step(tokens, state):
        x = pred.emb(tokens).unsqueeze(1)
        x, st = run_blocks(pred.blocks, x, chunk=1, state=state)
        return pred.ln_out(x)[:, 0], st

    def select(mask, new, old):
        return [tuple(torch.where(mask.view(-1, *([1] * (n.dim() - 1))), n, o) for n, o in zip(nt, ot))
                for nt, ot in zip(new, old)]

    p_out, state = step(torch.full((B,), BLANK, dtype=torch.long, device=dev), None)
    hyps = [[] for _ in range(B)]
    j_enc = model.joiner.enc(enc)
    for t in range(T):
        active = torch.tensor([t < n for n in lens.tolist()], device=dev)
        for _ in range(max_symbols):
            logits = model.joiner.out(torch.tanh(j_enc[:, t] + model.joiner.pred(p_out)))
            sym = logits.argmax(-1)
            emit = active & (sym != BLANK)
            if not bool(emit.any()):
                break
            for b in torch.nonzero(emit).flatten().tolist():
                hyps[b].append(int(sym[b]))
            new_out, new_state = step(torch.where(emit, sym, torch.zeros_like(sym)), state)
            p_out = torch.where(emit[:, None], new_out, p_out)
            state = select(emit, new_state, state)
            active = emit
    return [data.decode_ids(h) for h in hyps]


@torch.no_grad()
def evaluate(model, sets, device, batch=100, full=False):
    """{set name: {ctc_wer, rnnt_wer, rnnt3_wer, vad_acc, per_voice}} over the eval sets."""
    model.eval()
    res = {}
    for name, ds in sets.items():
        stats = {}  # key -> [ctc edits, rnnt edits, rnnt3 edits, words]
        vad_ok = vad_n = 0
        for s in range(0, len(ds), batch):
            items = [ds[i] for i in range(s, min(s + batch, len(ds)))]
            bt = data.collate(items, multiple=model.c.stack)
            feats = batch_features(bt, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                enc, _ = model.encoder(feats)
            enc = enc.float()
            lens = torch.div(bt['feat_lens'], model.c.stack, rounding_mode='floor')
            with torch.autocast(device.type, enabled=False):
                ctc = ctc_greedy(model.ctc_log_probs(enc), model.ctc_lengths(lens))
                rnnt = transducer_greedy(model, enc, lens, 1)
                rnnt3 = transducer_greedy(model, enc, lens, 3) if full else rnnt
                v = model.vad(enc).squeeze(-1) > 0
            Te = enc.shape[1]
            target = bt['vad'][:, :Te * model.c.stack].reshape(len(items), Te, model.c.stack).mean(-1) >= 0.5
            for b, it in enumerate(items):
                n = int(lens[b])
                vad_ok += int((v[b, :n].cpu() == target[b, :n]).sum())
                vad_n += n
                m = it['meta']
                key = f"{m['engine']}:{m['variant'] or m['voice']}" if name == 'test-voices' else 'all'
                st = stats.setdefault(key, [0, 0, 0, 0])
                for k, hyp in enumerate((ctc[b], rnnt[b], rnnt3[b])):
                    e, w = word_errors(it['text'], hyp)
                    st[k] += e
                st[3] += len(it['text'].split())
            if s == 0:
                log(f'  {name} sample: ref "{items[0]["text"]}" ctc "{ctc[0]}" rnnt "{rnnt[0]}"')
        tot = [sum(v[k] for v in stats.values()) for k in range(4)]
        res[name] = {'utterances': len(ds), 'words': tot[3],
                     'ctc_wer': tot[0] / tot[3], 'rnnt_wer': tot[1] / tot[3], 'rnnt3_wer': tot[2] / tot[3],
                     'vad_frame_accuracy': vad_ok / max(vad_n, 1),
                     'per_voice': {k: {'ctc_wer': v[0] / v[3], 'rnnt_wer': v[1] / v[3], 'words': v[3]}
                                   for k, v in sorted(stats.items())}}
    model.train()
    return res


def subset(ds, n, seed=0):
    """The first n utterances in a fixed shuffled order (every voice of the split present)."""
    if n >= len(ds):
        return ds
    keep = np.random.default_rng(seed).permutation(len(ds))[:n]
    ds.index.utts = [ds.index.utts[i] for i in sorted(keep)]
    return ds


def feature_stats(folder, n=2000):
    """Per-bin mean and std of clean fbank features over up to n training utterances."""
    ds = data.SpeechShards(folder)
    idx = np.random.default_rng(123).permutation(len(ds))[:n]
    s = torch.zeros(80, dtype=torch.float64)
    s2 = torch.zeros(80, dtype=torch.float64)
    cnt = 0
    for i in idx:
        f = ds[int(i)]['feats'].double()
        s += f.sum(0)
        s2 += (f * f).sum(0)
        cnt += f.shape[0]
    mean = s / cnt
    return mean.float(), (s2 / cnt - mean * mean).clamp(min=1e-6).sqrt().float()


def start_profile(device):
    """A running torch.profiler over the host and, on a GPU, the device."""
    acts = [torch.profiler.ProfilerActivity.CPU]
    if device.type == 'cuda':
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    prof = torch.profiler.profile(activities=acts)
    prof.start()
    return prof


def write_profile(prof, out_dir, device, steps):
    """The profiled steps' ops by device time (host time on a CPU run), to the log and
    out_dir/profile.txt: where a training step goes, to know what limits the run."""
    key = 'self_cuda_time_total' if device.type == 'cuda' else 'self_cpu_time_total'
    table = prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=60)
    with open(os.path.join(out_dir, 'profile.txt'), 'w') as f:
        f.write(f'{steps} training steps profiled (torch.profiler), sorted by {key}\n{table}\n')
    log(f'profile of {steps} steps (sorted by {key}):\n{table}')


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True, help='folder with train/, test-voices/, test-sentences/')
    ap.add_argument('--out', required=True)
    ap.add_argument('--minutes', type=float, required=True, help='wall minutes of training in this run')
    ap.add_argument('--total-minutes', type=float, default=0, help='length of the lr schedule (default --minutes)')
    ap.add_argument('--resume', default='', help='folder holding ckpt.pt.part* (a run\'s out/ckpt)')
    ap.add_argument('--config', default='{}', help='JSON overrides of SpeechConfig')
    ap.add_argument('--init', default='', help='start from an exported model.safetensors (its config and weights)')
    ap.add_argument('--grow-layers', type=int, default=0,
                    help='with --init: add this many encoder blocks after the model\'s own, initialised '
                         'so that the model computes the same function at first (more capacity, not a restart)')
    ap.add_argument('--ctc-frames', type=int, default=0,
                    help='with --init: widen a one-frame CTC head to this many frames an encoder step '
                         '(2: 20 ms frames; each a copy of the head at first, SpeechModel.with_ctc_frames)')
    ap.add_argument('--lr', type=float, default=1.5e-3)
    ap.add_argument('--lr-final', type=float, default=5e-5)
    ap.add_argument('--warmup', type=int, default=300)
    ap.add_argument('--wd', type=float, default=0.01)
    ap.add_argument('--batch-seconds', type=float, default=1200)
    ap.add_argument('--ctc-weight', type=float, default=0.3)
    ap.add_argument('--vad-weight', type=float, default=0.1)
    ap.add_argument('--vtlp', type=float, default=0.7,
                    help='share of training draws whose filterbank is warped (VTLN factor 0.85..1.15): new speakers')
    ap.add_argument('--eq', type=float, default=0.5,
                    help='share of training draws given a random spectral tilt and EQ (data.spectral_eq)')
    ap.add_argument('--eq-tilt', type=float, default=0.6,
                    help='largest tilt of the spectral EQ across the band, log-power units (0.6: the draws of '
                         'runs 4-8; the held-out flite voice rms differs from the training mean by about 1.5 in '
                         'whole mel regions, see training/audio/README.md, "Eighth run")')
    ap.add_argument('--eq-bump', type=float, default=0.5,
                    help='largest amplitude of each of the EQ\'s two Gaussian bumps, log-power units (0.5: as before)')
    ap.add_argument('--formant', type=float, default=0.5,
                    help='share of flite and festival training draws whose spectral envelope is moved by 0.8..1.2, '
                         'F0 kept (data.formant_shift; 0: off)')
    ap.add_argument('--formant-bend', type=float, default=0.0,
                    help='share of those formant shifts drawn with a factor per frequency knot (500, 1500, 2500, '
                         '4000 Hz) instead of one factor (0, the default: the draws of before, bit for bit)')
    ap.add_argument('--specaug', type=float, default=0.8,
                    help='share of training utterances given SpecAugment masks (2 bands of <= 10 mel bins, '
                         '2 spans of <= 25 frames, set to the per-bin mean; spec_augment.py; 0: off)')
    ap.add_argument('--pad-silence', type=float, default=0.8, help='max seconds of silence padded each side')
    ap.add_argument('--pad-none', type=float, default=0.0,
                    help='share of training utterances with no silence padded before them (speech from the '
                         'start of the zero state, as user audio that starts at once; 0: as runs 1-6)')
    ap.add_argument('--workers', type=int, default=10)
    ap.add_argument('--cpu-fbank', action='store_true',
                    help='features in the loader workers (default: on the training device, gpu_fbank.py)')
    ap.add_argument('--ckpt-minutes', type=float, default=3)
    ap.add_argument('--ckpt-part-mb', type=int, default=15)
    ap.add_argument('--eval-minutes', type=float, default=10)
    ap.add_argument('--eval-utts', type=int, default=400)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--steps', type=int, default=0, help='stop after this many steps (smoke tests)')
    ap.add_argument('--profile-steps', type=int, default=0,
                    help='profile this many training steps (torch.profiler) after --profile-from; the '
                         'table of ops by device time goes to the log and OUT/profile.txt')
    ap.add_argument('--profile-from', type=int, default=30, help='the step after which profiling starts')
    ap.add_argument('--wkv-chunk', type=int, default=WKV_CHUNK,
                    help=f'steps per chunk of the chunked WKV-7 (1..{MAX_WKV_CHUNK}): the same model, fewer '
                         'scan launches with longer chunks (rwkv_speech_model.WKV_CHUNK)')
    ap.add_argument('--wkv-kernel', choices=['chunked', 'fused'], default='chunked',
                    help="'fused': each block's WKV-7 as one CUDA kernel forward and one backward "
                         '(training/wkv7_cuda.py, NVRTC at start-up) instead of the chunked form\'s ~290 '
                         'small operations; on the CPU it runs under emulation (slow: smoke tests only)')
    a = ap.parse_args()
    if a.grow_layers and not a.init:
        ap.error('--grow-layers adds blocks to the model of --init: give --init too')
    if a.ctc_frames and not a.init:
        ap.error('--ctc-frames widens the CTC head of the model of --init: give --init too '
                 '(from scratch: --config \'{"ctc_frames": 2}\')')
    os.makedirs(a.out, exist_ok=True)
    LOG = os.path.join(a.out, 'log.txt')
    # the recipe in the log itself: run 6's log lacked its augmentation settings (defaults then)
    log('arguments ' + json.dumps(vars(a), sort_keys=True))
    total = a.total_minutes or a.minutes
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.manual_seed(a.seed)

    ck = load_ckpt(a.resume) if a.resume else None
    if a.init:
        # continue training an exported model (e.g. the shipped one, which every device call
        # carries anyway): its weights with the stem's normalisation unfolded, new optimizer
        # state, warm-up again, the lr schedule over this run's minutes
        mean, std = feature_stats(os.path.join(a.data, 'train'))
        model = SpeechModel.from_exported(a.init, mean, std)
        if a.grow_layers:
            model = model.grown(a.grow_layers)
        if a.ctc_frames and a.ctc_frames != model.c.ctc_frames:
            model = model.with_ctc_frames(a.ctc_frames)
        cfg = model.c
    else:
        cfg = SpeechConfig(**(ck['meta']['config'] if ck else json.loads(a.config)))
        model = SpeechModel(cfg)
    meta = {'config': cfg.to_dict(), 'step': 0, 'minutes': 0.0, 'epoch': 0, 'hours_seen': 0.0}
    if a.init:
        log(f'initialised from {a.init} (normalisation folded into the stem)'
            + (f', {a.grow_layers} encoder blocks added (identity at first)' if a.grow_layers else '')
            + (f', CTC head widened to {cfg.ctc_frames} frames a step' if a.ctc_frames else ''))
    elif ck:
        model.load_state_dict({k: v.float() for k, v in ck['model'].items()})
        meta.update(ck['meta'])
        log(f"resumed {a.resume}: step {meta['step']}, {meta['minutes']:.1f} min trained")
    else:
        mean, std = feature_stats(os.path.join(a.data, 'train'))
        with torch.no_grad():
            model.set_normalization(mean, std)
        log(f'feature mean {mean.mean():.2f}, std {std.mean():.2f} (averages over bins)')
    model.set_wkv_chunk(a.wkv_chunk).set_wkv_kernel(a.wkv_kernel)
    model.to(device)
    log(f'{count_parameters(model):,} parameters; config {json.dumps(cfg.to_dict())}; device {device}')
    groups = param_groups(model, a.wd)
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.98), eps=1e-8)
    if ck and ck.get('opt') is None:
        # a weights-only checkpoint (slim_ckpt.py: what fits in a device call's carry): new
        # AdamW moments, so the warm-up runs again from here
        meta['opt_step0'] = meta['step']
        log('weights-only checkpoint: fresh optimizer state, warm-up again')
    elif ck:
        opt.load_state_dict(ck['opt'])
        for st in opt.state.values():
            for k in ('exp_avg', 'exp_avg_sq'):
                if k in st:
                    st[k] = st[k].float().to(device)

    eval_sets = {}
    for name in ('test-voices', 'test-sentences'):
        folder = os.path.join(a.data, name)
        if os.path.isdir(folder):
            eval_sets[name] = subset(data.SpeechShards(folder), a.eval_utts)

    collate = functools.partial(data.collate, multiple=cfg.stack)
    start = time.time()
    start_minutes = meta['minutes']
    last_ckpt = last_eval = time.time()
    metrics = {}

    def minutes_done():
        return start_minutes + (time.time() - start) / 60

    def checkpoint(final=False):
        # written beside, then swapped in, with a manifest written last: a copier that runs
        # while this trains (gpu-train.sh) takes out/ckpt whole or retries
        meta['minutes'] = minutes_done()
        new, cur, old = (os.path.join(a.out, x) for x in ('ckpt.new', 'ckpt', 'ckpt.old'))
        shutil.rmtree(new, ignore_errors=True)
        os.makedirs(new)
        n = save_ckpt(new, model, opt, meta, a.ckpt_part_mb)
        parts = sorted(f for f in os.listdir(new) if f.startswith('ckpt.pt.part'))
        json.dump({'step': meta['step'], 'bytes': n, 'parts': parts}, open(os.path.join(new, 'manifest.json'), 'w'))
        if os.path.isdir(cur):
            os.rename(cur, old)
        os.rename(new, cur)
        shutil.rmtree(old, ignore_errors=True)
        json.dump({'meta': meta, 'eval': metrics}, open(os.path.join(a.out, 'metrics.json'), 'w'), indent=1)
        if final:
            model.export(os.path.join(a.out, 'model-fp32.safetensors'))
            open(os.path.join(a.out, 'done'), 'w').write(str(meta['step']))
        log(f"checkpoint: step {meta['step']}, {n / 2**20:.1f} MiB")

    # profiling (--profile-steps): from this run's step profile_from on, counted from where it started
    profiler, profile_from, profile_until = None, meta['step'] + a.profile_from, 0
    done = False
    while not done:
        aug = data.Augmenter(p_vtlp=a.vtlp, p_eq=a.eq, eq_tilt=a.eq_tilt, eq_bump=a.eq_bump,
                             p_formant=a.formant, p_bend=a.formant_bend)
        ds = data.SpeechShards(os.path.join(a.data, 'train'), augment=aug,
                               seed=a.seed, pad_silence=a.pad_silence, features=a.cpu_fbank,
                               pad_none=a.pad_none)
        ds.set_epoch(meta['epoch'])
        durs = [u['duration'] + a.pad_silence for _, u in ds.index.utts]
        rng = np.random.default_rng([a.seed, meta['epoch']])
        batches = duration_batches(durs, a.batch_seconds, rng)
        log(f"epoch {meta['epoch']}: {len(ds):,} utterances, {ds.index.hours():.1f} h, {len(batches)} batches")
        loader = torch.utils.data.DataLoader(ds, batch_sampler=batches, num_workers=a.workers,
                                             collate_fn=collate, prefetch_factor=4 if a.workers else None,
                                             pin_memory=device.type == 'cuda',
                                             persistent_workers=False)
        t_log, agg_t = time.time(), torch.zeros(4, device=device)
        for bt in loader:
            m = minutes_done()
            p = min(m / total, 1.0)
            lr = a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * p))
            warm = meta['step'] - meta.get('opt_step0', 0)
            if warm < a.warmup:
                lr *= 0.1 + 0.9 * warm / a.warmup
            for g in opt.param_groups:
                g['lr'] = lr * g['lr_scale']
            feats = batch_features(bt, device)
            if a.specaug > 0:  # masks seeded by (seed, step): a resumed run draws the same
                gen = torch.Generator().manual_seed(a.seed * 1_000_003 + meta['step'])
                mean = model.encoder.feat_shift[:feats.shape[-1]]
                feats, _ = spec_augment(feats, bt['feat_lens'], mean, gen, p=a.specaug)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
                # lengths stay on the CPU: the model reads its lattice sizes from them without
                # waiting for the GPU (losses() moves what the GPU needs)
                ctc, rnnt, vad = model.losses(feats, bt['feat_lens'], bt['tokens'].to(device, non_blocking=True),
                                              bt['token_lens'], bt['vad'].to(device, non_blocking=True))
            loss = a.ctc_weight * ctc + (1 - a.ctc_weight) * rnnt + a.vad_weight * vad
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            meta['step'] += 1
            meta['hours_seen'] += float(bt['feat_lens'].sum()) / 100 / 3600
            # summed on the device: reading them every step would make the host wait for the GPU
            # before it may queue the next step's work
            agg_t += torch.stack([x.detach().float() for x in (ctc, rnnt, vad, gn)])
            if profiler is not None:
                profiler.step()
                if meta['step'] >= profile_until:
                    profiler.stop()
                    write_profile(profiler, a.out, device, a.profile_steps)
                    profiler = None
            elif a.profile_steps and meta['step'] == profile_from:
                profiler, profile_until = start_profile(device), profile_from + a.profile_steps
            if meta['step'] % 50 == 0:
                agg = (agg_t / 50).tolist()
                log(f"step {meta['step']} min {m:.1f} lr {lr:.2e} ctc {agg[0]:.3f} rnnt {agg[1]:.3f} "
                    f"vad {agg[2]:.3f} gnorm {agg[3]:.2f} | {50 / (time.time() - t_log):.2f} steps/s, "
                    f"{meta['hours_seen']:.0f} h seen")
                t_log = time.time()
                agg_t.zero_()
            stop = (time.time() - start) / 60 >= a.minutes or (a.steps and meta['step'] >= a.steps)
            if eval_sets and (time.time() - last_eval) / 60 >= a.eval_minutes and not stop:
                metrics.update(evaluate(model, eval_sets, device))
                log('eval', json.dumps({k: {x: round(v[x], 4) for x in ('ctc_wer', 'rnnt_wer', 'rnnt3_wer',
                                                                           'vad_frame_accuracy')}
                                        for k, v in metrics.items()}))
                last_eval = time.time()
            if (time.time() - last_ckpt) / 60 >= a.ckpt_minutes and not stop:
                checkpoint()
                last_ckpt = time.time()
            if stop:
                done = True
                break
        else:
            meta['epoch'] += 1
    if eval_sets:
        # the trained weights first: a device call that ends during the closing evaluation
        # (minutes on the full held-out sets) still copies them off (the eleventh run lost its
        # last three minutes so, training/audio/README.md)
        checkpoint()
        metrics.update(evaluate(model, eval_sets, device, full=True))
        log('final eval', json.dumps(metrics))
    checkpoint(final=True)


if __name__ == '__main__':
    main()
