"""The rwkv-streams speech model in PyTorch, for training (GPU machine).

Mirrors packages/audio/src/model/ (speech-graphs.ts) name for name, so an exported
state_dict loads into the TypeScript runtime as it is:

    encoder.stem.weight (d, 2*S*F), encoder.stem.bias (d)   strided causal conv: kernel 2S frames, stride S
    encoder.blocks.<i>.*       RWKV-7 blocks (official x070 names; blocks.0.ln0 applied first)
    encoder.ln_out.weight/bias (d)
    ctc.weight (V, d), ctc.bias (V)
    predictor.emb.weight (V, p), predictor.blocks.<i>.*, predictor.ln_out.*
    joiner.enc.weight (j, d) / .bias, joiner.pred.weight (j, p) / .bias, joiner.out.weight (V, j) / .bias

Input: 80-bin Kaldi fbank frames (10 ms), grouped S = 4 to a step (40 ms). Each encoder step
sees its own group and the previous one (zeros before the first): a causal strided
convolution whose left context is the carried state `stem` of the streaming runtime.
The RWKV-7 blocks come from training/rwkv7_lm.py (chunked WKV-7 for training).
Symbols: 0 blank, 1 space, 2 apostrophe, 3.. a-z (packages/audio/src/decode/vocabulary.ts).
"""
import json
import os
import sys
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from rwkv7_lm import RWKV7, Config, save_safetensors  # noqa: E402

ALPHABET = ['', ' ', "'"] + [chr(c) for c in range(ord('a'), ord('z') + 1)]
BLANK = 0


@dataclass
class SpeechConfig:
    feature_dim: int = 80
    stack: int = 4
    vocab: int = len(ALPHABET)
    enc_layers: int = 8
    enc_dim: int = 256
    pred_layers: int = 1
    pred_dim: int = 256
    head_size: int = 64
    joiner_dim: int = 256
    enc: Config = field(init=False)
    pred: Config = field(init=False)

    def __post_init__(self):
        self.enc = Config(n_layer=self.enc_layers, n_embd=self.enc_dim, head_size=self.head_size, vocab_size=self.vocab)
        self.pred = Config(n_layer=self.pred_layers, n_embd=self.pred_dim, head_size=self.head_size,
                           vocab_size=self.vocab)

    def to_dict(self):
        d = asdict(self)
        d.pop('enc'), d.pop('pred')
        return d


def rwkv_blocks(cfg: Config) -> nn.ModuleList:
    """RWKV-7 blocks with the official training-time initialisation (from an LM built and dropped)."""
    lm = RWKV7(cfg)
    lm.init_official()
    return lm.blocks


def run_blocks(blocks, x, chunk=16, state=None):
    v_first, new_state = None, []
    for i, blk in enumerate(blocks):
        x, v_first, st = blk(x, v_first, chunk, None if state is None else state[i])
        new_state.append(st)
    return x, new_state


class SpeechEncoder(nn.Module):
    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.c = c
        self.stem = nn.Linear(2 * c.stack * c.feature_dim, c.enc_dim)
        self.blocks = rwkv_blocks(c.enc)
        self.ln_out = nn.LayerNorm(c.enc_dim)

    def forward(self, feats, state=None):
        """feats (B, T, F), T a multiple of S -> (B, T/S, d); state: None or (stem (B, S*F), blocks)."""
        B, T, Fd = feats.shape
        S = self.c.stack
        groups = feats.reshape(B, T // S, S * Fd)
        prev = torch.zeros_like(groups[:, :1]) if state is None else state[0].unsqueeze(1)
        shifted = torch.cat([prev, groups[:, :-1]], dim=1)
        x = torch.relu(self.stem(torch.cat([shifted, groups], dim=-1)))
        x, blocks_state = run_blocks(self.blocks, x, state=None if state is None else state[1])
        return self.ln_out(x), (groups[:, -1], blocks_state)


class SpeechPredictor(nn.Module):
    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.emb = nn.Embedding(c.vocab, c.pred_dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.blocks = rwkv_blocks(c.pred)
        self.ln_out = nn.LayerNorm(c.pred_dim)

    def forward(self, tokens):
        """tokens (B, U) -> (B, U + 1, p): the outputs before any symbol (fed the blank) and after each."""
        start = torch.full_like(tokens[:, :1], BLANK)
        x = self.emb(torch.cat([start, tokens], dim=1))
        x, _ = run_blocks(self.blocks, x)
        return self.ln_out(x)


class Joiner(nn.Module):
    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.enc = nn.Linear(c.enc_dim, c.joiner_dim)
        self.pred = nn.Linear(c.pred_dim, c.joiner_dim)
        self.out = nn.Linear(c.joiner_dim, c.vocab)

    def forward(self, enc, pred):
        """enc (B, T, d), pred (B, U + 1, p) -> logits (B, T, U + 1, V)."""
        return self.out(torch.tanh(self.enc(enc).unsqueeze(2) + self.pred(pred).unsqueeze(1)))


class SpeechModel(nn.Module):
    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.c = c
        self.encoder = SpeechEncoder(c)
        self.ctc = nn.Linear(c.enc_dim, c.vocab)
        self.predictor = SpeechPredictor(c)
        self.joiner = Joiner(c)

    def losses(self, feats, feat_lens, targets, target_lens):
        """CTC and transducer losses (means over the batch). feats (B, T, F) padded, T a multiple
        of S; feat_lens in frames; targets (B, U) int64 padded with 0; target_lens (B,)."""
        import torchaudio
        enc, _ = self.encoder(feats)
        enc_lens = torch.div(feat_lens, self.c.stack, rounding_mode='floor').clamp(max=enc.shape[1])
        log_probs = F.log_softmax(self.ctc(enc).float(), dim=-1)
        ctc = F.ctc_loss(log_probs.transpose(0, 1), targets, enc_lens, target_lens, blank=BLANK,
                         reduction='mean', zero_infinity=True)
        U = int(target_lens.max())
        logits = self.joiner(enc, self.predictor(targets[:, :U])).float()
        rnnt = torchaudio.functional.rnnt_loss(logits, targets[:, :U].int(), enc_lens.int(), target_lens.int(),
                                               blank=BLANK, reduction='mean')
        return ctc, rnnt

    def export(self, path, metadata=None):
        """The state_dict as float32 safetensors with the config in the metadata."""
        sd = {k: v.float() for k, v in self.state_dict().items()}
        meta = {'format': 'rwkv-streams-speech', 'config': json.dumps(self.c.to_dict())}
        meta.update(metadata or {})
        save_safetensors(sd, path, meta)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
