"""Training-time data for the speech model: shards of synthesize.py, augmentation, batches.

Augmentation happens here, per draw, never in the shards, so every epoch hears a new version of
each utterance:
  * formant shift (flite, festival, rhvoice and mbrola utterances, off unless p_formant > 0; train_asr.py's
    --formant): the spectral envelope moved by a factor in [0.8, 1.2], F0 kept (formant_shift);
    with p_bend (--formant-bend) a share of them by a factor per frequency knot instead (F1 and
    F2 moved by different amounts: a vocal tract of another shape);
  * speed perturbation: resampling by a factor in [0.9, 1.1] (changes tempo and pitch together,
    as Kaldi's 3-way speed perturbation does, but continuous);
  * reverberation: convolution with a synthetic room impulse response, exponentially decaying
    Gaussian noise (RT60 0.15..0.8 s) after a direct-path impulse, direct-to-reverberant ratio
    0..12 dB;
  * additive noise at a random SNR (0..30 dB against the speech's power): white, pink or brown
    noise (spectrally shaped Gaussian), or babble made of three other utterances of the same split;
  * level: peak-normalised to -6 dBFS, then a random gain of -18..+4 dB (clipped to [-1, 1]).
Every function takes an explicit numpy Generator, so an epoch is reproducible from a seed.

The numpy/scipy part needs no torch (tests run on any machine); SpeechShards / collate need
torch and torchaudio (the GPU machine has both). Features are Kaldi fbank with exactly the
options of packages/audio (FBANK_OPTIONS, same as training/audio/make_fbank_fixture.py), on
int16-scale samples (waveform * 32768), the convention of the TypeScript runtime.
"""
import glob
import json
import os

import numpy as np

SR = 16000
# CTC alphabet: 0 = blank, then space, apostrophe, a..z
VOCAB = ["<blank>", " ", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
CHAR_TO_ID = {c: i for i, c in enumerate(VOCAB)}
FBANK_OPTIONS = dict(
    num_mel_bins=80, frame_length=25.0, frame_shift=10.0, dither=0.0,
    preemphasis_coefficient=0.97, remove_dc_offset=True, window_type="povey",
    round_to_power_of_two=True, snip_edges=True, use_energy=False, use_log_fbank=True,
    use_power=True, low_freq=20.0, high_freq=0.0, energy_floor=1.0, sample_frequency=16000.0,
)


def encode_text(text):
    """Sentence (a-z, space, apostrophe) -> list of token ids; raises on other characters."""
    try:
        return [CHAR_TO_ID[c] for c in text]
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} outside the CTC alphabet in {text!r}") from None


def decode_ids(ids):
    """Token ids -> text (blank dropped; no CTC collapsing)."""
    return "".join(VOCAB[i] for i in ids if i > 0)


# ------------------------------------------------------------------------------ augmentation

def speed_perturb(x, factor):
    """Play x `factor` times faster (factor > 1: shorter, higher), by polyphase resampling."""
    if abs(factor - 1.0) < 1e-6:
        return x
    from fractions import Fraction

    from scipy.signal import resample_poly

    fr = Fraction(factor).limit_denominator(50)
    # new length = len / factor: upsample by denominator, downsample by numerator
    return resample_poly(x, fr.denominator, fr.numerator).astype(np.float32)


def colored_noise(n, kind, rng):
    """Unit-RMS Gaussian noise of n samples: 'white', 'pink' (1/f power) or 'brown' (1/f^2)."""
    if kind == "white":
        w = rng.standard_normal(n).astype(np.float32)
    else:
        from scipy import fft as sfft

        # shaped at a length the FFT handles fast, then cut: an utterance's length often has a
        # large prime factor, and the FFT at that length took 36 ms of a loader's time per call
        # (half of all augmentation time, profiled 2026-12-05); the cut keeps the spectrum
        m = sfft.next_fast_len(n, real=True)
        spec = sfft.rfft(rng.standard_normal(m))
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec = spec / (np.sqrt(f) if kind == "pink" else f)
        spec[0] = 0.0
        w = sfft.irfft(spec, m)[:n].astype(np.float32)
    rms = np.sqrt(np.mean(w**2)) + 1e-12
    return w / rms


