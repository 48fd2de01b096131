#!/usr/bin/env python3
"""How far is a voice from another? Median F0, speaking rate, long-term spectrum (80-bin Kaldi
log-mel, FBANK_OPTIONS) and, with --model, the shipped recognizer's greedy WER, per voice
configuration, on the same sentences (the first --n test sentences: measuring, not training).

  eval "$(bash training/audio/unpack-debs.sh .gpu/speech/debs /tmp/speech-tts)"
  python3 training/audio/voice_study.py --text .gpu/speech/text --n 40 --ref flite:rms \
      flite:rms flite:slt flite:slt,pitch=110 flite:awb,pitch=100,warp=0.9 festival:ked_diphone \
      --model models/rwkv-speech-en-synth/model.safetensors

A configuration is ENGINE:VOICE[+VARIANT] with options: rate= (flite/festival duration stretch,
espeak-ng words/min; default 1.0 / 160), pitch= (the engine's F0 target as synthesize.py uses
it; 0: the voice's own), alpha= (the HTS voice's all-pass constant, synthesize.TRAIN_HTS_ALPHA),
warp= (VTLN factor of the mel filterbank, as the VTLP augmentation applies it), speed=
(data.speed_perturb: tempo and pitch together), formant= (data.formant_shift: the envelope
alone), eq=LABEL (features moved by LABEL's long-term spectrum minus this one's: for the WER
only). Renders are cached in --cache.

With --shard DIR it only renders (no torch needed): every configuration's utterances go into
one synthesize.py shard, DIR/test-voices/shard-00000.{npy,json}, each utterance's variant its
configuration's label, for the TypeScript runtime to read per configuration
(`node bench/dist/speech-heldout.js DIR --sets test-voices --vad-utts 0`).

Per configuration: f0 (median of the utterances' median F0, Hz), cps (characters per second of
speech, first to last active frame), centroid (Hz, of the long-term mel power spectrum),
dist (mean over the 80 bins of |long-term log-mel - the reference's|, each level-normalised
(its mean over bins removed), in dB), lo/mid/hi (the same over bins 0-19, 20-49, 50-79) and
dtw (the mean over sentences of the DTW-aligned frame distance to the reference's rendering of
the same sentence: root mean square over bins of the log-mel difference, each utterance's
active frames with its own mean removed, in dB; what no static EQ or level removes) and
wer_ctc / wer_rnnt (greedy CTC; transducer greedy, up to 3 symbols a step; clean audio) with --model.
"""
import argparse
import json
import lzma
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import synthesize  # noqa: E402

DB = 10 / np.log(10)  # natural-log power units -> dB


def parse(spec):
    head, *opts = spec.split(",")
    engine, voice = head.split(":", 1)
    voice, _, variant = voice.partition("+")
    c = {"label": spec, "engine": engine, "voice": voice, "variant": variant,
         "rate": 160 if engine == "espeak" else 1.0, "pitch": 50 if engine == "espeak" else 0,
         "warp": 1.0, "speed": 1.0, "formant": 1.0, "alpha": 0.0, "eq": ""}
    for o in opts:
        k, v = o.split("=", 1)
        c[k] = v if k == "eq" else float(v)
    if engine == "espeak" or c["pitch"] == int(c["pitch"]):
        c["pitch"] = int(c["pitch"])
    if engine == "espeak":
        c["rate"] = int(c["rate"])
    return c


def render_all(c, texts, cache, skip=0):
    key = f"{c['engine']}_{c['voice']}_{c['variant']}_{c['rate']}_{c['pitch']}_{skip}_{len(texts)}"
    key = (key + (f"_a{c['alpha']:g}" if c["alpha"] else "")).replace("/", "-")
    path = os.path.join(cache, key + ".npz")
    if os.path.exists(path):
        z = np.load(path)
        return [z[f"u{i}"] for i in range(len(texts))]
    jobs = [{"id": f"s{i}", "text": t, "source": "study", "engine": c["engine"], "voice": c["voice"],
             "variant": c["variant"], "rate": c["rate"], "pitch": c["pitch"], "gap": 0,
             **({"alpha": c["alpha"]} if c["alpha"] else {})} for i, t in enumerate(texts)]
    if c["engine"] == "festival":
        tmp = os.path.join(cache, key + ".tmp")
        os.makedirs(tmp, exist_ok=True)
        out = synthesize.render_festival(jobs, synthesize._BINS, tmp)
        shutil.rmtree(tmp)
    else:
        out = [synthesize.render(j, synthesize._BINS) for j in jobs]
    np.savez(path, **{f"u{i}": x for i, x in enumerate(out)})
    return out


