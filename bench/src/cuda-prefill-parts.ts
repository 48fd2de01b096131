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
 *     [--polls 4000,20000]
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
    polls: { type: 'string', default: '4000' },
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

/**
 * Variants of the call, measured in alternating rounds: the runtime's poll budget (how
 * long a wait polls before moving to a worker thread; a 1.5B prefill outlasts the default
 * 4 ms) and whether the last logits land in a caller's array (`into`, page-locked by the
 * session) or a new one.
 */
const polls = values.polls.split(',').map(Number);
const variants = polls.flatMap((poll) =>
  [false, true].map((into) => ({ name: `poll ${poll} us${into ? ', into' : ''}`, poll, into })),
);
type Parts = { wall: number[]; gpuSpan: number[]; open: number[]; forward: number[] };
const parts = new Map<string, Parts>(
  variants.map((v) => [v.name, { wall: [], gpuSpan: [], open: [], forward: [] }]),
);
const logits = new Float32Array(V);
for (let r = 0; r < rounds + 2; r++) {
  for (const v of variants) {
    rt.pollMicros = v.poll;
    const [a, b] = [CudaEvent.create(), CudaEvent.create()];
    const t0 = now();
    a.record(rt.stream);
    const s = await model.openSession(1);
    const t1 = now();
    await s.forward(prompt, v.into ? { into: logits } : {});
    const t2 = now();
    b.record(rt.stream);
    b.synchronize();
    await s.dispose();
    if (r >= 2) {
      // the first two build the plan and record its CUDA graph
      const p = parts.get(v.name)!;
      p.wall.push(t2 - t0);
      p.open.push(t1 - t0);
      p.forward.push(t2 - t1);
      p.gpuSpan.push(b.elapsedSince(a));
    }
    a.dispose();
    b.dispose();
  }
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
console.log(`device: ${rt.ctx.name}; RWKV-7 ${L} x ${C}, vocab ${V}: prefill of ${T} tokens, batch 1`);
console.log(`ms, median of ${rounds} rounds (min-max); variants alternate within each round`);
console.log('| variant | wall | GPU span | open | forward | tok/s (median wall) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
const cell = (x: number[]) =>
  `${med(x).toFixed(3)} (${Math.min(...x).toFixed(3)}-${Math.max(...x).toFixed(3)})`;
for (const [name, p] of parts)
  console.log(
    `| ${name} | ${cell(p.wall)} | ${cell(p.gpuSpan)} | ${cell(p.open)} | ${cell(p.forward)} | ${((T * 1000) / med(p.wall)).toFixed(0)} |`,
  );
await model.dispose();
