"""Parity fixture for the speech model: PyTorch (rwkv_speech_model.py) vs the TS runtime.

    python3 training/audio/make_speech_parity_fixture.py OUT_DIR [STACK]

A small random model (every weight perturbed, so no term is zero as at initialisation),
a random fbank input and what PyTorch computes for it: the encoder output and CTC logits
(whole input at once), the prediction network's outputs for a symbol sequence, and the
joiner's logits for one encoder step against each of them. Written as float32 raw files
plus model.safetensors (the export: normalisation folded into the stem) and fixture.json (shapes and names); packages/audio's parity test
reads them.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rwkv_speech_model import SpeechConfig, SpeechModel  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
# STACK: frames per encoder step (4, the shipped models'; 3 checks that nothing assumes 4)
stack = int(sys.argv[2]) if len(sys.argv) > 2 else 4
c = SpeechConfig(enc_layers=2, enc_dim=64, pred_layers=1, pred_dim=64, head_size=32, joiner_dim=32, stack=stack)
model = SpeechModel(c)
with torch.no_grad():
    for name, p in model.named_parameters():
        p.add_(0.05 * torch.randn_like(p))
    # a normalisation far from identity, so the export's folding into the stem is exercised
    model.set_normalization(torch.rand(c.feature_dim) * 6 + 8, torch.rand(c.feature_dim) * 3 + 2)
model.eval()

T = 16 * stack  # frames (16 encoder steps)
feats = torch.randn(1, T, c.feature_dim) * 3 - 8
tokens = torch.tensor([[5, 1, 9, 2, 20]])
with torch.no_grad():
    enc, _ = model.encoder(feats)
    ctc = model.ctc(enc)
    vad = model.vad(enc)[..., 0]
    pred = model.predictor(tokens)  # (1, U + 1, p)
    joint = model.joiner(enc[:, 3:4], pred)[0, 0]  # (U + 1, V)

model.export(os.path.join(out, 'model.safetensors'))


def raw(name, t):
    t.detach().float().contiguous().numpy().tofile(os.path.join(out, name + '.f32'))
    return list(t.shape)


meta = {
    'config': c.to_dict(),
    'tokens': tokens[0].tolist(),
    'shapes': {
        'feats': raw('feats', feats[0]),
        'encoder_out': raw('encoder_out', enc[0]),
        'ctc_logits': raw('ctc_logits', ctc[0]),
        'vad_logits': raw('vad_logits', vad[0]),
        'pred_out': raw('pred_out', pred[0]),
        'joiner_logits_step3': raw('joiner_logits_step3', joint),
    },
    'computed': 'PyTorch float32 (chunked WKV-7 of training/rwkv7_lm.py)',
}
json.dump(meta, open(os.path.join(out, 'fixture.json'), 'w'), indent=1)
print(json.dumps(meta['shapes']))
