/**
 * Where a batch-1 decode step's wall time goes besides the GPU: one session decoding into a
 * reused array, timed per step with the host wait polled (`CudaRuntime.pollMicros`, the
 * values of --poll, 0 = on a worker thread only), the settings interleaved over --rounds
 * so that the host's drift touches each alike. The host's share of a step is the
 * difference from the replayed GPU time that `cuda-profile` prints for the same shape;
 * run it under `node --cpu-prof` to see that share by function.
 * GPU machine only.
 *
 *   node bench/dist/cuda-decode-host.js [--layers 12] [--embd 768] [--steps 500] [--poll 0,4000]
 */
import { parseArgs } from 'node:util';
import { RwkvModel } from '@rwkv-streams/core';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { benchWeights } from './cuda/bench-weights.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    steps: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    poll: { type: 'string', default: '0,4000' },
  },
});
const [layers, embd, vocab, steps, rounds] = [
  values.layers,
  values.embd,
  values.vocab,
  values.steps,
  values.rounds,
].map(Number) as [number, number, number, number, number];
const polls = values.poll.split(',').map(Number);
for (const n of [layers, embd, vocab, steps, rounds, ...polls])
  if (!Number.isFinite(n) || n < 0) throw new Error(`arguments must be numbers >= 0, got ${n}`);

const rt = sharedRuntime();
const { config, tensors } = benchWeights(layers, embd, vocab);
const model = new RwkvModel(config, tensors, { device: 'cuda', weightDType: 'float16' });
const session = await model.openSession(1);
const into = new Float32Array(vocab);
let t = 0;
const token = () => [[(t++ * 7919) % vocab]];
for (let i = 0; i < 20; i++) await session.forward(token(), { into });

/** Wall ms a step over `steps` steps. */
async function run(options: { into?: Float32Array }): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await session.forward(token(), options);
  return (performance.now() - t0) / steps;
}

const rows = new Map<string, number[]>();
const add = (key: string, ms: number) => rows.set(key, [...(rows.get(key) ?? []), ms]);
const defaultPoll = rt.pollMicros;
for (let r = 0; r < rounds; r++) {
  for (const poll of polls) {
    rt.pollMicros = poll;
    add(`poll ${poll} us, logits into a reused (page-locked) array`, await run({ into }));
  }
  rt.pollMicros = defaultPoll;
  add(`poll ${defaultPoll} us (default), a new logits array a step`, await run({}));
}
console.log(
  `## ${layers} x ${embd}, vocab ${vocab}: decode, batch 1, ${steps} steps a figure, ${rounds} rounds`,
);
console.log('| setting | ms a step (median) | all rounds | tok/s |');
console.log('| --- | ---: | --- | ---: |');
for (const [key, ms] of rows) {
  const med = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
  console.log(
    `| ${key} | ${med.toFixed(3)} | ${ms.map((m) => m.toFixed(3)).join(', ')} | ${(1000 / med).toFixed(0)} |`,
  );
}
await session.dispose();
await model.dispose();
