/**
 * Resident memory of one loaded model, measured in a process of its own (compare.ts spawns
 * it with `--expose-gc`, so nothing else the benchmark holds is counted):
 *
 *   node --expose-gc bench/dist/rwkv-cpp/rss-probe.js --precision int4 [--layers 12 --embd 768
 *     --vocab 65536 --seed 1 --threads 2 --backend onnxruntime|cpu-native]
 *
 * The baseline is the process with onnxruntime loaded and a tiny model run (the runtime's
 * own memory, paid once whatever the model). Then the model is made from the same random
 * weights as the comparison, quantized at load as a user's `RwkvModel` would be, run one
 * token recurrently and a short sequence (so both paths have their buffers), its host
 * weights dropped and garbage collected. Prints one JSON line: the RSS over the baseline
 * and the model's bytes as the backend holds them (`RwkvModel.modelBytes()`).
 */
import { parseArgs } from 'node:util';
import { RwkvModel, type RwkvModelOptions, randomRwkvWeights } from '@rwkv-streams/core';
import { OUR_OPTIONS, ourOptions, type Precision } from './compare.js';

const { values } = parseArgs({
  options: {
    precision: { type: 'string', default: 'int4' },
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    block: { type: 'string' },
    backend: { type: 'string', default: 'onnxruntime' },
  },
});
if (values.backend !== 'onnxruntime' && values.backend !== 'cpu-native')
  throw new Error(`--backend must be onnxruntime or cpu-native, got ${values.backend}`);
// importing the package registers it for device 'cpu' (before any model exists)
if (values.backend === 'cpu-native') await import('@rwkv-streams/cpu-native');
const gcFn = (globalThis as { gc?: () => void }).gc;
if (!gcFn) throw new Error('rss-probe needs node --expose-gc');
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gcFn();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().rss;
};
const precision = values.precision as Precision;
if (!(precision in OUR_OPTIONS)) throw new Error(`--precision: unknown '${precision}'`);
const blockSize = values.block === undefined ? undefined : Number(values.block);
const options = { threads: Number(values.threads), ...ourOptions(precision, blockSize) } as RwkvModelOptions;

{
  const tiny = randomRwkvWeights({ version: 7, nLayer: 1, nEmbd: 64, nVocab: 16, headSize: 64 }, 1);
  const m = new RwkvModel(tiny.config, tiny.tensors, options);
  await m.forward([[1, 2]], m.createState(1), { mode: 'sequence' });
  await m.forward([[1]], m.createState(1), { mode: 'recurrent' });
  await m.dispose();
}
const baseline = await settle();

const model = await (async () => {
  const { config, tensors } = randomRwkvWeights(
    { version: 7, nLayer: Number(values.layers), nEmbd: Number(values.embd), nVocab: Number(values.vocab) },
    Number(values.seed),
  );
  return new RwkvModel(config, tensors, options);
})();
await model.forward([[1]], model.createState(1), { mode: 'recurrent' });
await model.forward([[1, 2, 3, 4, 5, 6, 7, 8]], model.createState(1), { mode: 'sequence' });
const loaded = await settle();
const modelBytes = (await model.modelBytes()) ?? 0;
const { heapTotal, external } = process.memoryUsage();
console.log(
  JSON.stringify({
    precision,
    backend: values.backend,
    baselineRss: baseline,
    rss: loaded,
    modelRss: loaded - baseline,
    modelBytes,
    heapTotal,
    external,
  }),
);
await model.dispose();