def speech_power(x, frame=400):
    """Mean power of the louder frames (those above 1/100 of the loudest): speech, not pauses."""
    n = len(x) // frame * frame
    if n == 0:
        return float(np.mean(x**2)) + 1e-12
    p = np.mean(x[:n].reshape(-1, frame) ** 2, axis=1)
    active = p[p > p.max() / 100.0]
    return float(active.mean()) + 1e-12


def add_noise(x, noise, snr_db):
    """x + noise scaled so that speech power / noise power = snr_db (noise tiled/cut to len(x))."""
    if len(noise) < len(x):
        noise = np.tile(noise, int(np.ceil(len(x) / len(noise))))
    noise = noise[: len(x)]
    pn = float(np.mean(noise**2)) + 1e-12
    scale = np.sqrt(speech_power(x) / (pn * 10 ** (snr_db / 10)))
    return (x + scale * noise).astype(np.float32)


def babble(n, utterances):
    """Sum of utterances, each tiled or cut to n samples and scaled to unit speech power."""
    out = np.zeros(n, dtype=np.float32)
    for u in utterances:
        if len(u) == 0:
            continue
        u = np.tile(u, int(np.ceil(n / len(u))))[:n]
        out += u / np.sqrt(speech_power(u))
    return out


def exp_decay_ir(rt60, drr_db, rng, sr=SR, predelay_ms=None):
    """Synthetic room impulse response: a direct impulse, then Gaussian noise whose amplitude
    decays by 60 dB in rt60 seconds; direct-to-reverberant energy ratio drr_db. Unit energy."""
    n = max(int(rt60 * sr * 1.2), 16)
    if predelay_ms is None:
        predelay_ms = rng.uniform(1.0, 10.0)
    d = int(predelay_ms * sr / 1000)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # ln(1000) = 60 dB in amplitude
    tail[0] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail**2) + 1e-12))
    ir = np.zeros(n + d, dtype=np.float64)
    ir[0] = 1.0
    ir[d:] += tail
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def reverberate(x, ir):
    """Convolve x with ir, keep len(x) samples (aligned to the direct path), keep the RMS."""
    from scipy.signal import fftconvolve

    y = fftconvolve(x, ir)[: len(x)]
    rx, ry = np.sqrt(np.mean(x**2)) + 1e-12, np.sqrt(np.mean(y**2)) + 1e-12
    return (y * (rx / ry)).astype(np.float32)


def activity_frames(x, floor_db=-40.0, min_gap_s=0.2, hop=160, win=400):
    """Speech activity per 10 ms fbank frame (snip_edges framing: frame j covers samples
    [160 j, 160 j + 400)) of a clean synthesized utterance, as float32 0/1: a frame is speech
    when its energy is within `floor_db` of the loudest frame; pauses shorter than `min_gap_s`
    between speech frames count as speech (a VAD marks utterances, not the gaps inside words).
    The voice-activity head is trained on these labels and its accuracy measured against them."""
    n = 1 + (len(x) - win) // hop if len(x) >= win else 0
    if n == 0:
        return np.zeros(0, np.float32)
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    e = np.sum(np.asarray(x, np.float64)[idx] ** 2, axis=1) + 1e-12
    db = 10 * np.log10(e)
    on = db > db.max() + floor_db
    if on.any():
        k = np.flatnonzero(on)
        gaps = np.diff(k)
        max_gap = int(round(min_gap_s * SR / hop))
        for a, g in zip(k[:-1], gaps):
            if 1 < g <= max_gap:
                on[a:a + g] = True
    return on.astype(np.float32)


