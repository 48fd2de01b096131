#!/usr/bin/env python3
"""Average exported speech models weight by weight (a "model soup").

    python3 training/audio/average_models.py A/model.safetensors B/model.safetensors [...] \
        --out OUT_DIR [--weights 0.5,0.5] [--grown] [--ctc-frames K]

Every input must be an `export_asr.py` file of the same config (tensor names, shapes and
dtypes equal): runs continued from one another, so their weights lie in one basin and their
average is a model too. Each tensor is averaged in float64 and stored back in its own dtype
(files read and written by training/rwkv7_lm.py's safetensors functions); the metadata is
the first input's (config, vocabulary, feature statistics) with each input's step, minutes
and hours moved into `averaged_from`, beside its weight. The exported stems already hold each
run's feature normalisation folded in, so the average is of the affine maps from raw
features, which is what the runtime applies.

With --ctc-frames K, a model whose CTC head has one frame a step is widened to K first (each
frame a copy of its head, as `train_asr.py --init ... --ctc-frames K` starts: the runtime reads
the same text from it), so a run trained with K frames from a one-frame model averages with it
(the shipped weights of 2026-12-07: runs 15 and 16).

Why: run 6 (speaker augmentation, formant shift, spectral masks) read unseen voices better
and unseen sentences worse than run 5, its starting point; the average keeps some of each
(training/audio/README.md, "Sixth run").
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from rwkv7_lm import load_safetensors, save_safetensors  # noqa: E402


class ModelMismatch(ValueError):
    """The inputs do not share one config and one set of tensors."""


def read_model(path):
    """(metadata dict, {name: tensor}) of an exported model, or ModelMismatch naming the file."""
    try:
        tensors, meta = load_safetensors(path)
    except (OSError, ValueError, KeyError, RuntimeError, IndexError, struct.error) as e:
        raise ModelMismatch(f'{path}: not a readable safetensors file ({e})') from e
    return meta, tensors


def _config_without_depth(meta):
    """The config of a model's metadata without enc_layers (None when it has no JSON config)."""
    try:
        cfg = json.loads(meta.get('config', ''))
    except ValueError:
        return None
    return {k: v for k, v in cfg.items() if k != 'enc_layers'} if isinstance(cfg, dict) else None


def ctc_frames_of(meta):
    """The CTC frames a step of a model's config (1 where it says none)."""
    try:
        cfg = json.loads(meta.get('config', ''))
    except ValueError:
        return 1
    return int(cfg.get('ctc_frames', 1)) if isinstance(cfg, dict) else 1


def widen_ctc(meta, tensors, frames, path):
    """(meta, tensors) with a one-frame CTC head widened to `frames` frames a step, each a copy;
    a model already at `frames` is returned as it is; any other head is a ModelMismatch."""
    have = ctc_frames_of(meta)
    if have == frames:
        return meta, tensors
    if have != 1:
        raise ModelMismatch(f'{path}: its CTC head has {have} frames a step; only a one-frame head widens to {frames}')
    if 'ctc.weight' not in tensors or 'ctc.bias' not in tensors:
        raise ModelMismatch(f'{path}: no CTC head (ctc.weight, ctc.bias) to widen')
    cfg = json.loads(meta['config'])
    cfg['ctc_frames'] = frames
    wide = dict(tensors)
    wide['ctc.weight'] = tensors['ctc.weight'].repeat(frames, 1)
    wide['ctc.bias'] = tensors['ctc.bias'].repeat(frames)
    return {**meta, 'config': json.dumps(cfg)}, wide


