"""SpecAugment-style masking of a batch's log-mel features, on whatever device they are
(Park et al. 2019, without time warping): per utterance, a few bands of mel bins and a few
short spans of frames are replaced by the training set's per-bin mean, which the encoder's
normalisation maps to 0, so a masked region carries no information.

Why here: the 2026-12-04 study (README, "Toward the held-out flite voice") found the model
leaning on narrow bands (slt low-passed at 4 kHz read at 58% WER instead of 9.5%, awb
high-passed at 300 Hz at 53%), which is what frequency masking trains away; an unseen
speaker moves energy between bands. Time masks are short (at most 0.25 s), so the voice-
activity targets of the clean utterance stay meaningful around them.

Deterministic: the masks are drawn from a torch.Generator the caller seeds (train_asr.py
seeds it with (seed, step), so a resumed run draws what an uninterrupted one would).
"""
import torch


def spec_augment(feats, feat_lens, mean, gen, p=0.8, freq_masks=2, freq_width=10, time_masks=2,
                 time_width=25):
    """feats (B, T, F) float, feat_lens (B,) valid frames, mean (F,) the value a masked entry
    takes; gen a torch.Generator on the CPU. Each utterance is masked with probability p:
    `freq_masks` bands of 0..freq_width bins and `time_masks` spans of 0..time_width frames
    (within its valid frames). Returns (new feats, boolean mask (B, T, F) of what was replaced)."""
    B, T, F = feats.shape
    dev = feats.device
    if p <= 0 or B == 0:
        return feats, torch.zeros_like(feats, dtype=torch.bool)
    # all draws on the CPU generator, then moved: the same masks on any device
    on = torch.rand(B, generator=gen) < p
    fw = torch.randint(0, freq_width + 1, (B, freq_masks), generator=gen)
    f0 = (torch.rand(B, freq_masks, generator=gen) * (F - fw + 1)).floor().long()
    lens = feat_lens.detach().cpu().long().clamp(min=0, max=T)
    tw = torch.minimum(torch.randint(0, time_width + 1, (B, time_masks), generator=gen), lens[:, None])
    t0 = (torch.rand(B, time_masks, generator=gen) * (lens[:, None] - tw + 1)).floor().long()
    f = torch.arange(F)
    t = torch.arange(T)
    fmask = ((f[None, None] >= f0[..., None]) & (f[None, None] < (f0 + fw)[..., None])).any(1)  # (B, F)
    tmask = ((t[None, None] >= t0[..., None]) & (t[None, None] < (t0 + tw)[..., None])).any(1)  # (B, T)
    mask = (fmask[:, None, :] | tmask[:, :, None]) & on[:, None, None]
    mask = mask.to(dev)
    return torch.where(mask, mean.to(dev, feats.dtype)[None, None, :], feats), mask