def median_f0(x, sr=SR):
    """Median F0 (Hz) of the louder frames of x (those within 10 dB of its RMS): the
    normalised autocorrelation peak in 60..400 Hz of 40 ms frames every 10 ms, kept where it
    exceeds half the frame's energy; NaN when no frame is voiced. For tests and studies of
    the engines' pitch (test_pipeline.py, voice_study.py)."""
    x = np.asarray(x, np.float64)
    n, lo, hi, rms = int(0.04 * sr), sr // 400, sr // 60, np.sqrt(np.mean(np.square(x)))
    f0 = []
    for s in range(0, len(x) - n, sr // 100):
        fr = x[s:s + n] - x[s:s + n].mean()
        if np.sqrt(np.mean(fr ** 2)) < 0.3 * rms:
            continue
        ac = np.correlate(fr, fr, "full")[n - 1:]
        k = int(np.argmax(ac[lo:hi]))
        if ac[lo + k] > 0.5 * ac[0]:
            f0.append(sr / (lo + k))
    return float(np.median(f0)) if f0 else float("nan")


def formant_shift(x, factor, n_fft=512, hop=256, lifter=28):
    """Move x's spectral envelope along frequency by `factor` (> 1: formants up) and keep its
    fine structure (the harmonics, so F0) and phase: per STFT frame (sqrt-Hann analysis and
    synthesis windows, whose product overlap-adds to a constant, so x comes back exactly when
    nothing moves), the envelope is the log magnitude smoothed by keeping its first `lifter`
    cepstral coefficients (1.75 ms at 16 kHz: below the pitch period of any voice here), and the
    frame's magnitude is multiplied by exp(envelope(f / factor) - envelope(f)). Speed
    perturbation and the VTLP warp move the envelope and the harmonics together; this moves the
    vocal tract alone (another speaker at the same pitch). 2-4 ms of one core per second of
    audio on the 2-core development machine (README, the 2026-12-04 study). `factor` may also
    be knots ((hz, factor), ...) in increasing hz: a factor per frequency, interpolated between
    the knots and held beyond them, so that F1 and F2 can move by different amounts (a vocal
    tract of another shape, not only another length); the map stays monotone."""
    from scipy import fft as sfft

    x = np.asarray(x, np.float32)
    n = len(x)
    bent = not np.isscalar(factor)
    if bent:
        knots = np.asarray(factor, np.float64).reshape(-1, 2)
        if len(knots) == 0 or np.any(np.diff(knots[:, 0]) <= 0) or np.any(knots[:, 1] <= 0):
            raise ValueError(f"formant_shift: knots must be (hz, factor > 0) pairs in increasing hz, got {factor!r}")
        if n == 0 or np.all(np.abs(knots[:, 1] - 1.0) < 1e-6):
            return x
    elif n == 0 or abs(factor - 1.0) < 1e-6:
        return x
    over = n_fft // hop  # windows over each sample
    frames = -(-(n + n_fft) // hop)
    pad = np.zeros((frames + over - 1) * hop, np.float32)
    pad[n_fft - hop:n_fft - hop + n] = x
    w = np.sqrt(np.hanning(n_fft + 1)[:-1]).astype(np.float32)  # w^2 overlap-adds to over / 2
    spec = sfft.rfft(np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:frames] * w, axis=1)
    ceps = sfft.irfft(np.log(np.abs(spec) + 1e-6), n_fft, axis=1)
    ceps[:, lifter:n_fft - lifter + 1] = 0.0
    env = sfft.rfft(ceps, axis=1).real
    k = spec.shape[1]
    if bent:
        per_bin = np.interp(np.arange(k) * SR / n_fft, knots[:, 0], knots[:, 1])
        src = np.minimum(np.maximum.accumulate(np.arange(k) / per_bin), k - 1)
    else:
        src = np.minimum(np.arange(k) / factor, k - 1)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, k - 1)
    t = (src - i0).astype(np.float32)
    spec *= np.exp(env[:, i0] * (1 - t) + env[:, i1] * t - env)
    y = sfft.irfft(spec, n_fft, axis=1) * w
    out = np.zeros(len(pad), np.float32)
    for j in range(over):  # overlap-add: frame f's j-th hop-long piece lands at (f + j) * hop
        seg = y[:, j * hop:(j + 1) * hop].reshape(-1)
        out[j * hop:j * hop + len(seg)] += seg
    return (out[n_fft - hop:n_fft - hop + n] * (2.0 / over)).astype(np.float32)


WARP_STEP = 0.005  # VTLP warp factors are drawn on this grid (the GPU fbank caches a mel matrix per factor)


