import { BadInputError } from '../errors.js';
import { SeededRandom } from '../rwkv/random-weights.js';

/** How the next token is chosen from logits. */
export interface SamplingOptions {
  /** 0 means greedy (argmax). Default 1. */
  readonly temperature?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability sums to topP. Default 1 (all). */
  readonly topP?: number;
  /** Seed for reproducible sampling. Default: random. */
  readonly seed?: number;
}

/** Draws tokens from logits with a fixed policy and its own seeded generator. */
export class Sampler {
  private readonly temperature: number;
  private readonly topP: number;
  private readonly rng: SeededRandom;

  constructor(options: SamplingOptions = {}) {
    this.temperature = options.temperature ?? 1;
    this.topP = options.topP ?? 1;
    if (!(this.temperature >= 0))
      throw new BadInputError(`temperature must be >= 0, got ${this.temperature}`, { field: 'temperature' });
    if (!(this.topP > 0 && this.topP <= 1))
      throw new BadInputError(`topP must be in (0, 1], got ${this.topP}`, { field: 'topP' });
    this.rng = new SeededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Picks a token index from one row of logits. */
  sample(logits: ArrayLike<number>): number {
    if (this.temperature === 0) return argmax(logits);
    const probs = softmax(logits, this.temperature);
    const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
    let kept = 0;
    let mass = 0;
    for (const i of order) {
      mass += probs[i]!;
      kept++;
      if (mass >= this.topP) break;
    }
    let u = this.rng.uniform() * mass;
    for (let j = 0; j < kept; j++) {
      u -= probs[order[j]!]!;
      if (u <= 0) return order[j]!;
    }
    return order[kept - 1]!;
  }
}

/** Index of the largest value (first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Softmax of logits / temperature, computed in float64. */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i]! - max) / temperature);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** -log2 p(target) under softmax(logits): the bits a model spends on one token. */
export function bitsFor(logits: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return (Math.log(sum) + max - logits[target]!) / Math.LN2;
}
