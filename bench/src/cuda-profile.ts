/**
 * Where the CUDA backend's time goes: one RWKV-7 model (random weights, float16), its
 * decode step (batch 1) and prefill (T tokens, batch 1) plans run once with a CUDA event
 * between steps; prints GPU time per op kind and the slowest steps (GPU machine only).
 *
 *   node bench/dist/cuda-profile.js [--layers 12] [--embd 768] [--vocab 65536] [--seq 512]
 */
import { parseArgs } from 'node:util';
import {
  buildRwkvGraph,
  LOGITS_FROM,
  randomRwkvWeights,
  stateInputName,
  stateSlots,
  type TensorValue,
} from '@rwkv-streams/core';
import { type CudaExecutable, cudaBackend } from '@rwkv-streams/cuda';
import { printProfile } from './cuda/profile-table.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seq: { type: 'string', default: '512' },
  },
});
const [L, C, V, T] = [values.layers, values.embd, values.vocab, values.seq].map(Number) as [
  number,
  number,
  number,
  number,
];
const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: L, nEmbd: C, nVocab: V, headSize: 64 },
  1,
);
const step = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
const seq = buildRwkvGraph(config, tensors, { mode: 'sequence' });
const exe = (await cudaBackend.compileByTime!(step, seq, 'tokens', {
  device: 'cuda',
  weightDType: 'float16',
})) as CudaExecutable;

function inputs(t: number): Record<string, TensorValue> {
  const feeds: Record<string, TensorValue> = {
    tokens: { dtype: 'int32', dims: [1, t], data: Int32Array.from({ length: t }, (_, i) => (i * 7919) % V) },
    [LOGITS_FROM]: { dtype: 'int32', dims: [1], data: Int32Array.of(t - 1) },
  };
  for (const s of stateSlots(config)) {
    const dims = [1, ...s.spec.shape];
    feeds[stateInputName(s.layer, s.spec.name)] = {
      dtype: 'float32',
      dims,
      data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
    };
  }
  return feeds;
}

for (const [what, t] of [
  ['decode step, batch 1', 1],
  [`prefill T=${T}, batch 1`, T],
] as const) {
  const feeds = inputs(t);
  await exe.run(feeds);
  printProfile(`${L} x ${C}, vocab ${V}: ${what}`, exe.planFor(feeds));
}
await exe.dispose();
