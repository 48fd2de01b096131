import { type HostTensor, hostTensor } from '../tensor/host-tensor.js';
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

/**
 * Random weights with official names and shapes for any version, scaled so that
 * activations, decays and gates sit in the ranges trained models use (so tests and
 * benchmarks exercise real numerics, not saturated or vanishing ones).
 */
export function randomRwkvWeights(
  sizes: RandomModelSizes,
  seed = 1,
): { config: RwkvConfig; tensors: Map<string, HostTensor> } {
  const { version, nLayer, nEmbd: C, nVocab: V } = sizes;
  const N = version === 4 ? 1 : Math.min(sizes.headSize ?? 64, C);
  const H = C / N;
  const F = sizes.dimFfn ?? Math.round(((version === 6 ? 3.5 : 4) * C) / 32) * 32;
  const rng = new SeededRandom(seed);
  const tensors = new Map<string, HostTensor>();
  const put = (name: string, shape: number[], f: (i: number) => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f(i);
    tensors.set(name, hostTensor(shape, data));
  };
  const matrix = (name: string, rows: number, cols: number, gain = 1) =>
    put(name, [rows, cols], () => (rng.normal() * gain) / Math.sqrt(cols));
  const vec = (name: string, shape: number[], lo: number, hi: number) =>
    put(name, shape, () => lo + (hi - lo) * rng.uniform());
  const norm = (name: string) => {
    vec(`${name}.weight`, [C], 0.8, 1.2);
    vec(`${name}.bias`, [C], -0.1, 0.1);
  };

  put('emb.weight', [V, C], () => rng.normal());
  norm('blocks.0.ln0');
  for (let l = 0; l < nLayer; l++) {
    const p = `blocks.${l}.`;
    norm(`${p}ln1`);
    norm(`${p}ln2`);
    for (const m of ['receptance', 'key', 'value', 'output']) matrix(`${p}att.${m}.weight`, C, C);
    if (version === 4) {
      vec(`${p}att.time_decay`, [C], -3, 1);
      vec(`${p}att.time_first`, [C], -1, 1);
      for (const m of ['k', 'v', 'r']) vec(`${p}att.time_mix_${m}`, [1, 1, C], 0, 1);
    }
    if (version === 5) {
      for (const m of ['k', 'v', 'r', 'g']) vec(`${p}att.time_mix_${m}`, [1, 1, C], 0, 1);
      vec(`${p}att.time_decay`, [H, N], -4, 0.5);
      vec(`${p}att.time_faaaa`, [H, N], -0.5, 1);
    }
    if (version === 6) {
      for (const m of ['x', 'w', 'k', 'v', 'r', 'g']) vec(`${p}att.time_maa_${m}`, [1, 1, C], 0, 1);
      put(`${p}att.time_maa_w1`, [C, 5 * 32], () => rng.normal() * 0.1);
      put(`${p}att.time_maa_w2`, [5, 32, C], () => rng.normal() * 0.1);
      vec(`${p}att.time_decay`, [1, 1, C], -4, 0.5);
      put(`${p}att.time_decay_w1`, [C, 64], () => rng.normal() * 0.1);
      put(`${p}att.time_decay_w2`, [64, C], () => rng.normal() * 0.1);
      vec(`${p}att.time_faaaa`, [H, N], -0.5, 1);
    }
    if (version === 5 || version === 6) {
      matrix(`${p}att.gate.weight`, C, C);
      vec(`${p}att.ln_x.weight`, [C], 0.8, 1.2);
      vec(`${p}att.ln_x.bias`, [C], -0.1, 0.1);
    }
    if (version === 7) {
      for (const m of ['r', 'w', 'k', 'v', 'a', 'g']) vec(`${p}att.x_${m}`, [1, 1, C], 0, 1);
      const lora = (name: string, rank: number) => {
        put(`${p}att.${name}1`, [C, rank], () => rng.normal() * 0.1);
        put(`${p}att.${name}2`, [rank, C], () => rng.normal() * 0.1);
      };
      vec(`${p}att.w0`, [1, 1, C], -3, 1);
      lora('w', 64);
      vec(`${p}att.a0`, [1, 1, C], -1, 1);
      lora('a', 64);
      if (l > 0) {
        vec(`${p}att.v0`, [1, 1, C], -1, 1);
        lora('v', 32);
      }
      lora('g', 128);
      vec(`${p}att.k_k`, [1, 1, C], 0.5, 1);
      vec(`${p}att.k_a`, [1, 1, C], 0.5, 1.5);
      vec(`${p}att.r_k`, [H, N], -0.3, 0.3);
      vec(`${p}att.ln_x.weight`, [C], 0.8, 1.2);
      vec(`${p}att.ln_x.bias`, [C], -0.1, 0.1);
      vec(`${p}ffn.x_k`, [1, 1, C], 0, 1);
    } else if (version === 6) {
      vec(`${p}ffn.time_maa_k`, [1, 1, C], 0, 1);
      vec(`${p}ffn.time_maa_r`, [1, 1, C], 0, 1);
    } else {
      vec(`${p}ffn.time_mix_k`, [1, 1, C], 0, 1);
      vec(`${p}ffn.time_mix_r`, [1, 1, C], 0, 1);
    }
    matrix(`${p}ffn.key.weight`, F, C);
    matrix(`${p}ffn.value.weight`, C, F);
    if (version !== 7) matrix(`${p}ffn.receptance.weight`, C, C);
  }
  norm('ln_out');
  matrix('head.weight', V, C);
  const config: RwkvConfig = { version, nLayer, nEmbd: C, nVocab: V, dimFfn: F, headSize: N, nHead: H };
  return { config, tensors };
}
