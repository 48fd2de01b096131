import { type HostTensor, hostTensor } from '../tensor/host-tensor.js';
import { sharedFloat32 } from '../tensor/shared-floats.js';
import { expectedTensors } from '../weights/describe.js';
import type { RwkvConfig, RwkvVersion } from './config.js';

/** Sizes of a random model (LoRA ranks default to the official small-model values). */
export interface RandomModelSizes {
  readonly version: RwkvVersion;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nVocab: number;
  /** Head size for v5+ (default 64, or nEmbd if smaller). */
  readonly headSize?: number;
  /** FFN size (default: 4C for v4/v5/v7, 3.5C for v6, rounded to 32). */
  readonly dimFfn?: number;
}

/** A seeded generator: uniform and normal draws (mulberry32 + Box-Muller). */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal. */
  normal(): number {
    const u = Math.max(this.uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

/** LoRA ranks of random models: the official values for small models. */
const RANDOM_LORA_DIMS: Readonly<Record<number, Readonly<Record<string, number>>>> = {
  6: { mix: 32, decay: 64 },
  7: { w: 64, a: 64, v: 32, g: 128 },
};

/**
 * Random weights with official names and shapes for any version (the tensor list is
 * `expectedTensors`, the same one that checks loaded files), scaled so that activations,
 * decays and gates sit in the ranges trained models use: tests and benchmarks then
 * exercise real numerics, not saturated or vanishing ones.
 */
export function randomRwkvWeights(
  sizes: RandomModelSizes,
  seed = 1,
): { config: RwkvConfig; tensors: Map<string, HostTensor> } {
  const { version, nLayer, nEmbd: C, nVocab: V } = sizes;
  const N = version === 4 ? 1 : Math.min(sizes.headSize ?? 64, C);
  const F = sizes.dimFfn ?? Math.round(((version === 6 ? 3.5 : 4) * C) / 32) * 32;
  const config: RwkvConfig = { version, nLayer, nEmbd: C, nVocab: V, dimFfn: F, headSize: N, nHead: C / N };
  const rng = new SeededRandom(seed);
  const tensors = new Map<string, HostTensor>();
  for (const spec of expectedTensors({ ...config, loraDims: RANDOM_LORA_DIMS[version] ?? {} })) {
    if (spec.optional) continue;
    const draw = initializer(spec.name, spec.shape, version, rng);
    const data = sharedFloat32(spec.shape.reduce((a, b) => a * b, 1)); // tensor/shared-floats.ts
    for (let i = 0; i < data.length; i++) data[i] = draw();
    tensors.set(spec.name, hostTensor(spec.shape, data));
  }
  return { config, tensors };
}

/** How one tensor is drawn, by its official name. */
function initializer(
  name: string,
  shape: readonly number[],
  version: RwkvVersion,
  rng: SeededRandom,
): () => number {
  const uniform = (lo: number, hi: number) => () => lo + (hi - lo) * rng.uniform();
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  if (name === 'emb.weight') return () => rng.normal();
  if (/(^|\.)ln[0-9a-z_]*\.weight$/.test(name)) return uniform(0.8, 1.2);
  if (/(^|\.)ln[0-9a-z_]*\.bias$/.test(name)) return uniform(-0.1, 0.1);
  if (name.endsWith('.weight')) {
    const cols = shape[shape.length - 1]!;
    return () => rng.normal() / Math.sqrt(cols);
  }
  if (/^(time_maa_w[12]|time_decay_w[12]|[wavg][12])$/.test(leaf)) return () => rng.normal() * 0.1;
  if (leaf === 'time_decay') return version === 4 ? uniform(-3, 1) : uniform(-4, 0.5);
  if (leaf === 'time_first') return uniform(-1, 1);
  if (leaf === 'time_faaaa') return uniform(-0.5, 1);
  if (leaf === 'w0') return uniform(-3, 1);
  if (leaf === 'a0' || leaf === 'v0') return uniform(-1, 1);
  if (leaf === 'k_k') return uniform(0.5, 1);
  if (leaf === 'k_a') return uniform(0.5, 1.5);
  if (leaf === 'r_k') return uniform(-0.3, 0.3);
  // Token-shift mixes: time_mix_*, time_maa_*, x_*.
  return uniform(0, 1);
}
