/**
 * Where a prefill call's wall time goes beyond its GPU work (GPU machine only). The benchmark
 * against the official code (cuda-vs-pytorch) times a fresh stream's prefill as a session
 * opened with a zero state plus one `forward` of T tokens; at 1.5B that call took 9.4-9.6 ms
 * of wall time where its plan replays in 8.56 ms of GPU time (cuda-profile). This times, per
 * round: the whole call (wall), the GPU span from an event recorded on the runtime's stream
 * before it to one after it (GPU work plus any idle gaps between the submissions), and each
 * part alone (opening the session; the forward; disposing). Medians over the rounds.
 *
 *   node bench/dist/cuda-prefill-parts.js [--layers 24] [--embd 2048] [--seq 512] [--rounds 9]
 */
import { parseArgs } from 'node:util';
import { RwkvModel } from '@rwkv-streams/core';
import { CudaEvent, sharedRuntime } from '@rwkv-streams/cuda';
import { benchWeights } from './cuda/bench-weights.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '24' },
    embd: { type: 'string', default: '2048' },
    vocab: { type: 'string', default: '65536' },
    seq: { type: 'string', default: '512' },
    rounds: { type: 'string', default: '9' },
  },
});
const [L, C, V, T, rounds] = [values.layers, values.embd, values.vocab, values.seq, values.rounds].map(
  Number,
) as [number, number, number, number, number];
const rt = sharedRuntime();
const { config, tensors } = benchWeights(L, C, V);
const model = new RwkvModel(config, tensors, { device: 'cuda', weightDType: 'float16' });
const prompt = [Array.from({ length: T }, (_, i) => (i * 7919) % V)];
const now = () => performance.now();

const parts = {
  wall: [] as number[],
  gpuSpan: [] as number[],
  open: [] as number[],
  forward: [] as number[],
};
for (let r = 0; r < rounds + 2; r++) {
  const [a, b] = [CudaEvent.create(), CudaEvent.create()];
  const t0 = now();
  a.record(rt.stream);
  const s = await model.openSession(1);
  const t1 = now();
  await s.forward(prompt);
  const t2 = now();
  b.record(rt.stream);
  b.synchronize();
  await s.dispose();
  if (r >= 2) {
    // the first two build the plan and record its CUDA graph
    parts.wall.push(t2 - t0);
    parts.open.push(t1 - t0);
    parts.forward.push(t2 - t1);
    parts.gpuSpan.push(b.elapsedSince(a));
  }
  a.dispose();
  b.dispose();
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
console.log(`device: ${rt.ctx.name}; RWKV-7 ${L} x ${C}, vocab ${V}: prefill of ${T} tokens, batch 1`);
console.log('| part | ms (median of %d) | min | max |', rounds);
console.log('| --- | ---: | ---: | ---: |');
for (const [name, x] of Object.entries(parts))
  console.log(
    `| ${name} | ${med(x).toFixed(3)} | ${Math.min(...x).toFixed(3)} | ${Math.max(...x).toFixed(3)} |`,
  );
console.log(
  `tokens/s from the median wall time: ${((T * 1000) / med(parts.wall)).toFixed(0)}; wall - GPU span: ${(med(parts.wall) - med(parts.gpuSpan)).toFixed(3)} ms`,
);
await model.dispose();