def mel_centres(bins=80, lo=20.0, hi=8000.0):
    m = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    pts = np.linspace(m(lo), m(hi), bins + 2)[1:-1]
    return 700 * (np.exp(pts / 1127) - 1)


def measure(c, waves, texts):
    import torch
    from torchaudio.compliance import kaldi

    f0s, chars, secs, sums, n_act, feats, trim = [], 0, 0.0, np.zeros(80), 0, [], []
    for x, t in zip(waves, texts):
        x = x.astype(np.float32) / 32768.0
        if c["speed"] != 1.0:
            x = data.speed_perturb(x, c["speed"])
        if c["formant"] != 1.0:
            x = data.formant_shift(x, c["formant"])
        act = data.activity_frames(x) > 0
        f0s.append(data.median_f0(x))
        k = np.flatnonzero(act)
        secs += (k[-1] - k[0] + 1) * 0.01
        chars += len(t)
        wav = torch.from_numpy(np.round(x * 32768.0)).float()[None]
        f = kaldi.fbank(wav, **{**data.FBANK_OPTIONS, "vtln_warp": c["warp"]}).numpy()
        feats.append(f)
        t = f[k[0]:min(k[-1] + 1, len(f))]
        trim.append(t - t.mean(0))
        sums += f[act[: len(f)]].sum(0)
        n_act += int(act[: len(f)].sum())
    ltas = sums / n_act
    p = np.exp(ltas)
    return {"f0": float(np.median(f0s)), "cps": chars / secs, "ltas": ltas,
            "centroid": float((p * mel_centres()).sum() / p.sum()), "feats": feats, "trim": trim}


def dtw(a, b):
    """Mean frame distance along the best monotonic alignment of frame sequences a and b
    (steps diagonal, down, right; the path's total over its length), by anti-diagonals."""
    c = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).mean(-1))
    n, m = c.shape
    D = np.full((n + 1, m + 1), np.inf)
    L = np.zeros((n + 1, m + 1))
    D[0, 0] = 0.0
    for s in range(2, n + m + 1):
        i = np.arange(max(1, s - m), min(n, s - 1) + 1)
        j = s - i
        cand = np.stack([D[i - 1, j - 1], D[i - 1, j], D[i, j - 1]])
        k = cand.argmin(0)
        r = np.arange(len(i))
        D[i, j] = c[i - 1, j - 1] + cand[k, r]
        L[i, j] = 1 + np.stack([L[i - 1, j - 1], L[i - 1, j], L[i, j - 1]])[k, r]
    return D[n, m] / L[n, m]



