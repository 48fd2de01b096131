#!/usr/bin/env python3
"""Measurements for the synthesis check on the GPU machine (after synthesize.py has run).

  python3 training/audio/gpu_check.py --data /tmp/speech --out $OUT/samples

1. per-engine speed, one process: N utterances per engine (espeak-ng, each flite voice, and each
   festival voice in one festival process, as synthesize.py renders them, where festival is
   unpacked); prints utterances/s and the real-time factor of one core;
2. loader speed: SpeechShards (with the Augmenter) + kaldi fbank through a torch DataLoader with
   --loader-workers processes; prints utterances/s and audio hours/min, and checks the features;
3. writes a few WAV samples (<= --sample-seconds each) with a samples.json describing them:
   clean training voices of both engines, a held-out voice, and augmented versions.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import synthesize  # noqa: E402


def bench_engines(sents, n):
    synthesize._init_worker()
    rows = []
    cases = [("espeak", "en-us", "m3", {"rate": 175, "pitch": 50, "gap": 0})] + [
        ("flite", v, "", {"rate": 1.0, "pitch": (r[0] + r[1]) // 2 if r else 0})
        for v, r in synthesize.FLITE_VOICES.items()]
    for engine, voice, variant, pros in cases:
        t0, audio = time.time(), 0
        for _, text in sents[:n]:
            x = synthesize.render({"engine": engine, "voice": voice, "variant": variant,
                                   "text": text, **pros}, synthesize._BINS)
            audio += len(x) / data.SR
        el = time.time() - t0
        rows.append({"engine": engine, "voice": voice, "utts": n, "wall_s": round(el, 3),
                     "utts_per_s": round(n / el, 1), "realtime_x_one_core": round(audio / el, 1)})
        print(json.dumps(rows[-1]), flush=True)
    if "festival" in synthesize._BINS:
        tmp = tempfile.mkdtemp()
        for v, r in synthesize.FESTIVAL_VOICES.items():
            jobs = [{"id": str(k), "engine": "festival", "voice": v, "variant": "", "text": text,
                     "rate": 1.0, "pitch": (r[0] + r[1]) // 2} for k, (_, text) in enumerate(sents[:n])]
            t0 = time.time()
            xs = synthesize.render_festival(jobs, synthesize._BINS, tmp)
            el = time.time() - t0
            audio = sum(len(x) for x in xs if x is not None) / data.SR
            rows.append({"engine": "festival", "voice": v, "utts": n, "wall_s": round(el, 3),
                         "utts_per_s": round(n / el, 1), "realtime_x_one_core": round(audio / el, 1),
                         "failed": sum(x is None for x in xs)})
            print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def bench_loader(folder, workers, batches, batch_size):
    import torch

    ds = data.SpeechShards(folder, augment=data.Augmenter(), seed=1)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                     collate_fn=data.collate, persistent_workers=False)
    t0, n, secs = time.time(), 0, 0.0
    kinds = {}
    for k, b in enumerate(dl):
        if k == 0:
            t_first = time.time() - t0
            t0, n, secs = time.time(), 0, 0.0
            f = b["feats"]
            assert f.shape[0] == batch_size and f.shape[2] == 80, f.shape
            assert torch.isfinite(f).all()
            print(f"first batch {t_first:.2f} s: feats {tuple(f.shape)} "
                  f"range [{f.min():.2f}, {f.max():.2f}]", flush=True)
            continue
        n += b["feats"].shape[0]
        secs += float(b["feat_lens"].sum()) / 100.0
        for m in b["meta"]:
            kinds[m["augment"].get("noise", "none")] = kinds.get(m["augment"].get("noise", "none"), 0) + 1
        if k >= batches:
            break
    el = time.time() - t0
    row = {"loader_workers": workers, "batch": batch_size, "utts": n, "wall_s": round(el, 2),
           "utts_per_s": round(n / el, 1), "audio_h_per_min": round(secs / 3600 / (el / 60), 3),
           "noise_kinds": kinds}
    print(json.dumps(row), flush=True)
    return row


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(data.SR)
        w.writeframes(np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes())


def samples(root, out, max_s):
    """A few short WAVs: training voices of both engines, a held-out voice, one augmented."""
    os.makedirs(out, exist_ok=True)
    tr = data.ShardIndex(os.path.join(root, "train"))
    tv = data.ShardIndex(os.path.join(root, "test-voices"))

    def first(ix, pred):
        return next(i for i in range(len(ix))
                    if pred(ix.meta(i)) and 1.2 <= ix.meta(i)["duration"] <= max_s)

    picks = [(tr, first(tr, lambda m: m["engine"] == "espeak" and m["variant"] not in ("", "whisper")), None),
             (tr, first(tr, lambda m: m["voice"] == "slt"), None),
             (tr, first(tr, lambda m: m["voice"] == "awb"), None),
             (tr, first(tr, lambda m: m["voice"] == "kal"), None),
             (tv, first(tv, lambda m: m["engine"] == "flite"), None)]
    aug = data.Augmenter(p_speed=1, p_reverb=1, p_noise=1, p_babble=0, snr_db=(8, 15))
    picks.append((tr, picks[1][1], aug))
    meta = []
    for k, (ix, i, a) in enumerate(picks):
        x, info = ix.waveform(i), {}
        if a is not None:
            x, info = a(x, np.random.default_rng(k))
        x = x[: int(max_s * data.SR)]
        m = ix.meta(i)
        name = (f"{k}-{m['engine']}-{m['voice']}{('-' + m['variant']) if m['variant'] else ''}"
                f"{'-augmented' if a else ''}.wav")
        write_wav(os.path.join(out, name), x)
        meta.append({"file": name, "text": m["text"], "engine": m["engine"], "voice": m["voice"],
                     "variant": m["variant"], "rate": m["rate"], "pitch": m["pitch"],
                     "split": m["id"].rsplit("-", 1)[0], "augment": info,
                     "seconds_kept": round(len(x) / data.SR, 2), "seconds_full": m["duration"]})
    json.dump(meta, open(os.path.join(out, "samples.json"), "w"), indent=1)
    print(json.dumps(meta, indent=1), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--text", default=".gpu/speech/text")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench-utts", type=int, default=40)
    ap.add_argument("--loader-workers", type=int, default=12)
    ap.add_argument("--loader-batches", type=int, default=40)
    ap.add_argument("--sample-seconds", type=float, default=2.4)
    a = ap.parse_args()
    sents = synthesize.read_tsv(os.path.join(a.text, "test.tsv.xz"))
    res = {"engines": bench_engines(sents, a.bench_utts)}
    res["loader"] = bench_loader(os.path.join(a.data, "train"), a.loader_workers,
                                 a.loader_batches, 32)
    samples(a.data, a.out, a.sample_seconds)
    json.dump(res, open(os.path.join(a.data, "gpu-check.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