def spectral_eq(tilt, bumps, bins=80):
    """A smooth gain curve over the mel bins, in log-power units (added to log-mel features):
    a linear tilt from -tilt to +tilt across the band plus Gaussian bumps (centre bin, width
    in bins, amplitude). Stands for a different speaker's voice colour, microphone or room."""
    k = np.arange(bins, dtype=np.float64)
    eq = tilt * np.linspace(-1.0, 1.0, bins)
    for centre, width, amp in bumps:
        eq = eq + amp * np.exp(-0.5 * ((k - centre) / width) ** 2)
    return eq.astype(np.float32)


class Augmenter:
    """Random chain formant shift -> speed -> reverb -> noise -> gain on the waveform;
    probabilities and ranges in __init__. `speaker(rng)` draws the feature-side speaker transform
    applied in the fbank: vocal-tract-length perturbation (Kaldi's VTLN warp of the mel filterbank
    by a factor in `vtlp`, as in Jaitly & Hinton's VTLP) and a spectral EQ (`spectral_eq`). The
    synthetic voices are few (flite has four training voices), so every draw should sound like a
    new one. The formant shift (`formant_shift`, envelope only, F0 kept) applies to utterances of
    `formant_engines` (the engines of few voices; espeak-ng has 792 voice/variant pairs); with
    p_formant 0 (the default) it draws nothing, so the chain is the one before it bit for bit."""

    def __init__(self, p_speed=0.6, speed=(0.9, 1.1), p_reverb=0.3, rt60=(0.15, 0.8),
                 drr_db=(0.0, 12.0), p_noise=0.5, snr_db=(0.0, 30.0), p_babble=0.25,
                 gain_db=(-18.0, 4.0), p_vtlp=0.0, vtlp=(0.85, 1.15), p_eq=0.0, eq_tilt=0.6,
                 eq_bump=0.5, p_formant=0.0, formant=(0.8, 1.2), formant_engines=("flite", "festival", "rhvoice", "mbrola"),
                 p_bend=0.0, bend_hz=(500.0, 1500.0, 2500.0, 4000.0)):
        self.p_formant, self.formant, self.formant_engines = p_formant, formant, tuple(formant_engines)
        # a share of the formant shifts drawn with a factor per knot (`formant_shift`'s knots)
        self.p_bend, self.bend_hz = p_bend, tuple(bend_hz)
        self.p_speed, self.speed = p_speed, speed
        self.p_reverb, self.rt60, self.drr_db = p_reverb, rt60, drr_db
        self.p_noise, self.snr_db, self.p_babble = p_noise, snr_db, p_babble
        self.gain_db = gain_db
        self.p_vtlp, self.vtlp = p_vtlp, vtlp
        self.p_eq, self.eq_tilt, self.eq_bump = p_eq, eq_tilt, eq_bump

    def speaker(self, rng):
        """(warp factor, EQ curve (80,) or None, info): the fbank-side speaker transform."""
        info, warp, eq = {}, 1.0, None
        if rng.random() < self.p_vtlp:
            warp = round(float(rng.uniform(*self.vtlp)) / WARP_STEP) * WARP_STEP
            warp = round(warp, 3)
            info["vtlp"] = warp
        if rng.random() < self.p_eq:
            tilt = float(rng.uniform(-self.eq_tilt, self.eq_tilt))
            bumps = [(float(rng.uniform(0, 79)), float(rng.uniform(4, 16)),
                      float(rng.uniform(-self.eq_bump, self.eq_bump))) for _ in range(2)]
            eq = spectral_eq(tilt, bumps)
            info["eq_tilt"] = round(tilt, 3)
        return warp, eq, info

    def __call__(self, x, rng, babble_source=None, engine=None):
        """x: float32 in [-1, 1]. babble_source: callable(rng) -> another float32 utterance.
        engine: the utterance's engine (the formant shift applies to formant_engines; None: any)."""
        info = {}
        if self.p_formant > 0 and (engine is None or engine in self.formant_engines) \
                and rng.random() < self.p_formant:
            if self.p_bend > 0 and rng.random() < self.p_bend:  # p_bend 0 draws nothing more
                fs = [float(f) for f in rng.uniform(*self.formant, size=len(self.bend_hz))]
                x = formant_shift(x, list(zip(self.bend_hz, fs)))
                info["formant_bend"] = [round(f, 3) for f in fs]
            else:
                f = float(rng.uniform(*self.formant))
                x = formant_shift(x, f)
                info["formant"] = round(f, 3)
        if rng.random() < self.p_speed:
            f = float(rng.uniform(*self.speed))
            x = speed_perturb(x, f)
            info["speed"] = round(f, 3)
        if rng.random() < self.p_reverb:
            rt, drr = float(rng.uniform(*self.rt60)), float(rng.uniform(*self.drr_db))
            x = reverberate(x, exp_decay_ir(rt, drr, rng))
            info["rt60"], info["drr_db"] = round(rt, 3), round(drr, 1)
        if rng.random() < self.p_noise:
            snr = float(rng.uniform(*self.snr_db))
            if babble_source is not None and rng.random() < self.p_babble:
                noise = babble(len(x), [babble_source(rng) for _ in range(3)])
                kind = "babble"
            else:
                kind = ["white", "pink", "brown"][int(rng.integers(3))]
                noise = colored_noise(len(x), kind, rng)
            x = add_noise(x, noise, snr)
            info["noise"], info["snr_db"] = kind, round(snr, 1)
        g = float(rng.uniform(*self.gain_db))
        peak = float(np.max(np.abs(x))) + 1e-9
        x = np.clip(x * (10 ** (g / 20)) * (0.5 / peak), -1.0, 1.0).astype(np.float32)
        info["gain_db"] = round(g, 1)
        return x, info


