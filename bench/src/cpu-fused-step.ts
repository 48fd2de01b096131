/**
 * What a CPU decode step costs with nothing between its kernels: the whole RWKV-7 step as one
 * C function (`bench/cpu-fused/rwkv7-step.c`, OpenMP, AVX-512; fp32, or int4 blocks with
 * VNNI products), compiled here by the system's C compiler with the model's sizes, against
 * our onnxruntime model (`RwkvModel`, one token a call) on the same random weights, in
 * alternating rounds. A probe for the CPU speed issue: onnxruntime's step spends most of an
 * int4 token outside its matrix products (bench/README.md, "A fused native step"), and this
 * says how much of that a fused step takes back. Not a runtime: nothing in the packages uses it.
 *
 *   node bench/dist/cpu-fused-step.js [--threads 2] [--precisions fp32,int4] [--rounds 4]
 *     [--tokens 64] [--warmup 32] [--layers 12 --embd 768 --vocab 65536 --seed 1] [--cc cc]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildRwkvGraph,
  type HostTensor,
  hostSession,
  onnxBackend,
  RwkvModel,
  randomRwkvWeights,
  stateCarry,
  zeroStateValues,
} from '@rwkv-streams/core';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    precisions: { type: 'string', default: 'fp32,int4' },
    rounds: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '32' },
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    seed: { type: 'string', default: '1' },
    cc: { type: 'string', default: 'cc' },
  },
});
const whole = (name: string, min: number): number => {
  const n = Number(values[name as keyof typeof values]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}`);
  return n;
};
const threads = whole('threads', 1);
const rounds = whole('rounds', 1);
const tokens = whole('tokens', 1);
const warmup = whole('warmup', 0);
const precisions = values.precisions.split(',') as ('fp32' | 'int4')[];
for (const p of precisions)
  if (p !== 'fp32' && p !== 'int4') throw new Error(`--precisions: fp32 or int4, got ${p}`);

/** The C probe's first tokens are checked against the model's logits (CHECK_TOKENS there). */
const CHECK_TOKENS = 8;
const tokenAt = (i: number, vocab: number) => (i * 7919) % vocab;

