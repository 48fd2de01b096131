import {
  type HostTensor,
  loadWeights,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import { backboneShape, officialBackboneNames, positionGrid } from './backbone-shape.js';
import type { VrwkvConfig } from './config.js';

/** What the weights cannot say about a VRWKV. */
export interface VrwkvLoadOptions {
  /** Norm after each branch (the official `post_norm`; default false). */
  readonly postNorm?: boolean;
  /** Trained patch grid; default: square from the position embedding's length. */
  readonly patchResolution?: readonly [number, number];
  /** Q-Shift channel fraction per direction (default 1/4) and distance (default 1). */
  readonly channelGamma?: number;
  readonly shiftPixel?: number;
}

/** A VRWKV's config and its weights under the official names (no `backbone.` prefix). */
export interface VrwkvWeights {
  readonly config: VrwkvConfig;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

/**
 * Official VRWKV weights (an mmcls checkpoint's `state_dict`, with or without the
 * `backbone.` prefix, and its `head.fc` linear head if present) -> config + tensors.
 * Every tensor's shape is checked against the config the file implies; a missing or
 * misshapen tensor is a typed error naming it and the file.
 */
export function vrwkvFromWeights(file: WeightFile, options: VrwkvLoadOptions = {}): VrwkvWeights {
  const tensors = officialBackboneNames(file);
  const need = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`VRWKV weights have no '${name}'`, { file: file.source, field: name });
    return t;
  };
  const { embedDims: C, inChannels, patchSize, depth } = backboneShape(tensors, file.source, 'VRWKV');
  const hidden = need('layers.0.ffn.key.weight').shape[0]!;
  const pos = need('pos_embed');
  const grid = positionGrid(pos, options.patchResolution, file.source);
  const head = tensors.get('head.fc.weight');
  const config: VrwkvConfig = {
    embedDims: C,
    depth,
    patchSize,
    inChannels,
    patchResolution: grid,
    hiddenRate: hidden / C,
    keyNorm: tensors.has('layers.0.att.key_norm.weight'),
    layerScale: tensors.has('layers.0.gamma1'),
    postNorm: options.postNorm ?? false,
    finalNorm: tensors.has('ln1.weight'),
    channelGamma: options.channelGamma ?? 1 / 4,
    shiftPixel: options.shiftPixel ?? 1,
    numClasses: head ? head.shape[0]! : 0,
  };
  checkShapes(config, tensors, file.source);
  return { config, tensors };
}

/** `vrwkvFromWeights` of a file (.pth through the safe reader, or safetensors). */
export function loadVrwkvWeights(path: string, options: VrwkvLoadOptions = {}): VrwkvWeights {
  return vrwkvFromWeights(loadWeights(path), options);
}

/** Every tensor a VRWKV of `c` reads, with its shape (official names, no `backbone.` prefix). */
export function vrwkvTensorShapes(c: VrwkvConfig): Map<string, number[]> {
  const C = c.embedDims;
  const H = C * c.hiddenRate;
  const want = new Map<string, number[]>([
    ['patch_embed.projection.weight', [C, c.inChannels, c.patchSize, c.patchSize]],
    ['patch_embed.projection.bias', [C]],
    ['pos_embed', [1, c.patchResolution[0] * c.patchResolution[1], C]],
  ]);
  if (c.finalNorm) for (const p of ['weight', 'bias']) want.set(`ln1.${p}`, [C]);
  if (c.numClasses > 0) {
    want.set('head.fc.weight', [c.numClasses, C]);
    want.set('head.fc.bias', [c.numClasses]);
  }
  for (let l = 0; l < c.depth; l++) {
    const p = `layers.${l}`;
    for (const n of l === 0 ? ['ln0', 'ln1', 'ln2'] : ['ln1', 'ln2'])
      for (const s of ['weight', 'bias']) want.set(`${p}.${n}.${s}`, [C]);
    for (const n of ['spatial_decay', 'spatial_first']) want.set(`${p}.att.${n}`, [C]);
    for (const n of ['key', 'value', 'receptance', 'output']) want.set(`${p}.att.${n}.weight`, [C, C]);
    want.set(`${p}.ffn.key.weight`, [H, C]);
    want.set(`${p}.ffn.value.weight`, [C, H]);
    want.set(`${p}.ffn.receptance.weight`, [C, C]);
    if (c.shiftPixel > 0) {
      for (const n of ['spatial_mix_k', 'spatial_mix_v', 'spatial_mix_r'])
        want.set(`${p}.att.${n}`, [1, 1, C]);
      for (const n of ['spatial_mix_k', 'spatial_mix_r']) want.set(`${p}.ffn.${n}`, [1, 1, C]);
    }
    if (c.keyNorm)
      for (const s of ['weight', 'bias']) {
        want.set(`${p}.att.key_norm.${s}`, [C]);
        want.set(`${p}.ffn.key_norm.${s}`, [H]);
      }
    if (c.layerScale) for (const g of ['gamma1', 'gamma2']) want.set(`${p}.${g}`, [C]);
  }
  return want;
}

function checkShapes(c: VrwkvConfig, tensors: ReadonlyMap<string, HostTensor>, file: string): void {
  const want = vrwkvTensorShapes(c);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) throw new MissingTensorError(`VRWKV weights have no '${name}'`, { file, field: name });
    const got = t.shape.join(',');
    if (got !== shape.join(','))
      throw new ShapeMismatchError(`'${name}' is [${t.shape}], expected [${shape}]`, { file, field: name });
  }
}