# ------------------------------------------------------------------------------ shards

class ShardIndex:
    """All utterances of synthesize.py shards under `folder` (one split), audio memory-mapped."""

    def __init__(self, folder, max_seconds=None):
        self.audio, self.utts = [], []
        for j in sorted(glob.glob(os.path.join(folder, "shard-*.json"))):
            meta = json.load(open(j))
            if meta["sample_rate"] != SR:
                raise ValueError(f"{j}: sample_rate {meta['sample_rate']}, want {SR}")
            k = len(self.audio)
            self.audio.append(np.load(j[: -len(".json")] + ".npy", mmap_mode="r"))
            for u in meta["utts"]:
                if max_seconds is None or u["duration"] <= max_seconds:
                    self.utts.append((k, u))
        if not self.utts:
            raise ValueError(f"no shards (shard-*.json) under {folder}")

    def __len__(self):
        return len(self.utts)

    def waveform(self, i):
        """Utterance i as float32 in [-1, 1)."""
        k, u = self.utts[i]
        return np.asarray(self.audio[k][u["offset"]: u["offset"] + u["length"]],
                          dtype=np.float32) / 32768.0

    def meta(self, i):
        return self.utts[i][1]

    def hours(self):
        return sum(u["duration"] for _, u in self.utts) / 3600


try:
    from torch.utils.data import Dataset as _Dataset
except ImportError:  # numpy-only use: tests and machines without torch
    _Dataset = object


