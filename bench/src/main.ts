/**
 * CPU benchmark of the core runtime: for RWKV-4/5/6/7 at a real shape (random weights),
 * the step loop (recurrent graph, one call per token: decoding, or prefill done token by
 * token) and the sequence graph (T tokens per call: prefill), measured in the same run,
 * per weight precision.
 *
 *   pnpm bench                                            # 12 x 768, vocab 65536, T = 512, fp32
 *   pnpm bench --versions 7 --precisions fp32,fp16,int8,int4
 *   pnpm bench --versions 7 --layers 4 --embd 256 --vocab 256 --seq 128
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { RwkvModel, type RwkvModelOptions, type RwkvVersion, randomRwkvWeights } from '@rwkv-streams/core';

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
    precisions: { type: 'string', default: 'fp32' },
    block: { type: 'string', default: '32' },
  },
});

/** Model options per precision name. */
const precisionOptions: Record<string, RwkvModelOptions> = {
  fp32: {},
  fp16: { weightDType: 'float16' },
  int8: { quantization: 'int8', quantizationBlockSize: Number(values.block) },
  int4: { quantization: 'int4', quantizationBlockSize: Number(values.block) },
};

const nLayer = Number(values.layers);
const nEmbd = Number(values.embd);
const nVocab = Number(values.vocab);
const T = Number(values.seq);
const decodeSteps = Number(values.decode);
const threads = Number(values.threads);
const batch = Number(values.batch);
const precisions = values.precisions.split(',');
for (const p of precisions)
  if (!precisionOptions[p]) throw new Error(`unknown precision '${p}' (fp32, fp16, int8, int4)`);

const now = () => performance.now();
const tokens = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919) % nVocab);
const streams = (n: number) => Array.from({ length: batch }, () => tokens(n));

console.log(`command: pnpm bench ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
);
console.log(
  `backend: onnxruntime-node CPU EP, ${threads} threads; shape ${nLayer} x ${nEmbd}, vocab ${nVocab}, batch ${batch}`,
);
console.log('');
console.log(
  `| version | precision | step tok/s (1 token a call) | sequence tok/s (T=${T} a call) | sequence / step |`,
);
console.log('| --- | --- | --- | --- | --- |');

for (const v of values.versions.split(',').map(Number) as RwkvVersion[]) {
  const { config, tensors } = randomRwkvWeights({ version: v, nLayer, nEmbd, nVocab }, 1);
  for (const precision of precisions) {
    const model = new RwkvModel(config, tensors, { threads, ...precisionOptions[precision] });

    // Step loop: one token per call, state carried (after warm-up: compile + first runs).
    let state = model.createState(batch);
    for (let i = 0; i < 3; i++) state = (await model.forward(streams(1), state, { mode: 'recurrent' })).state;
    let t0 = now();
    for (let i = 0; i < decodeSteps; i++)
      state = (await model.forward(streams(1), state, { mode: 'recurrent' })).state;
    const step = (decodeSteps * batch * 1000) / (now() - t0);

    // Sequence graph: the whole prompt in one call.
    await model.forward(streams(8), model.createState(batch), { mode: 'sequence' });
    t0 = now();
    await model.forward(streams(T), model.createState(batch), { mode: 'sequence' });
    const sequence = (T * batch * 1000) / (now() - t0);

    console.log(
      `| RWKV-${v} | ${precision} | ${step.toFixed(1)} | ${sequence.toFixed(1)} | ${(sequence / step).toFixed(2)}x |`,
    );
    await model.dispose();
  }
}