const { config, tensors } = randomRwkvWeights(
  { version: 7, nLayer: whole('layers', 1), nEmbd: whole('embd', 64), nVocab: whole('vocab', 64) },
  whole('seed', 0),
);
const work = mkdtempSync(join(tmpdir(), 'rwkv-fused-step-'));
try {
  // LoRA matrices are [in, out] officially (x @ w1); the probe reads every matrix [out, in].
  const loraDims: Record<string, number> = {};
  for (const [name, t] of tensors) {
    const lora = /\.att\.([wavg])([12])$/.exec(name);
    let data = t.data;
    if (lora) {
      const [rows, cols] = t.shape as [number, number];
      const flipped = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) flipped[j * rows + i] = data[i * cols + j]!;
      data = flipped;
      if (lora[2] === '1') loraDims[lora[1]!] = cols;
    }
    writeFileSync(join(work, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  const binary = join(work, 'rwkv7-step');
  const source = fileURLToPath(new URL('../cpu-fused/rwkv7-step.c', import.meta.url));
  const sizes = {
    EMBD: config.nEmbd,
    HEADS: config.nHead,
    FFN: config.dimFfn,
    VOCAB: config.nVocab,
    LAYERS: config.nLayer,
    LORA_W: loraDims['w'],
    LORA_A: loraDims['a'],
    LORA_V: loraDims['v'],
    LORA_G: loraDims['g'],
  };
  const flags = ['-O3', '-march=native', '-fopenmp', ...Object.entries(sizes).map(([k, v]) => `-D${k}=${v}`)];
  try {
    execFileSync(values.cc, [...flags, source, '-o', binary, '-lm'], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`compiling ${source} with '${values.cc}' failed: ${e.stderr?.toString() || e.message}`);
  }

  const header = [
    `command: node bench/dist/cpu-fused-step.js ${process.argv.slice(2).join(' ')}`.trim(),
    `model: random RWKV-7 ${config.nLayer} x ${config.nEmbd}, vocab ${config.nVocab}; ${threads} threads both; ${tokens} tokens timed one a call after ${warmup}`,
    `C probe: ${values.cc} ${flags.join(' ')}`,
  ];
  console.log(header.join('\n'));
  const rows: string[] = [];
  /** Logits of the official step graph on onnxruntime after each of the first tokens. */
  const referenceLogits = async (precision: 'fp32' | 'int4'): Promise<Float32Array> => {
    const graph = buildRwkvGraph(config, tensors, { mode: 'recurrent' });
    const compiled = await onnxBackend.compile(graph, {
      device: 'cpu',
      threads,
      ...(precision === 'int4' ? { quantization: { bits: 4, blockSize: 32 } } : {}),
    });
    // the state carried on the host between calls, from zeros (the core's host session)
    const session = hostSession(compiled, stateCarry(config), zeroStateValues(config, 1));
    const logits = new Float32Array(CHECK_TOKENS * config.nVocab);
    for (let i = 0; i < CHECK_TOKENS; i++) {
      const out = await session.run({
        tokens: { dtype: 'int32', dims: [1, 1], data: Int32Array.of(tokenAt(i, config.nVocab)) },
      });
      logits.set(out['logits']!.data as Float32Array, i * config.nVocab);
    }
    await compiled.dispose();
    return logits;
  };
  for (const precision of precisions) {
    const model = new RwkvModel(config, tensors as ReadonlyMap<string, HostTensor>, {
      threads,
      ...(precision === 'int4' ? { quantization: 'int4' as const } : {}),
    });
    // The check: the official step graph (each LoRA its own product, as the probe has them;
    // the model's merged step LoRAs quantize other matrices) on onnxruntime, same precision.
    const reference = await referenceLogits(precision);
    const referencePath = join(work, `reference-${precision}.bin`);
    writeFileSync(referencePath, new Uint8Array(reference.buffer));

    const runProbe = () => {
      const out = execFileSync(binary, [work, referencePath, precision, String(tokens), String(warmup)], {
        env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      }).toString();
      return JSON.parse(out) as { tokPerSec: number; maxLogitDiff: number; msMedian: number };
    };
    const runOurs = async () => {
      let s = model.createState(1);
      for (let i = 0; i < warmup; i++)
        s = (await model.forward([[tokenAt(CHECK_TOKENS + i, config.nVocab)]], s, { mode: 'recurrent' }))
          .state;
      const t0 = performance.now();
      for (let i = 0; i < tokens; i++)
        s = (
          await model.forward([[tokenAt(CHECK_TOKENS + warmup + i, config.nVocab)]], s, { mode: 'recurrent' })
        ).state;
      return (1000 * tokens) / (performance.now() - t0);
    };
    const fused: number[] = [];
    const ours: number[] = [];
    let diff = 0;
    for (let round = 0; round < rounds; round++) {
      // each side goes first in every other round, so a drift of the machine weighs on both
      const probeFirst = round % 2 === 0;
      if (probeFirst) {
        const p = runProbe();
        fused.push(p.tokPerSec);
        diff = p.maxLogitDiff;
      }
      ours.push(await runOurs());
      if (!probeFirst) {
        const p = runProbe();
        fused.push(p.tokPerSec);
        diff = p.maxLogitDiff;
      }
      console.log(
        `[${precision}] round ${round + 1}/${rounds}: fused C ${fused.at(-1)!.toFixed(1)} tok/s, onnxruntime ${ours.at(-1)!.toFixed(1)} tok/s`,
      );
    }
    await model.dispose();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    rows.push(
      `| ${precision} | ${median(fused).toFixed(1)} | ${median(ours).toFixed(1)} | ${(median(fused) / median(ours)).toFixed(2)}x | ${diff.toExponential(2)} |`,
    );
  }
  console.log(
    '\n| precision | fused C step tok/s | onnxruntime model tok/s | fused / onnxruntime | max abs logit diff, first 8 tokens |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  console.log(
    '(medians of the rounds; the logit difference: the C step against the official step graph on onnxruntime at the same precision)',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
