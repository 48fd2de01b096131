/**
 * Our CPU runtime against rwkv.cpp on the same random RWKV weights.
 *
 * The weights (randomRwkvWeights, seeded) are written in rwkv.cpp's format as FP32 and
 * FP16 by our `writeRwkvCppFile` (what rwkv.cpp's converter would write for them), the
 * FP16 file is quantized by rwkv.cpp's own quantizer (rwkv_quantize_model_file, through
 * our driver), and each precision is timed in both runtimes with the same thread count
 * and the same token ids:
 *
 * - decode: one token per call with the state carried (rwkv_eval / forward 'recurrent'),
 *   logits computed every step, after untimed warm-up steps;
 * - prefill: `prefill` tokens from a fresh state, best of `repeat` (rwkv.cpp:
 *   rwkv_eval_sequence_in_chunks with chunks of 16; ours: one forward in 'sequence' mode).
 *
 * Both runtimes also give the logits after the same short prompt; their largest
 * difference per precision says whether both computed the same model.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  type HostTensor,
  type RwkvConfig,
  RwkvModel,
  type RwkvModelOptions,
  randomRwkvWeights,
  writeRwkvCppFile,
} from '@rwkv-streams/core';
import type { RwkvCppBuild } from './build.js';

/** Our precisions, each paired with an rwkv.cpp file type. */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4';

export const ALL_PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];

/** rwkv.cpp file type per precision (the quantized ones are made from the FP16 file, as rwkv.cpp's README does). */
export const DEFAULT_RWKV_CPP_TYPES: Readonly<Record<Precision, string>> = {
  fp32: 'FP32',
  fp16: 'FP16',
  int8: 'Q8_0',
  int4: 'Q5_1',
};

/** How our runtime runs each precision. */
export const OUR_OPTIONS: Readonly<Record<Precision, Readonly<Record<string, unknown>>>> = {
  fp32: {},
  fp16: { weightDType: 'float16' },
  int8: { quantization: 'int8' },
  int4: { quantization: 'int4' },
};

export interface CompareOptions {
  readonly build: RwkvCppBuild;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nVocab: number;
  readonly seed: number;
  readonly threads: number;
  readonly decode: number;
  readonly warmup: number;
  readonly prefill: number;
  readonly chunk: number;
  readonly repeat: number;
  readonly precisions: readonly Precision[];
  readonly rwkvCppTypes: Readonly<Record<Precision, string>>;
  /** Folder for the model files (default: a fresh folder under `cacheRoot`, removed afterwards). */
  readonly workDir?: string;
  /** Cache root (see build.ts); the default work folder goes under it. */
  readonly cacheRoot: string;
  /** Keep the model files. */
  readonly keep: boolean;
  /** Prompt for the logits check. */
  readonly prompt: readonly number[];
  readonly log: (line: string) => void;
}

/** Timings of one runtime at one precision; `skipped` says why there are none. */
export interface Side {
  readonly decode?: number;
  readonly prefill?: number;
  readonly prefillRuns?: readonly number[];
  readonly logits?: Float32Array;
  readonly logitsSeq?: Float32Array;
  readonly skipped?: string;
  readonly note?: string;
}

export interface Row {
  readonly precision: Precision;
  readonly rwkvCppType: string;
  readonly rwkvCpp: Side;
  readonly ours: Side;
  /** max |logit difference| ours vs rwkv.cpp after the prompt (recurrent / sequence). */
  readonly maxDiff?: number;
  readonly maxDiffSeq?: number;
  /** Each runtime against its own fp32 logits (its quantization error), one token a call. */
  readonly rwkvCppVsFp32?: number;
  readonly oursVsFp32?: number;
}

export interface CompareResult {
  readonly rows: readonly Row[];
  readonly files: Readonly<Record<string, number>>;
  readonly rwkvCppSystemInfo: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly maxAbsLogit?: number;
}

const tokensOf = (n: number, vocab: number): number[] =>
  Array.from({ length: n }, (_, i) => (i * 7919) % vocab);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

