import {
  type HostTensor,
  loadWeights,
  MissingTensorError,
  ShapeMismatchError,
  type WeightFile,
} from '@rwkv-streams/core';
import { backboneShape, officialBackboneNames, positionGrid } from './backbone-shape.js';
import { type VrwkvLoadOptions, type VrwkvWeights, vrwkvFromWeights } from './load-vrwkv.js';
import type { Vrwkv6Config } from './vrwkv6-config.js';

/** What the weights cannot say about a VRWKV6. */
export interface Vrwkv6LoadOptions {
  /** Norm after each branch (the official `post_norm`: true in the -S and -B configs). */
  readonly postNorm?: boolean;
  /** Trained patch grid; default: square from the position embedding's length. */
  readonly patchResolution?: readonly [number, number];
  /** Q-Shift distance in patches (default 1). */
  readonly shiftPixel?: number;
}

/** A VRWKV6's config and its weights under the official names (no `backbone.` prefix). */
export interface Vrwkv6Weights {
  readonly config: Vrwkv6Config;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

/**
 * Official VRWKV6 weights (an mmcls checkpoint's `state_dict`, with or without the
 * `backbone.` prefix, and its `head.fc` linear head if present) -> config + tensors.
 * Sizes (width, heads, depth, patch, FFN rate, LoRA ranks) and switches (key norm, layer
 * scale, final norm, class token, head) are read off the shapes; every tensor's shape is
 * checked; a missing or misshapen tensor is a typed error naming it and the file.
 */
export function vrwkv6FromWeights(file: WeightFile, options: Vrwkv6LoadOptions = {}): Vrwkv6Weights {
  const tensors = officialBackboneNames(file);
  const need = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t)
      throw new MissingTensorError(`VRWKV6 weights have no '${name}'`, { file: file.source, field: name });
    return t;
  };
  const { embedDims: C, inChannels, patchSize, depth } = backboneShape(tensors, file.source, 'VRWKV6');
  const faaaa = need('layers.0.att.time_faaaa');
  const [numHeads, headSize] = faaaa.shape as [number, number];
  if (faaaa.shape.length !== 2 || numHeads * headSize !== C || headSize % 4 !== 0)
    throw new ShapeMismatchError(
      `layers.0.att.time_faaaa is [${faaaa.shape}]: expected [heads, head size] with heads x head size = ${C} and a head size that is a multiple of 4 (Q-shift quarters)`,
      { file: file.source, field: 'layers.0.att.time_faaaa' },
    );
  const hidden = need('layers.0.ffn.key.weight').shape[0]!;
  const mixLora = need('layers.0.att.time_maa_w2').shape[1]!;
  const decayLora = need('layers.0.att.time_decay_w1').shape[1]!;
  const pos = need('pos_embed');
  const grid = positionGrid(pos, options.patchResolution, file.source);
  const head = tensors.get('head.fc.weight');
  const config: Vrwkv6Config = {
    version: 6,
    embedDims: C,
    numHeads,
    depth,
    patchSize,
    inChannels,
    patchResolution: grid,
    hiddenRate: hidden / C,
    keyNorm: tensors.has('layers.0.att.key_norm.weight'),
    layerScale: tensors.has('layers.0.gamma1'),
    postNorm: options.postNorm ?? false,
    finalNorm: tensors.has('ln1.weight'),
    withClsToken: tensors.has('cls_token'),
    shiftPixel: options.shiftPixel ?? 1,
    mixLoraDim: mixLora,
    decayLoraDim: decayLora,
    numClasses: head ? head.shape[0]! : 0,
  };
  checkShapes(config, tensors, file.source);
  return { config, tensors };
}

/** `vrwkv6FromWeights` of a file (.pth through the safe reader, or safetensors). */
export function loadVrwkv6Weights(path: string, options: Vrwkv6LoadOptions = {}): Vrwkv6Weights {
  return vrwkv6FromWeights(loadWeights(path), options);
}

