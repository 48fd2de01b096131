/**
 * Our CPU runtime against rwkv.cpp on the same random RWKV weights.
 *
 * The weights (randomRwkvWeights, seeded) are written in rwkv.cpp's format as FP32 and
 * FP16 by our `writeRwkvCppFile` (what rwkv.cpp's converter would write for them), the
 * FP16 file is quantized by rwkv.cpp's own quantizer (rwkv_quantize_model_file, through
 * our driver), and each precision is timed in both runtimes with the same thread count
 * and the same token ids:
 *
 * - decode: one token per call with the state carried, logits computed every step, after
 *   untimed warm-up steps (rwkv.cpp: rwkv_eval into the same state and logits buffers each
 *   call; ours: an `RwkvSession`, the state kept by the backend and the logits written into
 *   one array, the same terms);
 * - prefill: `prefill` tokens from a fresh state (rwkv.cpp: rwkv_eval_sequence_in_chunks
 *   with chunks of 16; ours: one forward in 'sequence' mode).
 *
 * Both are measured in `rounds` rounds that alternate the runtimes (rwkv.cpp, ours, ours,
 * rwkv.cpp, rwkv.cpp, ours, ... per precision: each runtime first in every other round) and the
 * median round is reported: on a shared machine the memory
 * bandwidth both runtimes live on drifts by tens of percent within minutes, and alternating
 * puts that drift on both sides of each ratio. Then, with our model still loaded, aggregate
 * decode throughput with N streams in one call per step (`batches`; rwkv.cpp has no batched
 * call, so its N streams run in turn at its single-stream rate), and, in a process of its
 * own, the resident memory of a loaded model against its bytes (`rss-probe.ts`).
 *
 * rwkv.cpp (and every other program) is started from a helper process forked before any
 * weights exist (`launcher.ts`): a fork from this process would slow its next decode tokens
 * (page faults after fork's write protection), a cost rwkv.cpp, timed in a fresh process,
 * never pays.
 *
 * Both runtimes also give the logits after the same short prompt; their largest
 * difference per precision says whether both computed the same model.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type HostTensor,
  loadRwkvModel,
  type RwkvConfig,
  type RwkvModel,
  type RwkvModelOptions,
  randomRwkvWeights,
  writeRwkvCppFile,
  writeSafetensorsFile,
} from '@rwkv-streams/core';
import type { RwkvCppBuild } from './build.js';
import { Launcher } from './launcher.js';

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

/** How our runtime runs each precision (quantized ones with the library's default block size). */
export const OUR_OPTIONS: Readonly<Record<Precision, Readonly<Record<string, unknown>>>> = {
  fp32: {},
  fp16: { weightDType: 'float16' },
  int8: { quantization: 'int8' },
  int4: { quantization: 'int4' },
};

/**
 * Our options for a precision, with `quantizationBlockSize` for the quantized ones when
 * `blockSize` is given (`--block`: 64 and 128 decode faster than the default 32 and cost
 * accuracy, bench/README.md "Block size").
 */
export function ourOptions(p: Precision, blockSize?: number): Readonly<Record<string, unknown>> {
  const quantized = p === 'int8' || p === 'int4';
  return quantized && blockSize !== undefined
    ? { ...OUR_OPTIONS[p], quantizationBlockSize: blockSize }
    : OUR_OPTIONS[p];
}

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
  /** Alternating rounds per precision (decode and prefill each round; the median is reported). */
  readonly rounds: number;
  /** Stream counts for the batched decode (aggregate tokens/s of ours). */
  readonly batches: readonly number[];
  /** Precisions whose resident memory is measured (each in a process of its own). */
  readonly rssPrecisions: readonly Precision[];
  /** Our backend, named to the memory probe (which imports it in its own process). */
  readonly backend?: 'onnxruntime' | 'cpu-native';
  readonly precisions: readonly Precision[];
  readonly rwkvCppTypes: Readonly<Record<Precision, string>>;
  /** Block size of our quantized weights (absent: the library's default, 32). */
  readonly blockSize?: number;
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
  /** Median over rounds. */
  readonly decode?: number;
  readonly prefill?: number;
  readonly decodeRuns?: readonly number[];
  readonly prefillRuns?: readonly number[];
  /** Ours only: aggregate decode tokens/s with N streams a call, keyed by N. */
  readonly batched?: Readonly<Record<number, number>>;
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

/** Resident memory of one loaded model (rss-probe.ts). */
export interface RssProbe {
  readonly precision: Precision;
  /** RSS with onnxruntime loaded and a tiny model run, before the model. */
  readonly baselineRss: number;
  /** RSS over the baseline with the model loaded, run in both modes, host weights dropped. */
  readonly modelRss: number;
  /** The model's bytes as the backend holds them (RwkvModel.modelBytes). */
  readonly modelBytes: number;
  /** V8's heap, part of modelRss. */
  readonly heapTotal: number;
  /** Environment the probe ran under that changes the allocator ('' for none). */
  readonly env: string;
}

