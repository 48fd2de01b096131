/**
 * CPU benchmark of the core runtime: for RWKV-4/5/6/7 at a real shape (random weights),
 * the step loop (recurrent graph, one call per token: decoding, or prefill done token by
 * token) and the sequence graph (T tokens per call: prefill), measured in the same run.
 *
 *   pnpm bench                          # 12 layers x 768, vocab 65536, T = 512
 *   pnpm bench --versions 7 --layers 4 --embd 256 --vocab 256 --seq 128
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { RwkvModel, type RwkvVersion, randomRwkvWeights } from '@rwkv-streams/core';

const { values } = parseArgs({
  options: {
    versions: { type: 'string', default: '4,5,6,7' },
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seq: { type: 'string', default: '512' },
    decode: { type: 'string', default: '64' },
    threads: { type: 'string', default: String(cpus().length) },
    batch: { type: 'string', default: '1' },
  },
});

const nLayer = Number(values.layers);
const nEmbd = Number(values.embd);
const nVocab = Number(values.vocab);
const T = Number(values.seq);
const decodeSteps = Number(values.decode);
const threads = Number(values.threads);
const batch = Number(values.batch);

const now = () => performance.now();
const tokens = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919) % nVocab);

console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
);
console.log(
  `backend: onnxruntime-node CPU EP, ${threads} threads; shape ${nLayer} x ${nEmbd}, vocab ${nVocab}, batch ${batch}`,
);
console.log('');
console.log(
  `version | step tok/s (recurrent, 1 token a call) | sequence tok/s (prefill, T=${T} a call) | sequence / step`,
);
console.log(
  '------- | ------------------------------------- | ------------------------------------- | ---------------',
);

for (const v of values.versions.split(',').map(Number) as RwkvVersion[]) {
  const { config, tensors } = randomRwkvWeights({ version: v, nLayer, nEmbd, nVocab }, 1);
  const model = new RwkvModel(config, tensors, { threads });
  const streams = (n: number) => Array.from({ length: batch }, () => tokens(n));

  // Decode: one token per call, state carried (warm up first: compile + first runs).
  let state = model.createState(batch);
  for (let i = 0; i < 3; i++) state = (await model.forward(streams(1), state, { mode: 'recurrent' })).state;
  let t0 = now();
  for (let i = 0; i < decodeSteps; i++)
    state = (await model.forward(streams(1), state, { mode: 'recurrent' })).state;
  const decode = (decodeSteps * batch * 1000) / (now() - t0);

  // Prefill with the sequence graph.
  await model.forward(streams(8), model.createState(batch), { mode: 'sequence' });
  t0 = now();
  await model.forward(streams(T), model.createState(batch), { mode: 'sequence' });
  const prefill = (T * batch * 1000) / (now() - t0);

  console.log(
    `RWKV-${v}  | ${decode.toFixed(1).padStart(37)} | ${prefill.toFixed(1).padStart(37)} | ${(prefill / decode).toFixed(2).padStart(14)}x`,
  );
  await model.dispose();
}
