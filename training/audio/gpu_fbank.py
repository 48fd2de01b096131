"""Kaldi fbank for a padded batch of waveforms, on any device (the training GPU).

The DataLoader workers were the limit of training (GPU 55% busy, 10-15 processes computing
augmentation and torchaudio.compliance.kaldi.fbank one utterance at a time); this computes
exactly that fbank (data.FBANK_OPTIONS: snip_edges, no dither, DC removal, pre-emphasis 0.97,
povey window, 512-point power spectrum, 80 mel bins from 20 Hz to Nyquist, log with
float epsilon floor) for a whole batch in a few kernels. test_pipeline.py checks it against
kaldi.fbank per utterance.
"""
import torch
import torch.nn.functional as F

WIN, HOP, NFFT, BINS = 400, 160, 512, 80
_CACHE = {}


def _mel_t(device, warp=1.0):
    """(257, 80) mel matrix, the filterbank warped by a VTLN factor (Kaldi's piecewise-linear
    warp with low cut-off 100 Hz and high cut-off Nyquist - 500 Hz, kaldi.fbank's defaults)."""
    key = (str(device), round(float(warp), 6))
    if key not in _CACHE:
        from torchaudio.compliance import kaldi
        mel, _ = kaldi.get_mel_banks(BINS, NFFT, 16000.0, 20.0, 0.0, 100.0, -500.0, float(warp))  # (80, 256)
        mel = F.pad(mel.float(), (0, 1))  # the Nyquist bin has no weight (Kaldi's layout)
        _CACHE[key] = mel.t().contiguous().to(device)
    return _CACHE[key]


def _window(device):
    key = (str(device), 'window')
    if key not in _CACHE:
        _CACHE[key] = torch.hann_window(WIN, periodic=False, dtype=torch.float64).pow(0.85).float().to(device)
    return _CACHE[key]


def frame_count(n):
    """Frames of n samples with snip_edges (0 when shorter than a window)."""
    return 0 if n < WIN else 1 + (n - WIN) // HOP


def fbank_batch(waves, lengths, warps=None, eqs=None):
    """waves (B, N) float, int16 scale (zero-padded); lengths (B,) samples ->
    (feats (B, T, 80) float32, frames (B,) int64); frames past an utterance's end are zero.
    warps (B,): a VTLN warp factor per utterance (kaldi.fbank's vtln_warp; None: 1.0, no warp);
    eqs (B, 80): log-power gains added per mel bin (data.spectral_eq; None: none)."""
    window = _window(waves.device)
    waves = waves.float()
    if waves.shape[1] < WIN:
        waves = F.pad(waves, (0, WIN - waves.shape[1]))
    frames = waves.unfold(1, WIN, HOP)                               # (B, T, 400)
    frames = frames - frames.mean(-1, keepdim=True)
    prev = torch.cat([frames[..., :1], frames[..., :-1]], -1)
    frames = (frames - 0.97 * prev) * window
    spec = torch.fft.rfft(frames, n=NFFT)                            # (B, T, 257)
    power = spec.real.square() + spec.imag.square()
    if warps is None or bool((warps == 1.0).all()):
        mel = power @ _mel_t(waves.device)
    else:
        mel_b = torch.stack([_mel_t(waves.device, w) for w in warps.tolist()])  # (B, 257, 80)
        mel = torch.bmm(power, mel_b)
    feats = torch.log(torch.clamp(mel, min=torch.finfo(torch.float32).eps))
    if eqs is not None:
        feats = feats + eqs.to(feats.device, feats.dtype)[:, None, :]
    n = torch.tensor([frame_count(int(x)) for x in lengths], device=waves.device)
    mask = torch.arange(feats.shape[1], device=waves.device)[None] < n[:, None]
    return feats * mask[..., None], n