export interface CompareResult {
  readonly rows: readonly Row[];
  readonly rss: readonly RssProbe[];
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

/** Runs the rwkv.cpp driver through the launcher (never forked from this process) and parses its JSON line. */
async function driver(
  launcher: Launcher,
  build: RwkvCppBuild,
  args: string[],
): Promise<Record<string, unknown>> {
  const r = await launcher.run(build.driver, args);
  if (r.status !== 0) {
    throw new Error(
      `${build.driver} ${args.join(' ')} failed (status ${r.status}${r.error ? `, ${r.error}` : ''}):\n${r.stderr}`,
    );
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
  // Before the weights and models: every later program starts from this small helper.
  const launcher = Launcher.start();
  try {
    o.log(`weights: random RWKV-7 ${o.nLayer} x ${o.nEmbd}, vocab ${o.nVocab}, seed ${o.seed}`);
    // `tensors` is the only reference to the weights: dropped below once the files are written
    let tensors: ReadonlyMap<string, HostTensor> | undefined;
    let config: RwkvConfig;
    ({ config, tensors } = randomRwkvWeights(
      { version: 7, nLayer: o.nLayer, nEmbd: o.nEmbd, nVocab: o.nVocab },
      o.seed,
    ));

    // rwkv.cpp files: FP32 / FP16 written by us, quantized ones by rwkv.cpp's quantizer.
    const path = (type: string) => join(work, `rwkv7-${o.nLayer}x${o.nEmbd}-${type}.bin`);
    const needed = new Set(o.precisions.map((p) => o.rwkvCppTypes[p]));
    const needFp16 = [...needed].some((t) => t !== 'FP32');
    for (const type of ['FP32', 'FP16'] as const) {
      if (!needed.has(type) && !(type === 'FP16' && needFp16)) continue;
      o.log(`writing ${path(type)}`);
      files[type] = writeRwkvCppFile(path(type), config, tensors, { dtype: type });
    }
    // Ours loads the same weights from a safetensors file, as a user's process would, so the
    // timed process does not also hold them (held, they made V8 collect more often).
    const ourFile = join(work, `rwkv7-${o.nLayer}x${o.nEmbd}-fp32.safetensors`);
    o.log(`writing ${ourFile}`);
    writeSafetensorsFile(ourFile, tensors);
    tensors = undefined;
    for (const type of needed) {
      if (type === 'FP32' || type === 'FP16') continue;
      o.log(`quantizing to ${type} with rwkv.cpp (rwkv_quantize_model_file, from the FP16 file)`);
      await driver(launcher, o.build, ['quantize', path('FP16'), path(type), type]);
      files[type] = statSync(path(type)).size;
    }

    // Per precision: our model loaded once; rounds alternate rwkv.cpp (a process a round) and ours.
    const prompt = o.prompt.join(',');
    let systemInfo = '';
    const rwkvCpp = new Map<Precision, Side>();
    const ours = new Map<Precision, Side>();
    let fp32Logits: Float32Array | undefined;
    for (const p of o.precisions) {
      const type = o.rwkvCppTypes[p];
      const mine = await OurRuntime.open(ourFile, p, o, fp32Logits);
      if (p === 'fp32') fp32Logits = mine.logits;
      const cpp = {
        decode: [] as number[],
        prefill: [] as number[],
        logits: undefined as Float32Array | undefined,
      };
      let cppLogitsSeq: Float32Array | undefined;
      const own = { decode: [] as number[], prefill: [] as number[] };
      try {
        for (let r = 0; r < o.rounds; r++) {
          // rwkv.cpp first in even rounds, ours first in odd ones (ABBA): a steady drift of the
          // machine's bandwidth over the rounds then weighs on both sides alike
          const oursFirst = r % 2 === 1;
          o.log(
            `round ${r + 1}/${o.rounds}: ${oursFirst ? `ours ${p} then rwkv.cpp ${type}` : `rwkv.cpp ${type} then ours ${p}`}, ${o.threads} threads`,
          );
          const runOurs = async () => {
            if (mine.skipped) return;
            own.decode.push(await mine.decodeRate(o.decode, o.warmup));
            own.prefill.push(await mine.prefillRate(o.prefill));
          };
          if (oursFirst) await runOurs();
          const lo = join(work, `logits-${type}.bin`);
          const ls = join(work, `logits-seq-${type}.bin`);
          const j = await driver(launcher, o.build, [
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
            '1',
            ...(r === 0 ? ['--prompt', prompt, '--logits-out', lo, '--logits-seq-out', ls] : []),
          ]);
          systemInfo = String(j['system_info'] ?? '');
          cpp.decode.push((j['decode'] as { tokens_per_s: number }).tokens_per_s);
          cpp.prefill.push((j['prefill'] as { tokens_per_s: number }).tokens_per_s);
          if (r === 0) {
            cpp.logits = readFloats(lo);
            cppLogitsSeq = readFloats(ls);
          }
          if (!oursFirst) await runOurs();
        }
        rwkvCpp.set(p, {
          decode: median(cpp.decode),
          prefill: median(cpp.prefill),
          decodeRuns: cpp.decode,
          prefillRuns: cpp.prefill,
          ...(cpp.logits ? { logits: cpp.logits } : {}),
          ...(cppLogitsSeq ? { logitsSeq: cppLogitsSeq } : {}),
        });
        if (mine.skipped) {
          ours.set(p, { skipped: mine.skipped });
          continue;
        }
        const batched: Record<number, number> = {};
        for (const n of o.batches) {
          o.log(`ours ${p}: ${n} streams a call`);
          batched[n] = await mine.batchedRate(n, o.decode);
        }
        ours.set(p, {
          decode: median(own.decode),
          prefill: median(own.prefill),
          decodeRuns: own.decode,
          prefillRuns: own.prefill,
          batched,
          logits: mine.logits,
          logitsSeq: mine.logitsSeq,
        });
      } finally {
        await mine.dispose();
      }
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
    const rss: RssProbe[] = [];
    for (const p of o.rssPrecisions) {
      for (const env of RSS_ENVS) {
        o.log(`resident memory of our ${p} model${env ? ` (${env})` : ''}`);
        rss.push(await probeRss(launcher, p, env, o));
      }
    }
    const ref = rwkvCpp.get('fp32')?.logits;
    return {
      rows,
      rss,
      files,
      rwkvCppSystemInfo: systemInfo,
      loadBefore,
      loadAfter: loadavg(),
      ...(ref ? { maxAbsLogit: maxAbs(ref) } : {}),
    };
  } finally {
    launcher.close();
    if (!o.keep && o.workDir === undefined) rmSync(work, { recursive: true, force: true });
    else o.log(`model files kept in ${work}`);
  }
}

/**
 * Allocator settings the memory probe runs under: glibc's defaults, and a fixed mmap
 * threshold (which also stops glibc raising it), so that the blocks freed while a model
 * loads go back to the system instead of staying in the heap: the difference is what the
 * allocator keeps, not what the model holds. A deployment sets it in its environment.
 */
const RSS_ENVS: readonly string[] = ['', 'MALLOC_MMAP_THRESHOLD_=65536'];

async function probeRss(launcher: Launcher, p: Precision, env: string, o: CompareOptions): Promise<RssProbe> {
  const probe = join(dirname(fileURLToPath(import.meta.url)), 'rss-probe.js');
  const args = [
    '--expose-gc',
    probe,
    '--precision',
    p,
    '--layers',
    String(o.nLayer),
    '--embd',
    String(o.nEmbd),
  ];
  args.push('--vocab', String(o.nVocab), '--seed', String(o.seed), '--threads', String(o.threads));
  if (o.blockSize !== undefined) args.push('--block', String(o.blockSize));
  if (o.backend) args.push('--backend', o.backend);
  // The launcher's environment is this process's; a setting goes through `env`.
  const r = await launcher.run('env', [...(env ? [env] : []), process.execPath, ...args]);
  if (r.status !== 0) throw new Error(`${probe} failed (status ${r.status}):\n${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Omit<RssProbe, 'env'>;
  return { ...j, env };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Our model at one precision, loaded once for all rounds. */
class OurRuntime {
  private constructor(
    private readonly model: RwkvModel,
    private readonly toks: readonly number[],
    /** Logits after the prompt, one token a call and as one sequence. */
    readonly logits: Float32Array,
    readonly logitsSeq: Float32Array,
    /** Why this precision is not measured (an option without effect). */
    readonly skipped: string | undefined,
  ) {}

  static async open(
    file: string,
    p: Precision,
    o: CompareOptions,
    fp32Logits: Float32Array | undefined,
  ): Promise<OurRuntime> {
    const options = { threads: o.threads, ...ourOptions(p, o.blockSize) } as RwkvModelOptions;
    const model = await loadRwkvModel(file, options);
    // Logits after the prompt, both modes (and: did a quantization option take effect?).
    const rec = (await model.forward([o.prompt], model.createState(1), { mode: 'recurrent' })).logits.slice();
    const seq = (await model.forward([o.prompt], model.createState(1), { mode: 'sequence' })).logits.slice();
    const skipped =
      (p === 'int8' || p === 'int4') && fp32Logits && maxAbsDiff(rec, fp32Logits) === 0
        ? `RwkvModelOptions.quantization '${p}' had no effect in this build (logits equal fp32's)`
        : undefined;
    const toks = tokensOf(Math.max(o.prefill, o.decode + o.warmup, 8), model.config.nVocab);
    await model.forward([toks.slice(0, 8)], model.createState(1), { mode: 'sequence' });
    return new OurRuntime(model, toks, rec, seq, skipped);
  }

  /**
   * Tokens/s of `decode` steps, one token a call, after `warmup` untimed ones: a session (the
   * state stays with the backend, as rwkv.cpp's buffers do), logits into one array.
   */
  async decodeRate(decode: number, warmup: number): Promise<number> {
    const session = await this.model.openSession(1);
    const into = new Float32Array(this.model.config.nVocab);
    try {
      for (let i = 0; i < warmup; i++) await session.forward([[this.toks[i]!]], { into });
      const t0 = performance.now();
      for (let i = 0; i < decode; i++) await session.forward([[this.toks[warmup + i]!]], { into });
      return (decode * 1000) / (performance.now() - t0);
    } finally {
      await session.dispose();
    }
  }

  /** Tokens/s of one `prefill`-token sequence from a fresh state. */
  async prefillRate(prefill: number): Promise<number> {
    const t0 = performance.now();
    await this.model.forward([this.toks.slice(0, prefill)], this.model.createState(1), { mode: 'sequence' });
    return (prefill * 1000) / (performance.now() - t0);
  }

  /** Aggregate tokens/s of `n` streams stepped together in one session (about `tokens` tokens timed, 2 steps at least). */
  async batchedRate(n: number, tokens: number): Promise<number> {
    const steps = Math.max(2, Math.round(tokens / n));
    const batch = (i: number) =>
      Array.from({ length: n }, (_, s) => [this.toks[(i * 31 + s) % this.toks.length]!]);
    const session = await this.model.openSession(n);
    const into = new Float32Array(n * this.model.config.nVocab);
    try {
      await session.forward(batch(0), { into });
      const t0 = performance.now();
      for (let i = 1; i <= steps; i++) await session.forward(batch(i), { into });
      return (steps * n * 1000) / (performance.now() - t0);
    } finally {
      await session.dispose();
    }
  }

  dispose(): Promise<void> {
    return this.model.dispose();
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
  const rounds = (side: Side) => (side.decodeRuns ?? []).map((x) => x.toFixed(1)).join(' ');
  notes.push(
    `decode tok/s per round, rwkv.cpp / ours: ${result.rows.map((r) => `${r.precision} ${rounds(r.rwkvCpp)} / ${rounds(r.ours)}`).join('; ')}`,
  );
  return [...lines, ...notes.map((n) => `note: ${n}`)];
}

/** Aggregate decode throughput with N streams a call, ours, beside rwkv.cpp's one stream. */
export function formatBatchTable(result: CompareResult): string[] {
  const ns = [...new Set(result.rows.flatMap((r) => Object.keys(r.ours.batched ?? {}).map(Number)))].sort(
    (a, b) => a - b,
  );
  if (ns.length === 0) return [];
  return [
    `| precision | ${ns.map((n) => `ours, ${n} stream${n === 1 ? '' : 's'} a call`).join(' | ')} | rwkv.cpp (one stream a call; N streams in turn) | ours at ${ns.at(-1)} / rwkv.cpp |`,
    `| --- | ${ns.map(() => '---:').join(' | ')} | ---: | ---: |`,
    ...result.rows.map((r) => {
      const b = r.ours.batched ?? {};
      return `| ${r.precision} / ${r.rwkvCppType} | ${ns.map((n) => fmtRate(b[n])).join(' | ')} | ${fmtRate(r.rwkvCpp.decode)} | ${fmtRatio(r.rwkvCpp.decode, b[ns.at(-1)!])} |`;
    }),
  ];
}

/** One line per memory probe: resident memory over the runtime's baseline against the model's bytes. */
export function formatRss(result: CompareResult): string[] {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return result.rss.map(
    (r) =>
      `resident memory, our ${r.precision} model${r.env ? ` (${r.env})` : ' (glibc defaults)'}: ${mib(r.modelRss)} over the baseline of ${mib(r.baselineRss)} (node + onnxruntime + a tiny model) = ${(r.modelRss / r.modelBytes).toFixed(2)}x its ${mib(r.modelBytes)} of weights as held (V8 heap ${mib(r.heapTotal)} of it)`,
  );
}

/** Machine facts for the header. */
export function machineLine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}