function driver(build: RwkvCppBuild, args: string[]): Record<string, unknown> {
  const r = spawnSync(build.driver, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${build.driver} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}`);
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

const readFloats = (path: string): Float32Array => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** Writes the model files, runs rwkv.cpp then our runtime for every precision. */
export async function compare(o: CompareOptions): Promise<CompareResult> {
  const loadBefore = loadavg();
  mkdirSync(o.workDir ?? o.cacheRoot, { recursive: true });
  const work = o.workDir ?? mkdtempSync(join(o.cacheRoot, 'models-'));
  const files: Record<string, number> = {};
  try {
    o.log(`weights: random RWKV-7 ${o.nLayer} x ${o.nEmbd}, vocab ${o.nVocab}, seed ${o.seed}`);
    const { config, tensors } = randomRwkvWeights(
      { version: 7, nLayer: o.nLayer, nEmbd: o.nEmbd, nVocab: o.nVocab },
      o.seed,
    );

    // rwkv.cpp files: FP32 / FP16 written by us, quantized ones by rwkv.cpp's quantizer.
    const path = (type: string) => join(work, `rwkv7-${o.nLayer}x${o.nEmbd}-${type}.bin`);
    const needed = new Set(o.precisions.map((p) => o.rwkvCppTypes[p]));
    const needFp16 = [...needed].some((t) => t !== 'FP32');
    for (const type of ['FP32', 'FP16'] as const) {
      if (!needed.has(type) && !(type === 'FP16' && needFp16)) continue;
      o.log(`writing ${path(type)}`);
      files[type] = writeRwkvCppFile(path(type), config, tensors, { dtype: type });
    }
    for (const type of needed) {
      if (type === 'FP32' || type === 'FP16') continue;
      o.log(`quantizing to ${type} with rwkv.cpp (rwkv_quantize_model_file, from the FP16 file)`);
      driver(o.build, ['quantize', path('FP16'), path(type), type]);
      files[type] = statSync(path(type)).size;
    }

    // rwkv.cpp runs (one process per precision).
    const prompt = o.prompt.join(',');
    let systemInfo = '';
    const rwkvCpp = new Map<Precision, Side>();
    for (const p of o.precisions) {
      const type = o.rwkvCppTypes[p];
      o.log(`rwkv.cpp ${type}: ${o.threads} threads`);
      const lo = join(work, `logits-${type}.bin`);
      const ls = join(work, `logits-seq-${type}.bin`);
      const j = driver(o.build, [
        'bench',
        '--model',
        path(type),
        '--threads',
        String(o.threads),
        '--decode',
        String(o.decode),
        '--warmup',
        String(o.warmup),
        '--prefill',
        String(o.prefill),
        '--chunk',
        String(o.chunk),
        '--repeat',
        String(o.repeat),
        '--prompt',
        prompt,
        '--logits-out',
        lo,
        '--logits-seq-out',
        ls,
      ]);
      systemInfo = String(j['system_info'] ?? '');
      const d = j['decode'] as { tokens_per_s: number };
      const f = j['prefill'] as { tokens_per_s: number; seconds: number[] };
      rwkvCpp.set(p, {
        decode: d.tokens_per_s,
        prefill: f.tokens_per_s,
        prefillRuns: f.seconds.map((s) => o.prefill / s),
        logits: readFloats(lo),
        logitsSeq: readFloats(ls),
      });
    }

    // Our runtime.
    const ours = new Map<Precision, Side>();
    let fp32Logits: Float32Array | undefined;
    for (const p of o.precisions) {
      o.log(`ours ${p}: ${o.threads} threads`);
      const side = await runOurs(config, tensors, p, o, fp32Logits);
      if (p === 'fp32') fp32Logits = side.logits;
      ours.set(p, side);
    }

    const cppRef = rwkvCpp.get('fp32')?.logits;
    const ourRef = ours.get('fp32')?.logits;
    const rows: Row[] = o.precisions.map((p) => {
      const a = rwkvCpp.get(p)!;
      const b = ours.get(p)!;
      const row: Row = {
        precision: p,
        rwkvCppType: o.rwkvCppTypes[p],
        rwkvCpp: a,
        ours: b,
        ...(a.logits && cppRef ? { rwkvCppVsFp32: maxAbsDiff(a.logits, cppRef) } : {}),
        ...(b.logits && ourRef && !b.skipped ? { oursVsFp32: maxAbsDiff(b.logits, ourRef) } : {}),
      };
      if (a.logits && b.logits && !b.skipped) {
        return {
          ...row,
          maxDiff: maxAbsDiff(a.logits, b.logits),
          ...(a.logitsSeq && b.logitsSeq ? { maxDiffSeq: maxAbsDiff(a.logitsSeq, b.logitsSeq) } : {}),
        };
      }
      return row;
    });
    const ref = rwkvCpp.get('fp32')?.logits;
    return {
      rows,
      files,
      rwkvCppSystemInfo: systemInfo,
      loadBefore,
      loadAfter: loadavg(),
      ...(ref ? { maxAbsLogit: maxAbs(ref) } : {}),
    };
  } finally {
    if (!o.keep && o.workDir === undefined) rmSync(work, { recursive: true, force: true });
    else o.log(`model files kept in ${work}`);
  }
}

async function runOurs(
  config: RwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  p: Precision,
  o: CompareOptions,
  fp32Logits: Float32Array | undefined,
): Promise<Side> {
  // Built loosely so this compiles whether or not RwkvModelOptions has `quantization` yet.
  const options = { threads: o.threads, ...OUR_OPTIONS[p] } as RwkvModelOptions;
  const model = new RwkvModel(config, tensors, options);
  try {
    // Logits after the prompt, both modes (and: did a quantization option take effect?).
    const rec = (await model.forward([o.prompt], model.createState(1), { mode: 'recurrent' })).logits.slice();
    const seq = (await model.forward([o.prompt], model.createState(1), { mode: 'sequence' })).logits.slice();
    if ((p === 'int8' || p === 'int4') && fp32Logits && maxAbsDiff(rec, fp32Logits) === 0) {
      return {
        skipped: `RwkvModelOptions.quantization '${p}' had no effect in this build (logits equal fp32's)`,
      };
    }

    const toks = tokensOf(Math.max(o.prefill, o.decode + o.warmup, 8), config.nVocab);
    let state = model.createState(1);
    for (let i = 0; i < o.warmup; i++) {
      state = (await model.forward([[toks[i]!]], state, { mode: 'recurrent' })).state;
    }
    let t0 = performance.now();
    for (let i = 0; i < o.decode; i++) {
      state = (await model.forward([[toks[o.warmup + i]!]], state, { mode: 'recurrent' })).state;
    }
    const decode = (o.decode * 1000) / (performance.now() - t0);

    await model.forward([toks.slice(0, 8)], model.createState(1), { mode: 'sequence' });
    const runs: number[] = [];
    const prompt = toks.slice(0, o.prefill);
    for (let r = 0; r < o.repeat; r++) {
      t0 = performance.now();
      await model.forward([prompt], model.createState(1), { mode: 'sequence' });
      runs.push((o.prefill * 1000) / (performance.now() - t0));
    }
    return { decode, prefill: Math.max(...runs), prefillRuns: runs, logits: rec, logitsSeq: seq };
  } finally {
    await model.dispose();
  }
}

