import { type HostTensor, hostTensor, randomRwkvWeights, SeededRandom } from '@rwkv-streams/core';
import type { SpeechModelConfig } from './speech-config.js';

/** Sizes of a random speech model (for tests and benchmarks of the runtime, not for use). */
export interface RandomSpeechSizes {
  readonly featureDim?: number;
  readonly stack?: number;
  readonly vocab?: number;
  readonly encoderLayers: number;
  readonly encoderDim: number;
  readonly predictorLayers: number;
  readonly predictorDim: number;
  readonly joinerDim: number;
  readonly headSize?: number;
}

/**
 * Random weights with the speech model's names and shapes (RWKV-7 blocks from the core's
 * `randomRwkvWeights`, scaled like trained models; the rest uniform in +-1/sqrt(fan-in)).
 */
export function randomSpeechWeights(
  sizes: RandomSpeechSizes,
  seed = 1,
): { config: SpeechModelConfig; tensors: Map<string, HostTensor> } {
  const F = sizes.featureDim ?? 80;
  const S = sizes.stack ?? 4;
  const V = sizes.vocab ?? 29;
  const headSize = sizes.headSize ?? 64;
  const enc = randomRwkvWeights(
    { version: 7, nLayer: sizes.encoderLayers, nEmbd: sizes.encoderDim, nVocab: V, headSize },
    seed,
  );
  const pred = randomRwkvWeights(
    { version: 7, nLayer: sizes.predictorLayers, nEmbd: sizes.predictorDim, nVocab: V, headSize },
    seed + 1,
  );
  const tensors = new Map<string, HostTensor>();
  for (const [part, w] of [
    ['encoder', enc],
    ['predictor', pred],
  ] as const)
    for (const [name, t] of w.tensors) if (name.startsWith('blocks.')) tensors.set(`${part}.${name}`, t);
  const rng = new SeededRandom(seed + 2);
  const uniform = (shape: number[], fanIn: number) =>
    hostTensor(
      shape,
      Float32Array.from(
        { length: shape.reduce((a, b) => a * b, 1) },
        () => (rng.uniform() * 2 - 1) / Math.sqrt(fanIn),
      ),
    );
  const ones = (n: number) => hostTensor([n], new Float32Array(n).fill(1));
  const zeros = (n: number) => hostTensor([n], new Float32Array(n));
  const d = sizes.encoderDim;
  const p = sizes.predictorDim;
  const j = sizes.joinerDim;
  const set = (name: string, t: HostTensor) => tensors.set(name, t);
  set('encoder.stem.weight', uniform([d, 2 * S * F], 2 * S * F));
  set('encoder.stem.bias', uniform([d], 2 * S * F));
  for (const [name, n] of [
    ['encoder.ln_out', d],
    ['predictor.ln_out', p],
  ] as const) {
    set(`${name}.weight`, ones(n));
    set(`${name}.bias`, zeros(n));
  }
  set('ctc.weight', uniform([V, d], d));
  set('ctc.bias', uniform([V], d));
  set('predictor.emb.weight', uniform([V, p], 1));
  set('joiner.enc.weight', uniform([j, d], d));
  set('joiner.enc.bias', uniform([j], d));
  set('joiner.pred.weight', uniform([j, p], p));
  set('joiner.pred.bias', uniform([j], p));
  set('joiner.out.weight', uniform([V, j], j));
  set('joiner.out.bias', uniform([V], j));
  return {
    config: { featureDim: F, stack: S, vocab: V, encoder: enc.config, predictor: pred.config, joinerDim: j },
    tensors,
  };
}