def wer(model, feats, texts):
    import torch
    import train_asr

    edits = [0, 0]
    words = 0
    for s in range(0, len(feats), 20):
        fb = feats[s:s + 20]
        lens = torch.tensor([len(f) for f in fb])
        T = -(-int(lens.max()) // model.c.stack) * model.c.stack
        x = torch.zeros(len(fb), T, 80)
        for i, f in enumerate(fb):
            x[i, :len(f)] = torch.from_numpy(f)
        with torch.no_grad():
            enc, _ = model.encoder(x)
            el = torch.div(lens, model.c.stack, rounding_mode="floor")
            ctc = train_asr.ctc_greedy(model.ctc_log_probs(enc), model.ctc_lengths(el))
            rnnt = train_asr.transducer_greedy(model, enc, el, 3)
        for ref, h1, h2 in zip(texts[s:s + 20], ctc, rnnt):
            edits[0] += train_asr.word_errors(ref, h1)[0]
            edits[1] += train_asr.word_errors(ref, h2)[0]
            words += len(ref.split())
    return edits[0] / words, edits[1] / words


def write_study_shard(out, configs, texts, cache, skip=0):
    """Every configuration's renders of `texts` as shard 0 of out/test-voices (synthesize.py's
    format; `variant` holds the configuration's label)."""
    folder = os.path.join(out, "test-voices")
    os.makedirs(folder, exist_ok=True)
    pieces, utts, offset = [], [], 0
    for c in configs:
        for text, x in zip(texts, render_all(c, texts, cache, skip)):
            utts.append({"text": text, "engine": c["engine"], "voice": c["voice"], "variant": c["label"],
                         "offset": offset, "length": int(len(x)), "duration": round(len(x) / synthesize.SR, 3)})
            pieces.append(x)
            offset += len(x)
    np.save(os.path.join(folder, "shard-00000.npy"), np.concatenate(pieces).astype("<i2"))
    with open(os.path.join(folder, "shard-00000.json"), "w") as f:
        json.dump({"sample_rate": synthesize.SR, "utts": utts}, f)
    print(f"{len(utts)} utterances, {offset / synthesize.SR / 3600:.3f} h -> {folder}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--text", required=True, help="folder with test.tsv.xz")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--skip", type=int, default=0, help="start at this test sentence")
    ap.add_argument("--ref", default="flite:rms", help="the configuration distances are taken to")
    ap.add_argument("--cache", default="/tmp/voice-study-cache")
    ap.add_argument("--model", default="", help="exported model.safetensors: greedy WER per configuration")
    ap.add_argument("--json", default="", help="write the results (long-term spectra included) here")
    ap.add_argument("--shard", default="", help="only render: write the utterances as one shard under "
                                                "SHARD/test-voices for bench/dist/speech-heldout.js")
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    with lzma.open(os.path.join(a.text, "test.tsv.xz"), "rt", encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in f if line.strip()][a.skip:a.skip + a.n]
    specs = list(dict.fromkeys([a.ref] + a.configs))
    if any(parse(s)["voice"].startswith("mb-") for s in specs):  # espeak-ng's MBROLA voices
        if not (os.environ.get("MBROLA_DIR") and os.environ.get("ESPEAK_DATA_PATH")):
            raise SystemExit("mb-* voices need MBROLA_DIR (fetch-mbrola.sh) and ESPEAK_DATA_PATH (unpack-debs.sh)")
        synthesize.prepare_mbrola(os.environ["MBROLA_DIR"], os.environ["ESPEAK_DATA_PATH"])
    synthesize._init_worker()
    if a.shard:
        return write_study_shard(a.shard, [parse(s) for s in specs], texts, a.cache, a.skip)
    res = {}
    for spec in specs:
        c = parse(spec)
        res[spec] = {**c, **measure(c, render_all(c, texts, a.cache, a.skip), texts)}
    ref = res[a.ref]["ltas"] - res[a.ref]["ltas"].mean()
    model = None
    if a.model:
        import torch
        from rwkv_speech_model import SpeechModel
        torch.set_num_threads(os.cpu_count())
        model = SpeechModel.from_exported(a.model).eval()
    cols = "label f0 cps centroid dist lo mid hi dtw" + (" wer_ctc wer_rnnt" if model else "")
    print("| " + " | ".join(cols.split()) + " |")
    print("|" + " --- |" * len(cols.split()))
    for spec in a.configs:
        r = res[spec]
        d = np.abs(r["ltas"] - r["ltas"].mean() - ref) * DB
        r.update(dist=float(d.mean()), lo=float(d[:20].mean()), mid=float(d[20:50].mean()),
                 hi=float(d[50:].mean()),
                 dtw=float(np.mean([dtw(x, y) for x, y in zip(res[a.ref]["trim"], r["trim"])]) * DB))
        row = [spec, f"{r['f0']:.0f}", f"{r['cps']:.1f}", f"{r['centroid']:.0f}", f"{r['dist']:.2f}",
               f"{r['lo']:.2f}", f"{r['mid']:.2f}", f"{r['hi']:.2f}", f"{r['dtw']:.2f}"]
        if model:
            feats = r["feats"]
            if r["eq"]:
                shift = (res[r["eq"]]["ltas"] - res[r["eq"]]["ltas"].mean()) - (r["ltas"] - r["ltas"].mean())
                feats = [f + shift.astype(np.float32) for f in feats]
            r["wer_ctc"], r["wer_rnnt"] = wer(model, feats, texts)
            row += [f"{100 * r['wer_ctc']:.1f}", f"{100 * r['wer_rnnt']:.1f}"]
        print("| " + " | ".join(row) + " |", flush=True)
    if a.json:
        out = {k: {kk: (vv.tolist() if isinstance(vv, np.ndarray) else vv)
                   for kk, vv in v.items() if kk not in ("feats", "trim")} for k, v in res.items()}
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