class SpeechShards(_Dataset):
    """torch Dataset: item i -> dict(feats [T, 80] float32, tokens [L] int64, text, meta).

    augment=None gives the clean utterance (evaluation); with an Augmenter, every draw is
    augmented anew, seeded by (seed, epoch, i) so that worker processes agree and an epoch can
    be replayed (call set_epoch at each epoch)."""

    def __init__(self, folder, augment=None, seed=0, max_seconds=16.0, pad_silence=0.0, features=True,
                 pad_none=0.0):
        """features=False: items carry the (augmented) waveform instead of its fbank, for
        gpu_fbank.fbank_batch on the training device (the loader's main cost otherwise).
        pad_none: the share of padded draws given no silence before the utterance, so that
        the model also learns speech that starts at once from its zero start state (with
        silence always before it, the shipped model missed such first words; 0 keeps the
        draws of the runs before 2026-12-05 exactly)."""
        self.index = ShardIndex(folder, max_seconds)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.pad_silence, self.pad_none = pad_silence, pad_none
        self.features = features

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        import torch
        from torchaudio.compliance import kaldi

        x = self.index.waveform(i)
        info = {}
        speed, warp, eq = 1.0, 1.0, None
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if self.pad_silence > 0:
                # silence around the utterance (noise is added over it below): the model learns
                # blanks and "no speech" on long pauses, as a live stream has them
                pre, post = (int(rng.uniform(0, self.pad_silence) * SR) for _ in range(2))
                if self.pad_none > 0 and rng.random() < self.pad_none:
                    pre = 0
                x = np.concatenate([np.zeros(pre, np.float32), x, np.zeros(post, np.float32)])
            clean_activity = activity_frames(x)
            n = len(self.index)
            x, info = self.augment(x, rng, lambda r: self.index.waveform(int(r.integers(n))),
                                   engine=self.index.meta(i).get("engine"))
            speed = info.get("speed", 1.0)
            warp, eq, spk = self.augment.speaker(rng)
            info.update(spk)
        else:
            clean_activity = activity_frames(x)
        wav = torch.from_numpy(np.round(x * 32768.0).clip(-32768, 32767)).float().unsqueeze(0)
        n_frames = 1 + (len(x) - 400) // 160 if len(x) >= 400 else 0
        # output frame j of audio played `speed` times faster is input frame j * speed
        src = np.clip(np.round(np.arange(n_frames) * speed).astype(np.int64), 0,
                      max(len(clean_activity) - 1, 0))
        vad = clean_activity[src] if len(clean_activity) else np.zeros(n_frames, np.float32)
        meta = self.index.meta(i)
        item = {"tokens": torch.tensor(encode_text(meta["text"]), dtype=torch.long),
                "vad": torch.from_numpy(vad.astype(np.float32)), "frames": n_frames,
                "text": meta["text"], "meta": {**meta, "augment": info}}
        if self.features:
            feats = kaldi.fbank(wav, **{**FBANK_OPTIONS, "vtln_warp": warp})
            item["feats"] = feats + torch.from_numpy(eq) if eq is not None and feats.shape[0] else feats
        else:
            item["wave"] = wav[0]
            item["warp"] = warp
            item["eq"] = torch.from_numpy(eq) if eq is not None else torch.zeros(80)
        return item


def collate(items, multiple=1):
    """Pad a list of items: feats [B, T, 80] (or, for items of features=False, waves [B, N]
    and wave_lens [B]), feat_lens [B] (frames), tokens [B, L] (0-padded), token_lens, vad
    [B, T]. T is rounded up to a multiple of `multiple` (4 for rwkv_speech_model.py's 4-frame
    groups: use functools.partial(collate, multiple=4))."""
    import torch

    b = len(items)
    t = max(it["frames"] if "frames" in it else it["feats"].shape[0] for it in items)
    t = -(-t // multiple) * multiple
    n = max(len(it["tokens"]) for it in items)
    toks = torch.zeros(b, n, dtype=torch.long)
    vad = torch.zeros(b, t)
    out = {}
    if "feats" in items[0]:
        feats = torch.zeros(b, t, items[0]["feats"].shape[1])
        for k, it in enumerate(items):
            feats[k, : it["feats"].shape[0]] = it["feats"]
        out["feats"] = feats
    else:
        waves = torch.zeros(b, max(len(it["wave"]) for it in items))
        for k, it in enumerate(items):
            waves[k, : len(it["wave"])] = it["wave"]
        out["waves"] = waves
        out["wave_lens"] = torch.tensor([len(it["wave"]) for it in items])
        if "warp" in items[0]:
            out["warps"] = torch.tensor([float(it["warp"]) for it in items])
            out["eqs"] = torch.stack([it["eq"] for it in items])
    for k, it in enumerate(items):
        toks[k, : len(it["tokens"])] = it["tokens"]
        if "vad" in it:
            vad[k, : len(it["vad"])] = it["vad"]
    frames = [it["frames"] if "frames" in it else it["feats"].shape[0] for it in items]
    return {**out, "feat_lens": torch.tensor(frames),
            "tokens": toks, "token_lens": torch.tensor([len(it["tokens"]) for it in items]),
            "vad": vad, "frames_padded": t,
            "texts": [it["text"] for it in items], "meta": [it["meta"] for it in items]}
