"""The rwkv-streams speech model in PyTorch, for training (GPU machine).

Mirrors packages/audio/src/model/ (speech-graphs.ts) name for name, so an exported
state_dict loads into the TypeScript runtime as it is:

    encoder.stem.weight (d, 2*S*F), encoder.stem.bias (d)   strided causal conv: kernel 2S frames, stride S
    encoder.blocks.<i>.*       RWKV-7 blocks (official x070 names; blocks.0.ln0 applied first)
    encoder.ln_out.weight/bias (d)
    ctc.weight (K*V, d), ctc.bias (K*V)   K = ctc_frames CTC frames a step (K*V logits: frame by frame)
    vad.weight (1, d), vad.bias (1)  voice-activity head: logit of "speech" per encoder step
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
    enc_ffn: int = 0  # channel-mix width (0: 4 x enc_dim, the official x070 width)
    pred_ffn: int = 0  # likewise for the prediction network
    # CTC frames an encoder step emits (K): at 40 ms a step, a character CTC runs short of frames
    # on fast speech (doubled letters need a blank between them), so K = 2 gives it 20 ms frames
    ctc_frames: int = 1
    enc: Config = field(init=False)
    pred: Config = field(init=False)

    def __post_init__(self):
        self.enc = Config(n_layer=self.enc_layers, n_embd=self.enc_dim, head_size=self.head_size, vocab_size=self.vocab,
                          dim_ffn=self.enc_ffn)
        self.pred = Config(n_layer=self.pred_layers, n_embd=self.pred_dim, head_size=self.head_size,
                           vocab_size=self.vocab, dim_ffn=self.pred_ffn)

    def to_dict(self):
        d = asdict(self)
        d.pop('enc'), d.pop('pred')
        return d


def rwkv_blocks(cfg: Config) -> nn.ModuleList:
    """RWKV-7 blocks with the official training-time initialisation (from an LM built and dropped)."""
    lm = RWKV7(cfg)
    lm.init_official()
    return lm.blocks


# Steps per chunk of the chunked WKV-7 (rwkv7_lm.wkv7_chunked) in training. The result is the
# same recurrence at any length (tests); only the cost moves: the scan over chunks is a
# Python loop of small matrix products (three launches a chunk, forward and backward), so
# longer chunks mean fewer launches for the host to issue, against more work inside each
# chunk (O(L^2) per chunk). 64 is the longest the bound on |log w| keeps inside float32.
WKV_CHUNK = 16
MAX_WKV_CHUNK = 64


def run_blocks(blocks, x, chunk=WKV_CHUNK, state=None):
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
        # Feature normalisation (per-bin mean and 1/std of the training set, tiled over the
        # 2S stacked frames), applied after the causal shift so that the zero left context of
        # the first step is raw zeros, as in the streaming runtime; export folds it into stem.
        self.register_buffer('feat_shift', torch.zeros(2 * c.stack * c.feature_dim))
        self.register_buffer('feat_scale', torch.ones(2 * c.stack * c.feature_dim))
        self.blocks = rwkv_blocks(c.enc)
        self.ln_out = nn.LayerNorm(c.enc_dim)
        self.wkv_chunk = WKV_CHUNK

    def forward(self, feats, state=None):
        """feats (B, T, F), T a multiple of S -> (B, T/S, d); state: None or (stem (B, S*F), blocks)."""
        B, T, Fd = feats.shape
        S = self.c.stack
        groups = feats.reshape(B, T // S, S * Fd)
        prev = torch.zeros_like(groups[:, :1]) if state is None else state[0].unsqueeze(1)
        shifted = torch.cat([prev, groups[:, :-1]], dim=1)
        stacked = (torch.cat([shifted, groups], dim=-1) - self.feat_shift) * self.feat_scale
        x = torch.relu(self.stem(stacked))
        x, blocks_state = run_blocks(self.blocks, x, self.wkv_chunk,
                                     state=None if state is None else state[1])
        return self.ln_out(x), (groups[:, -1], blocks_state)


class SpeechPredictor(nn.Module):
    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.emb = nn.Embedding(c.vocab, c.pred_dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.blocks = rwkv_blocks(c.pred)
        self.ln_out = nn.LayerNorm(c.pred_dim)
        self.wkv_chunk = WKV_CHUNK

    def forward(self, tokens):
        """tokens (B, U) -> (B, U + 1, p): the outputs before any symbol (fed the blank) and after each."""
        start = torch.full_like(tokens[:, :1], BLANK)
        x = self.emb(torch.cat([start, tokens], dim=1))
        x, _ = run_blocks(self.blocks, x, self.wkv_chunk)
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
        self.ctc = nn.Linear(c.enc_dim, c.vocab * c.ctc_frames)
        self.vad = nn.Linear(c.enc_dim, 1)
        self.predictor = SpeechPredictor(c)
        self.joiner = Joiner(c)

    def set_normalization(self, mean, std):
        """Per-bin feature mean and std (F,) of the training set."""
        reps = 2 * self.c.stack
        self.encoder.feat_shift.copy_(mean.float().repeat(reps))
        self.encoder.feat_scale.copy_(1.0 / std.float().clamp(min=1e-3).repeat(reps))

    def losses(self, feats, feat_lens, targets, target_lens, vad_frames=None):
        """CTC, transducer and voice-activity losses (means over the batch). feats (B, T, F)
        padded, T a multiple of S; feat_lens in frames; targets (B, U) int64 padded with 0;
        target_lens (B,); vad_frames (B, T) 0/1 per frame or None (then the VAD loss is 0).
        The lengths may be on the CPU (the trainer passes them so): the lattice sizes below are
        then read without waiting for the GPU, and the CTC loss takes them where it wants them."""
        enc, _ = self.encoder(feats)
        dev = feats.device
        enc_lens = torch.div(feat_lens, self.c.stack, rounding_mode='floor').clamp(max=enc.shape[1])
        enc_lens_d = enc_lens.to(dev, non_blocking=True)
        vad = torch.zeros((), device=dev)
        if vad_frames is not None:
            B, Te = enc.shape[0], enc.shape[1]
            target = vad_frames[:, :Te * self.c.stack].reshape(B, Te, self.c.stack).mean(-1)
            mask = (torch.arange(Te, device=dev)[None] < enc_lens_d[:, None]).float()
            bce = F.binary_cross_entropy_with_logits(self.vad(enc).float().squeeze(-1), target,
                                                     reduction='none')
            vad = (bce * mask).sum() / mask.sum().clamp(min=1)
        log_probs = self.ctc_log_probs(enc.float())
        ctc = F.ctc_loss(log_probs.transpose(0, 1), targets, self.ctc_lengths(enc_lens), target_lens, blank=BLANK,
                         reduction='mean', zero_infinity=True)
        U = int(target_lens.max())
        Tu = int(enc_lens.max())  # rnnt_loss wants the lattice exactly as long as the longest input
        logits = self.joiner(enc[:, :Tu], self.predictor(targets[:, :U])).float()
        rnnt = transducer_loss(logits, targets[:, :U], enc_lens_d, target_lens.to(dev, non_blocking=True))
        return ctc, rnnt, vad

    def ctc_log_probs(self, enc):
        """enc (B, T, d) -> CTC log-probabilities (B, T * K, V): the K frames of each step in order."""
        B, T = enc.shape[0], enc.shape[1]
        return F.log_softmax(self.ctc(enc).reshape(B, T * self.c.ctc_frames, self.c.vocab), dim=-1)

    def ctc_lengths(self, enc_lens):
        """CTC frames of sequences of `enc_lens` encoder steps (K a step)."""
        return enc_lens * self.c.ctc_frames

    def with_ctc_frames(self, frames):
        """This model with a CTC head of `frames` frames a step, each frame a copy of the one-frame
        head: its greedy CTC output is the same at first (a symbol repeated over a step's frames
        collapses to one), and training can then give doubled letters the frames they need."""
        if self.c.ctc_frames != 1:
            raise ValueError(f'the CTC head already has {self.c.ctc_frames} frames a step: widen only a one-frame head')
        if not isinstance(frames, int) or frames < 1:
            raise ValueError(f'ctc frames must be a positive integer, not {frames!r}')
        wider = SpeechModel(SpeechConfig(**{**self.c.to_dict(), 'ctc_frames': frames}))
        sd = self.state_dict()
        sd['ctc.weight'] = sd['ctc.weight'].repeat(frames, 1)
        sd['ctc.bias'] = sd['ctc.bias'].repeat(frames)
        wider.load_state_dict(sd)
        return wider

    def inference_state_dict(self, dtype=torch.float32):
        """The weights the runtime reads: the feature normalisation folded into the stem
        (W' = W diag(scale), b' = b - W' shift), buffers dropped."""
        sd = {k: v.detach().float().cpu() for k, v in self.state_dict().items()}
        shift, scale = sd.pop('encoder.feat_shift'), sd.pop('encoder.feat_scale')
        w = sd['encoder.stem.weight'] * scale[None, :]
        sd['encoder.stem.bias'] = sd['encoder.stem.bias'] - w @ shift
        sd['encoder.stem.weight'] = w
        return {k: v.to(dtype).contiguous() for k, v in sd.items()}

    @staticmethod
    def from_exported(path, mean=None, std=None):
        """A model from an exported safetensors file (to continue training a shipped model).
        The export folded the feature normalisation into the stem; this unfolds it again
        (W = W' / scale, b = b' + W' shift), with `mean` and `std` (F,) when given, else the
        statistics recorded in the file's metadata (exports before 2026-12-03 have none) (any reasonable ones: the
        function is the same; what matters is that the stem sees normalised features again, or
        one Adam step on raw features of mean ~13 wrecks it). The weights as stored (fp16 ones
        widened to fp32)."""
        from rwkv7_lm import load_safetensors
        sd, meta = load_safetensors(path)
        if meta.get('format') != 'rwkv-streams-speech':
            raise ValueError(f"{path}: not an exported speech model (metadata format {meta.get('format')!r})")
        model = SpeechModel(SpeechConfig(**json.loads(meta['config'])))
        sd = {k: v.float() for k, v in sd.items()}
        if mean is None and 'feature_mean' in meta:
            mean = torch.tensor(json.loads(meta['feature_mean']))
            std = torch.tensor(json.loads(meta['feature_std']))
        if mean is None or std is None:
            raise ValueError(f'{path} records no feature statistics: give mean and std')
        model.set_normalization(mean, std)
        shift, scale = model.encoder.feat_shift, model.encoder.feat_scale
        w = sd['encoder.stem.weight']
        sd['encoder.stem.bias'] = sd['encoder.stem.bias'] + w @ shift
        sd['encoder.stem.weight'] = w / scale[None, :]
        sd['encoder.feat_shift'], sd['encoder.feat_scale'] = shift.clone(), scale.clone()
        model.load_state_dict(sd)
        return model

    def set_wkv_chunk(self, steps):
        """Train with chunks of `steps` (1..MAX_WKV_CHUNK) in the encoder's and the prediction
        network's chunked WKV-7: the same function (up to float32 rounding), another cost."""
        if not isinstance(steps, int) or not 1 <= steps <= MAX_WKV_CHUNK:
            raise ValueError(f'wkv chunk must be an integer from 1 to {MAX_WKV_CHUNK}, not {steps!r}')
        self.encoder.wkv_chunk = steps
        self.predictor.wkv_chunk = steps
        return self

    def set_wkv_kernel(self, kernel):
        """Evaluate every block's WKV-7 with 'chunked' (wkv7_chunked: many small operations,
        any device) or 'fused' (wkv7_cuda.wkv7_fused: one kernel forward and one backward a
        block, for the GPU; the same function up to float32 rounding)."""
        if kernel not in ('chunked', 'fused'):
            raise ValueError(f"wkv kernel must be 'chunked' or 'fused', not {kernel!r}")
        for blocks in (self.encoder.blocks, self.predictor.blocks):
            for blk in blocks:
                blk.att.wkv_kernel = kernel
        return self

    def grown(self, extra_layers):
        """This model with `extra_layers` more encoder blocks after its own, computing the same
        function: a block fresh from the official initialisation has zero output projections
        (att.output, ffn.value), so it adds nothing to the residual stream until training moves
        them. A way to add capacity to a trained model without starting over."""
        if extra_layers < 1:
            raise ValueError(f'extra_layers must be at least 1, not {extra_layers}')
        cfg = SpeechConfig(**{**self.c.to_dict(), 'enc_layers': self.c.enc_layers + extra_layers})
        bigger = SpeechModel(cfg)
        missing, unexpected = bigger.load_state_dict(self.state_dict(), strict=False)
        new = {f'encoder.blocks.{i}.' for i in range(self.c.enc_layers, cfg.enc_layers)}
        stray = [k for k in missing if not any(k.startswith(p) for p in new)]
        if unexpected or stray:
            raise ValueError(f'growing the encoder left weights unmatched: {unexpected or stray}')
        for blk in bigger.encoder.blocks[self.c.enc_layers:]:
            assert not blk.att.output.weight.any() and not blk.ffn.value.weight.any()
        return bigger

    def export(self, path, metadata=None, dtype=torch.float32):
        """The inference weights as safetensors with the config in the metadata."""
        sd = self.inference_state_dict(dtype)
        F = self.c.feature_dim
        meta = {'format': 'rwkv-streams-speech', 'config': json.dumps(self.c.to_dict()),
                # the normalisation folded into the stem, so that training can unfold it
                'feature_mean': json.dumps(self.encoder.feat_shift[:F].tolist()),
                'feature_std': json.dumps((1.0 / self.encoder.feat_scale[:F]).tolist())}
        meta.update(metadata or {})
        save_safetensors(sd, path, meta)


def transducer_loss(logits, targets, logit_lens, target_lens):
    """Mean transducer (RNN-T) loss: torchaudio's kernel when this torchaudio has it, else
    transducer_loss_torch (the same value)."""
    try:
        from torchaudio.functional import rnnt_loss
    except ImportError:
        rnnt_loss = None
    if rnnt_loss is None:
        return transducer_loss_torch(logits, targets, logit_lens, target_lens)
    return rnnt_loss(logits, targets.int(), logit_lens.int(), target_lens.int(), blank=BLANK, reduction='mean')


def transducer_loss_torch(logits, targets, logit_lens, target_lens):
    """The RNN-T loss in plain PyTorch (differentiable): logits (B, T, U + 1, V), targets (B, U).
    Forward variable over the lattice, one time step at a time with the label axis done at once:
    alpha[t, u] = E[u] + logcumsumexp_v (alpha[t-1, v] + blank[t-1, v] - E[v]), E the prefix sums
    of the emission log-probabilities at step t."""
    B, T, U1, _ = logits.shape
    lp = logits.float().log_softmax(-1)
    blank = lp[..., BLANK]                                                      # (B, T, U+1)
    emit = lp[:, :, :-1].gather(-1, targets[:, None, :U1 - 1, None].expand(B, T, U1 - 1, 1)).squeeze(-1)
    zero = torch.zeros(B, T, 1, device=lp.device)
    E = torch.cat([zero, emit.cumsum(-1)], -1)                                  # (B, T, U+1)
    alpha = E[:, 0]                                                             # t = 0: only emissions
    alphas = [alpha]
    for t in range(1, T):
        alpha = E[:, t] + torch.logcumsumexp(alpha + blank[:, t - 1] - E[:, t], -1)
        alphas.append(alpha)
    alphas = torch.stack(alphas, 1)                                             # (B, T, U+1)
    b = torch.arange(B, device=lp.device)
    tl, ul = logit_lens.long() - 1, target_lens.long()
    ll = alphas[b, tl, ul] + blank[b, tl, ul]
    return -ll.mean()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
