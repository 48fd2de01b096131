"""Writes the fbank parity fixture of @rwkv-streams/audio (packages/audio/fixtures/fbank/).

Run on the GPU machine (torchaudio is there; the GPU itself is not needed):

    python3 training/audio/make_fbank_fixture.py OUTDIR

For a few synthetic 16 kHz waveforms it writes
  NAME.wav            the input, mono 16-bit PCM (what both sides read),
  NAME.fbank32.bin    torchaudio.compliance.kaldi.fbank on the float32 waveform (little-endian float32),
  NAME.fbank64.bin    the same on the float64 waveform (little-endian float64),
and manifest.json (options, versions, frame counts). The waveform given to torchaudio is in the
int16 range (the Kaldi convention): sample / 32768 * 32768, i.e. the integers stored in the WAV.
Deterministic: numpy's default_rng(20261124).
"""

import json
import math
import os
import sys
import wave

import numpy as np
import torch
import torchaudio
from torchaudio.compliance import kaldi

RATE = 16000
OPTIONS = dict(
    num_mel_bins=80,
    frame_length=25.0,
    frame_shift=10.0,
    dither=0.0,
    preemphasis_coefficient=0.97,
    remove_dc_offset=True,
    window_type="povey",
    round_to_power_of_two=True,
    snip_edges=True,
    use_energy=False,
    use_log_fbank=True,
    use_power=True,
    low_freq=20.0,
    high_freq=0.0,
    energy_floor=1.0,
    sample_frequency=16000.0,
)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def signals(rng: np.random.Generator) -> dict:
    t = lambda n: np.arange(n) / RATE  # noqa: E731
    out = {}
    n = 8000
    out["tones"] = 0.4 * np.sin(2 * math.pi * 440 * t(n)) + 0.2 * np.sin(2 * math.pi * 3000 * t(n) + 0.3)
    n = 4800
    out["pure_tone"] = 0.5 * np.sin(2 * math.pi * 1000 * t(n))
    out["noise"] = 0.1 * rng.standard_normal(16000)
    out["silence"] = np.zeros(4800)
    out["one_frame"] = 0.2 * rng.standard_normal(400)
    out["short_559"] = 0.05 * rng.standard_normal(559) + 0.3  # DC offset too
    # 3 s: an amplitude-modulated chirp 100 -> 6000 Hz over noise at -40 dB, with 0.5 s of
    # digital silence in the middle (the log floor) and a 1-LSB dither stretch (near the floor).
    n = 3 * RATE
    tt = t(n)
    f0, f1 = 100.0, 6000.0
    phase = 2 * math.pi * (f0 * tt + (f1 - f0) / (2 * 3.0) * tt**2)
    env = 0.5 * (1 + np.sin(2 * math.pi * 3.0 * tt)) * 0.6
    x = env * np.sin(phase) + 0.01 * rng.standard_normal(n)
    x[20000:28000] = 0.0
    x[28000:30000] = rng.integers(-1, 2, 2000) / 32767.0
    out["long"] = x
    return out


def write_wav(path: str, pcm: np.ndarray) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


def main() -> None:
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20261124)
    manifest = {
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "function": "torchaudio.compliance.kaldi.fbank",
        "options": OPTIONS,
        "input_scale": "waveform = int16 samples as float (the Kaldi convention)",
        "cases": [],
    }
    for name, x in signals(rng).items():
        pcm = to_int16(x)
        write_wav(os.path.join(outdir, f"{name}.wav"), pcm)
        for dtype, suffix in ((torch.float32, "fbank32"), (torch.float64, "fbank64")):
            wav = torch.from_numpy(pcm.astype(np.float64)).to(dtype).unsqueeze(0)
            feats = kaldi.fbank(wav, **OPTIONS)
            arr = feats.numpy().astype("<f4" if dtype == torch.float32 else "<f8")
            arr.tofile(os.path.join(outdir, f"{name}.{suffix}.bin"))
        manifest["cases"].append({"name": name, "samples": int(pcm.size), "frames": int(feats.shape[0])})
        print(name, pcm.size, tuple(feats.shape), float(feats.min()), float(feats.max()))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


if __name__ == "__main__":
    main()
