import { type HostTensor, hostTensor, SeededRandom } from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { vrwkvTensorShapes } from './load-vrwkv.js';

/** The official VRWKV-T and -S ImageNet backbones (224 pixels, 16-pixel patches), no head. */
export const VRWKV_SIZES: Readonly<Record<'tiny' | 'small', VrwkvConfig>> = {
  tiny: vrwkvConfig(192),
  small: vrwkvConfig(384),
};

function vrwkvConfig(embedDims: number): VrwkvConfig {
  return {
    embedDims,
    depth: 12,
    patchSize: 16,
    inChannels: 3,
    patchResolution: [14, 14],
    hiddenRate: 4,
    keyNorm: false,
    layerScale: false,
    postNorm: false,
    finalNorm: true,
    channelGamma: 1 / 4,
    shiftPixel: 1,
    numClasses: 0,
  };
}

/**
 * Random weights with the official names and shapes of a VRWKV of `config` (for
 * benchmarks and tests of speed and memory, which do not depend on the values): matrices
 * uniform in +-1/sqrt(fan-in), norms 1 and 0, mixes in (0, 1), decays and bonuses as the
 * official initialisation spreads them.
 */
export function randomVrwkvWeights(config: VrwkvConfig, seed = 1): Map<string, HostTensor> {
  const rng = new SeededRandom(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of vrwkvTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    const fill = (f: (i: number) => number) =>
      hostTensor(
        shape,
        Float32Array.from({ length: n }, (_, i) => f(i)),
      );
    let t: HostTensor;
    if (/^ln\d$|key_norm/.test(name.split('.').at(-2) ?? '') || name.startsWith('ln1.'))
      t = fill(() => (leaf === 'weight' ? 1 : 0));
    else if (leaf === 'spatial_decay') t = fill((i) => -5 + (8 * i) / n);
    else if (leaf === 'spatial_first') t = fill(() => Math.log(0.3) + 0.5 * rng.uniform());
    else if (leaf.startsWith('spatial_mix')) t = fill(() => rng.uniform());
    else if (leaf.startsWith('gamma')) t = fill(() => 1);
    else if (name === 'pos_embed') t = fill(() => 0.02 * rng.normal());
    else t = fill(() => (rng.uniform() * 2 - 1) / Math.sqrt(fanIn));
    out.set(name, t);
  }
  return out;
}
