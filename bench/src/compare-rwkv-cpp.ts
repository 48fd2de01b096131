/**
 * Our CPU runtime against rwkv.cpp on the same random RWKV-7 weights (default the 0.1B
 * shape: 12 layers x 768, vocab 65536): decode and prefill tokens/s per precision, side
 * by side, and the largest logit difference between the two runtimes.
 *
 *   pnpm --filter @rwkv-streams/bench compare -- --rwkv-cpp DIR [--threads N]
 *
 * DIR is an rwkv.cpp source tree with ggml in it (e.g. made by
 * bench/rwkv-cpp/prepare-source.sh), or an rwkv.cpp git mirror (then the sources are
 * exported with the pinned ggml from `--ggml-mirror`, default `ggerganov+ggml` beside it).
 * rwkv.cpp is built once into `$TMPDIR/rwkv-streams-bench/rwkv-cpp-build/<key>` and reused.
 *
 * Other options: --layers 12 --embd 768 --vocab 65536 --seed 1 --decode 64 --warmup 32
 * --prefill 512 --chunk 16 --rounds 3 --batches 1,4,16,64 --rss int4 --precisions fp32,fp16,int8,int4
 * --rwkv-cpp-types int8=Q8_0,int4=Q5_1 --work-dir DIR --keep --cache DIR --json FILE
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultCacheRoot, prepareRwkvCpp, RWKV_CPP_CMAKE_FLAGS } from './rwkv-cpp/build.js';
import {
  ALL_PRECISIONS,
  compare,
  DEFAULT_RWKV_CPP_TYPES,
  formatBatchTable,
  formatRss,
  formatTable,
  machineLine,
  ourOptions,
  type Precision,
} from './rwkv-cpp/compare.js';

// pnpm may pass the `--` of `pnpm compare -- --flag` through; parseArgs would stop there.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();

const { values } = parseArgs({
  args: argv,
  options: {
    'rwkv-cpp': { type: 'string' },
    'ggml-mirror': { type: 'string' },
    cache: { type: 'string' },
    threads: { type: 'string', default: String(cpus().length) },
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seed: { type: 'string', default: '1' },
    decode: { type: 'string', default: '64' },
    // 32: right after the other runtime's round (a process streaming memory on both cores), the
    // next 20-30 tokens decode slower whoever runs them (bench/README.md "Warm-up")
    warmup: { type: 'string', default: '32' },
    prefill: { type: 'string', default: '512' },
    chunk: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    batches: { type: 'string', default: '1,4,16,64' },
    rss: { type: 'string', default: 'int4' },
    precisions: { type: 'string', default: ALL_PRECISIONS.join(',') },
    'rwkv-cpp-types': { type: 'string', default: '' },
    'work-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
    block: { type: 'string' },
    // 'cpu-native': ours on @rwkv-streams/cpu-native (graphs compiled to C; what it does not
    // compile, the prefill's sequence graph among it, still runs on onnxruntime)
    backend: { type: 'string', default: 'onnxruntime' },
  },
});

if (values.backend !== 'onnxruntime' && values.backend !== 'cpu-native') {
  console.error(`--backend must be onnxruntime or cpu-native, got ${values.backend}`);
  process.exit(2);
}
if (values.backend === 'cpu-native') await import('@rwkv-streams/cpu-native');

if (!values['rwkv-cpp']) {
  console.error(
    'usage: compare-rwkv-cpp --rwkv-cpp DIR [--threads N] [--precisions fp32,fp16,int8,int4] ...\n' +
      '  DIR: an rwkv.cpp source tree (bench/rwkv-cpp/prepare-source.sh makes one) or an rwkv.cpp git mirror',
  );
  process.exit(2);
}

const num = (name: keyof typeof values): number => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`--${name} needs a non-negative integer, got ${values[name]}`);
  return v;
};

const precisions = values.precisions.split(',').map((p) => p.trim()) as Precision[];
for (const p of precisions) {
  if (!ALL_PRECISIONS.includes(p))
    throw new Error(`--precisions: unknown '${p}' (use ${ALL_PRECISIONS.join(', ')})`);
}
const rwkvCppTypes = { ...DEFAULT_RWKV_CPP_TYPES };
for (const kv of values['rwkv-cpp-types'].split(',').filter((s) => s.length > 0)) {
  const [p, t] = kv.split('=') as [Precision, string | undefined];
  if (!ALL_PRECISIONS.includes(p) || !t)
    throw new Error(`--rwkv-cpp-types: expected precision=TYPE, got '${kv}'`);
  rwkvCppTypes[p] = t;
}

const listOf = (name: 'batches' | 'rss'): string[] =>
  values[name]
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
for (const n of listOf('batches')) {
  if (!Number.isInteger(Number(n)) || Number(n) < 1)
    throw new Error(`--batches: stream counts must be positive integers, got '${n}'`);
}
for (const p of listOf('rss')) {
  if (!ALL_PRECISIONS.includes(p as Precision))
    throw new Error(`--rss: unknown precision '${p}' (use ${ALL_PRECISIONS.join(', ')})`);
}

const blockSize = values.block === undefined ? undefined : Number(values.block);
if (
  blockSize !== undefined &&
  !(Number.isInteger(blockSize) && blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)
)
  throw new Error(`--block: a power of two >= 16, got '${values.block}'`);

const prompt = [0, 1, 2, 3, 10, 100, 1000, 7919, 12345, 40000].filter((t) => t < num('vocab'));
const log = (l: string) => process.stderr.write(`[compare] ${l}\n`);
const cacheRoot = values.cache ?? defaultCacheRoot();
const threads = num('threads');
const build = prepareRwkvCpp({
  dir: values['rwkv-cpp'],
  ...(values['ggml-mirror'] ? { ggmlMirror: values['ggml-mirror'] } : {}),
  cacheRoot,
  log,
});

const result = await compare({
  build,
  nLayer: num('layers'),
  nEmbd: num('embd'),
  nVocab: num('vocab'),
  seed: num('seed'),
  threads,
  decode: num('decode'),
  warmup: num('warmup'),
  prefill: num('prefill'),
  chunk: Math.max(1, num('chunk')),
  rounds: Math.max(1, num('rounds')),
  batches: listOf('batches').map(Number),
  rssPrecisions: listOf('rss') as Precision[],
  backend: values.backend as 'onnxruntime' | 'cpu-native',
  precisions,
  ...(blockSize !== undefined ? { blockSize } : {}),
  rwkvCppTypes,
  ...(values['work-dir'] ? { workDir: values['work-dir'] } : {}),
  cacheRoot,
  keep: values.keep,
  prompt,
  log,
});

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
const fmtLoad = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' ');
const out: string[] = [];
out.push(`command: node ${process.argv.slice(1).map(shellQuote).join(' ')}`);
out.push(`machine: ${machineLine()}`);
out.push(`load average before / after: ${fmtLoad(result.loadBefore)} / ${fmtLoad(loadavg())}`);
out.push(
  `model: random RWKV-7 ${num('layers')} x ${num('embd')}, vocab ${num('vocab')}, seed ${num('seed')}; ${threads} threads in both runtimes`,
);
out.push(
  `rwkv.cpp: ${build.provenance.replaceAll('\n', ', ') || build.source}; cmake ${RWKV_CPP_CMAKE_FLAGS.join(' ')}; ${result.rwkvCppSystemInfo}`,
);
out.push(
  `ours: ${values.backend === 'cpu-native' ? '@rwkv-streams/cpu-native (step and sequence graphs compiled to C, one library)' : 'onnxruntime-node CPU EP'}, the same weights loaded from a float32 safetensors file (loadRwkvModel); fp32 = default, fp16 = ${JSON.stringify(ourOptions('fp16', blockSize))}, int8 = ${JSON.stringify(ourOptions('int8', blockSize))}, int4 = ${JSON.stringify(ourOptions('int4', blockSize))}`,
);
out.push(
  `decode: ${num('decode')} tokens one per call, state carried (ours: an RwkvSession, logits into one array), logits every step, after ${num('warmup')} warm-up tokens; prefill: ${num('prefill')} tokens from a fresh state (rwkv.cpp: chunks of ${Math.max(1, num('chunk'))}; ours: one 'sequence' forward); each the median of ${Math.max(1, num('rounds'))} rounds alternating rwkv.cpp and ours`,
);
out.push(
  `files: ${Object.entries(result.files)
    .map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)} MiB`)
    .join(', ')} (FP32/FP16 written by writeRwkvCppFile, quantized by rwkv.cpp from FP16)`,
);
out.push('');
out.push(...formatTable(result));
out.push('');
const batchTable = formatBatchTable(result);
if (batchTable.length > 0) {
  out.push(
    'aggregate decode tokens/s with N streams (ours: one call a step for all N; rwkv.cpp has no batched call):',
  );
  out.push('', ...batchTable, '');
}
out.push(...formatRss(result));
out.push('');
const fp32 = result.rows.find((r) => r.precision === 'fp32');
if (fp32?.maxDiff !== undefined) {
  out.push(
    `same model check: after the prompt [${prompt.join(', ')}], rwkv.cpp FP32 vs our fp32: max |logit diff| ${fp32.maxDiff.toExponential(2)} (one token a call) / ${fp32.maxDiffSeq?.toExponential(2) ?? 'n/a'} (sequence), largest |logit| ${result.maxAbsLogit?.toFixed(2) ?? 'n/a'}`,
  );
}
out.push('ratio = ours / rwkv.cpp (above 1: ours is faster).');
console.log(out.join('\n'));

if (values.json) {
  const strip = (s: object) =>
    Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'logits' && k !== 'logitsSeq'));
  writeFileSync(
    values.json,
    JSON.stringify(
      {
        command: process.argv,
        machine: machineLine(),
        threads,
        rwkvCpp: { source: build.source, provenance: build.provenance, systemInfo: result.rwkvCppSystemInfo },
        rows: result.rows.map((r) => ({ ...r, rwkvCpp: strip(r.rwkvCpp), ours: strip(r.ours) })),
        rss: result.rss,
        files: result.files,
        loadBefore: result.loadBefore,
        loadAfter: loadavg(),
      },
      null,
      2,
    ),
  );
}