def average(paths, weights, grown=False, ctc_frames=None):
    """The weighted average of the models at `paths` as (metadata, tensors).

    ctc_frames: widen one-frame CTC heads to this many frames a step first (widen_ctc).

    grown: the models may differ in encoder depth alone (a run started with --grow-layers
    from one of the others): tensors every model has are averaged with `weights`; a tensor
    only the deeper models have (the blocks they added) is averaged over those models, their
    weights renormalised; the result has the deepest model's config and metadata."""
    if len(paths) < 2:
        raise ModelMismatch('give at least two models to average')
    if len(weights) != len(paths):
        raise ModelMismatch(f'{len(weights)} weights for {len(paths)} models')
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ModelMismatch(f'weights must be >= 0 with a positive sum, got {weights}')
    total = sum(weights)
    weights = [w / total for w in weights]
    models = [read_model(p) for p in paths]
    if ctc_frames is not None:
        if not isinstance(ctc_frames, int) or ctc_frames < 1:
            raise ModelMismatch(f'ctc frames must be a positive integer, not {ctc_frames!r}')
        models = [widen_ctc(m, t, ctc_frames, p) for p, (m, t) in zip(paths, models)]
    if grown:
        # the deepest model first: its config, metadata and tensor set are the result's
        deepest = max(range(len(models)), key=lambda i: len(models[i][1]))
        order = [deepest] + [i for i in range(len(models)) if i != deepest]
        paths, weights, models = [paths[i] for i in order], [weights[i] for i in order], [models[i] for i in order]
    meta0, t0 = models[0]
    for p, (meta, t) in zip(paths[1:], models[1:]):
        if grown:
            if _config_without_depth(meta) != _config_without_depth(meta0) or _config_without_depth(meta) is None:
                raise ModelMismatch(f'{p}: config {meta.get("config")} differs from {paths[0]}: '
                                    f'{meta0.get("config")} in more than enc_layers')
            if not set(t) <= set(t0):
                extra = sorted(set(t) - set(t0))[:5]
                raise ModelMismatch(f'{p}: tensors {paths[0]} lacks (e.g. {extra})')
        else:
            if meta.get('config') != meta0.get('config'):
                raise ModelMismatch(f'{p}: config {meta.get("config")} differs from {paths[0]}: {meta0.get("config")}')
            if set(t) != set(t0):
                extra = sorted(set(t) ^ set(t0))[:5]
                raise ModelMismatch(f'{p}: tensors differ from {paths[0]} (e.g. {extra})')
        for name in t:
            if t[name].shape != t0[name].shape or t[name].dtype != t0[name].dtype:
                raise ModelMismatch(f'{p}: tensor {name} is {t[name].dtype} {list(t[name].shape)}, '
                                    f'{paths[0]} has {t0[name].dtype} {list(t0[name].shape)}')
    out = {}
    for name, ref in t0.items():
        acc = torch.zeros(ref.shape, dtype=torch.float64)
        have = [(w, t) for w, (_, t) in zip(weights, models) if name in t]
        norm = sum(w for w, _ in have)
        if norm <= 0:
            raise ModelMismatch(f'{name}: only models of weight 0 have it')
        for w, t in have:
            acc += (w / norm) * t[name].double()
        out[name] = acc.to(ref.dtype)
    # one run's step, minutes and hours would misdescribe the average: they move into
    # averaged_from; the first input's feature statistics stay (they only unfold the stem
    # for more training, and any statistics refold to the same averaged stem)
    meta = {k: v for k, v in meta0.items() if k not in ('step', 'minutes_trained', 'hours_seen')}
    meta['averaged_from'] = json.dumps([
        {'file': os.path.basename(os.path.dirname(os.path.abspath(p))) + '/' + os.path.basename(p),
         'step': m.get('step'), 'minutes_trained': m.get('minutes_trained'),
         'hours_seen': m.get('hours_seen'), 'weight': round(w, 6),
         # an input that is itself an average keeps its own history
         **({'averaged_from': json.loads(m['averaged_from'])} if m.get('averaged_from') else {})}
        for p, w, (m, _) in zip(paths, weights, models)])
    return meta, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('models', nargs='+')
    ap.add_argument('--out', required=True, help='folder for model.safetensors')
    ap.add_argument('--weights', default='', help='comma-separated, one per model (default: equal)')
    ap.add_argument('--grown', action='store_true',
                    help='the models may differ in encoder depth (--grow-layers): blocks only the deeper '
                         'models have are averaged over those models')
    ap.add_argument('--ctc-frames', type=int, default=None,
                    help='widen one-frame CTC heads to this many frames a step (each a copy) before averaging')
    a = ap.parse_args()
    weights = [float(w) for w in a.weights.split(',')] if a.weights else [1.0] * len(a.models)
    try:
        meta, tensors = average(a.models, weights, grown=a.grown, ctc_frames=a.ctc_frames)
    except ModelMismatch as e:
        sys.exit(f'average_models.py: {e}')
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, 'model.safetensors')
    save_safetensors(tensors, path, meta)
    n = sum(t.numel() for t in tensors.values())
    print(f'{path}: {n:,} parameters averaged from {len(a.models)} models ({meta["averaged_from"]})')


if __name__ == '__main__':
    main()