const fmtRate = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toFixed(1));
const fmtRatio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? 'n/a' : `${(b / a).toFixed(2)}x`;
const fmtDiff = (x: number | undefined): string => (x === undefined ? 'n/a' : x.toExponential(2));

/** The comparison as a markdown table, with notes for skipped slots. */
export function formatTable(result: CompareResult): string[] {
  const lines = [
    '| precision (ours / rwkv.cpp) | rwkv.cpp decode tok/s | ours decode tok/s | ours / rwkv.cpp | rwkv.cpp prefill tok/s | ours prefill tok/s | ours / rwkv.cpp | max abs logit diff (rec / seq) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const notes: string[] = [];
  for (const r of result.rows) {
    const a = r.rwkvCpp;
    const b = r.ours;
    lines.push(
      `| ${r.precision} / ${r.rwkvCppType} | ${fmtRate(a.decode)} | ${fmtRate(b.decode)} | ${fmtRatio(a.decode, b.decode)} | ${fmtRate(a.prefill)} | ${fmtRate(b.prefill)} | ${fmtRatio(a.prefill, b.prefill)} | ${fmtDiff(r.maxDiff)} / ${fmtDiff(r.maxDiffSeq)} |`,
    );
    if (b.skipped) notes.push(`${r.precision}: ours not measured: ${b.skipped}`);
  }
  const errors = result.rows
    .filter((r) => r.precision !== 'fp32')
    .map(
      (r) =>
        `${r.precision}: rwkv.cpp ${r.rwkvCppType} vs rwkv.cpp FP32 ${fmtDiff(r.rwkvCppVsFp32)}, ours vs our fp32 ${fmtDiff(r.oursVsFp32)}`,
    );
  if (errors.length > 0) {
    notes.push(
      `each runtime's own precision error (max abs logit diff vs its fp32, after the prompt): ${errors.join('; ')}`,
    );
  }
  return [...lines, ...notes.map((n) => `note: ${n}`)];
}

/** Machine facts for the header. */
export function machineLine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}
