import { loadWeights, MissingTensorError, ShapeMismatchError, type WeightFile } from '@rwkv-streams/core';
import { type VrwkvLoadOptions, type VrwkvWeights, vrwkvFromWeights } from '../model/load-vrwkv.js';
import type { VrwkvSegConfig } from './config.js';

/** A segmenter's config and weights (official backbone names, `decode_head.*` for the head). */
export interface VrwkvSegWeights {
  readonly config: VrwkvSegConfig;
  readonly tensors: VrwkvWeights['tensors'];
}

/**
 * VRWKV backbone weights plus a `decode_head` (fc1, fc2 with biases) -> segmenter config.
 * The head's sizes are read off its shapes and checked against the backbone's (fc1 takes
 * the token and the patch's pixels; fc2 gives patchSize^2 pixels times the classes); a
 * missing or misshapen head tensor is a typed error naming it and the file.
 */
export function vrwkvSegFromWeights(file: WeightFile, options: VrwkvLoadOptions = {}): VrwkvSegWeights {
  const { config: backbone, tensors } = vrwkvFromWeights(file, options);
  const need = (name: string) => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`segmenter weights have no '${name}'`, { file: file.source, field: name });
    return t;
  };
  const P = backbone.patchSize;
  const inn = backbone.embedDims + backbone.inChannels * P * P;
  const fc1 = need('decode_head.fc1.weight');
  const fc2 = need('decode_head.fc2.weight');
  const hidden = fc1.shape[0]!;
  const out = fc2.shape[0]!;
  const numClasses = out / (P * P);
  const want: [string, readonly number[], readonly number[]][] = [
    ['decode_head.fc1.weight', fc1.shape, [hidden, inn]],
    ['decode_head.fc1.bias', need('decode_head.fc1.bias').shape, [hidden]],
    ['decode_head.fc2.weight', fc2.shape, [out, hidden]],
    ['decode_head.fc2.bias', need('decode_head.fc2.bias').shape, [out]],
  ];
  for (const [name, got, shape] of want)
    if (got.join(',') !== shape.join(','))
      throw new ShapeMismatchError(`'${name}' is [${got}], expected [${shape}]`, {
        file: file.source,
        field: name,
      });
  if (!Number.isInteger(numClasses) || numClasses < 2)
    throw new ShapeMismatchError(
      `decode_head.fc2 gives ${out} outputs, not a multiple of ${P * P} pixels x 2 or more classes`,
      { file: file.source, field: 'decode_head.fc2.weight' },
    );
  return { config: { backbone, headHidden: hidden, numClasses }, tensors };
}

/** `vrwkvSegFromWeights` of a file (safetensors, or .pth through the safe reader). */
export function loadVrwkvSegmenter(path: string, options: VrwkvLoadOptions = {}): VrwkvSegWeights {
  return vrwkvSegFromWeights(loadWeights(path), options);
}