/** Whether official Vision-RWKV weights are a VRWKV6 (RWKV-6 blocks: `time_faaaa`). */
export function isVrwkv6Weights(file: WeightFile): boolean {
  for (const name of officialBackboneNames(file).keys()) if (name.endsWith('att.time_faaaa')) return true;
  return false;
}

/**
 * Either family's weights from a file, told apart by their tensors: VRWKV6 (RWKV-6
 * blocks) or VRWKV (RWKV-4 style). The result goes to `new VrwkvModel(config, tensors)`.
 * Options the file's family does not have are ignored.
 */
export function loadVisionRwkvWeights(
  path: string,
  options: VrwkvLoadOptions & Vrwkv6LoadOptions = {},
): VrwkvWeights | Vrwkv6Weights {
  const file = loadWeights(path);
  return isVrwkv6Weights(file) ? vrwkv6FromWeights(file, options) : vrwkvFromWeights(file, options);
}

function checkShapes(c: Vrwkv6Config, tensors: ReadonlyMap<string, HostTensor>, file: string): void {
  const C = c.embedDims;
  const F = C * c.hiddenRate;
  const D = c.mixLoraDim;
  const want = new Map<string, number[]>([
    ['patch_embed.projection.bias', [C]],
    ['pos_embed', [1, c.patchResolution[0] * c.patchResolution[1], C]],
  ]);
  if (c.finalNorm) for (const p of ['weight', 'bias']) want.set(`ln1.${p}`, [C]);
  if (c.withClsToken) want.set('cls_token', [1, 1, C]);
  if (c.numClasses > 0) {
    want.set('head.fc.weight', [c.numClasses, C]);
    want.set('head.fc.bias', [c.numClasses]);
  }
  for (let l = 0; l < c.depth; l++) {
    const p = `layers.${l}`;
    for (const n of l === 0 ? ['ln0', 'ln1', 'ln2'] : ['ln1', 'ln2'])
      for (const s of ['weight', 'bias']) want.set(`${p}.${n}.${s}`, [C]);
    for (const n of ['x', 'w', 'k', 'v', 'r', 'g']) want.set(`${p}.att.time_maa_${n}`, [1, 1, C]);
    want.set(`${p}.att.time_maa_w1`, [C, 5 * D]);
    want.set(`${p}.att.time_maa_w2`, [5, D, C]);
    want.set(`${p}.att.time_decay`, [1, 1, C]);
    want.set(`${p}.att.time_decay_w1`, [C, c.decayLoraDim]);
    want.set(`${p}.att.time_decay_w2`, [c.decayLoraDim, C]);
    want.set(`${p}.att.time_faaaa`, [c.numHeads, C / c.numHeads]);
    for (const n of ['key', 'value', 'receptance', 'gate', 'output'])
      want.set(`${p}.att.${n}.weight`, [C, C]);
    for (const s of ['weight', 'bias']) want.set(`${p}.att.ln_x.${s}`, [C]);
    for (const n of ['spatial_mix_k', 'spatial_mix_r']) want.set(`${p}.ffn.${n}`, [1, 1, C]);
    want.set(`${p}.ffn.key.weight`, [F, C]);
    want.set(`${p}.ffn.value.weight`, [C, F]);
    want.set(`${p}.ffn.receptance.weight`, [C, C]);
    if (c.keyNorm)
      for (const s of ['weight', 'bias']) {
        want.set(`${p}.att.key_norm.${s}`, [C]);
        want.set(`${p}.ffn.key_norm.${s}`, [F]);
      }
    if (c.layerScale) for (const g of ['gamma1', 'gamma2']) want.set(`${p}.${g}`, [C]);
  }
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) throw new MissingTensorError(`VRWKV6 weights have no '${name}'`, { file, field: name });
    if (t.shape.join(',') !== shape.join(','))
      throw new ShapeMismatchError(`'${name}' is [${t.shape}], expected [${shape}]`, { file, field: name });
  }
}
