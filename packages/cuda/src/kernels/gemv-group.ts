import { createHash } from 'node:crypto';
import { BadInputError } from '@rwkv-streams/core';
import { type FusedProgram, programStatements } from './elementwise.js';
import { GRID_WAIT, GRID_WAIT_FALLBACK } from './grid-dependency.js';
import { HALF_HELPERS } from './half.js';

/**
 * Several independent half-weight GEMVs in ONE launch, each with the elementwise work
 * around it computed in place: a prologue that computes the input row from its operands
 * as it is read (a lerp, a tanh, relu(k)^2, a gate) and an epilogue applied to each
 * result before it is stored (a bias, a sigmoid, a residual add). Decoding one token is
 * launch-bound (about a thousand small launches a token at 1.5B, each a few microseconds
 * on the GPU however little it does), so the RWKV-7 projections that read the same mixed
 * inputs run as one kernel, and the elementwise kernels around them disappear.
 *
 * Each block belongs to one segment; its 4 warps own 4, 2 or 1 output columns (`gemvSplit`:
 * with few columns, up to 4 warps share one, each summing a slice of the row, so the GPU
 * still has enough loads in flight). A lane streams W[n, :] in 16-byte loads, 4 issued
 * before it uses any, with float32 accumulation and a warp shuffle to finish. Sizes and
 * operand offsets are baked into the source (a group's shape repeats in every layer, so one
 * compilation serves all of them). A Linear outside any group runs as a group of one
 * (exec/lower/gemm.ts).
 */

/** Warps (output columns) per block. */
export const GEMV_GROUP_WARPS = 4;

/** Weight loads each lane has in flight before it computes with them. */
const LOADS_IN_FLIGHT = 4;

/**
 * Rows (streams) up to which a half-weight Linear runs as this GEMV instead of cuBLAS
 * (each row's accumulator lives in registers; past a few rows a GEMM reads the weights
 * once for all of them anyway).
 */
export const GEMV_MAX_ROWS = 4;

/**
 * How one operand of a prologue or epilogue is read at (row m, column j): element
 * `rowOffsets[m] + j * colStride` of its buffer (colStride 0: the same value for every
 * column, e.g. a per-row statistic or a scalar; rowOffsets all 0: the same row for every
 * m, e.g. a weight vector).
 */
export interface GemvOperand {
  readonly rowOffsets: readonly number[];
  readonly colStride: 0 | 1;
  /** Read 8 columns as two float4 loads (colStride 1, 16-byte aligned rows). */
  readonly vector?: boolean;
}

/** One GEMV of a group: y[m, n] = out(sum_j W[n, j] in(m, j)). */
export interface GemvSegmentSpec {
  /** Stored type of W [N, K]. */
  readonly type: 'f16' | 'bf16';
  readonly n: number;
  readonly k: number;
  /**
   * The input row: a program over `operands` (without one, operand 0 is the input as is).
   */
  readonly input: { readonly program?: FusedProgram; readonly operands: readonly GemvOperand[] };
  /**
   * The stored result: a program over operands, operand `acc` being the product (its
   * entry in `operands` is not read); without it the product is stored as is.
   */
  readonly output?: {
    readonly program: FusedProgram;
    readonly acc: number;
    readonly operands: readonly GemvOperand[];
  };
}

/**
 * Tuning of the generated kernel; the defaults are what plans use (the GEMV probe,
 * `bench/src/cuda-gemv.ts`, compares others on a GPU).
 */
export interface GemvKernelOptions {
  /** 16-byte weight loads each lane issues before it uses any (default 4). */
  readonly loadsInFlight?: number;
  /** Warps per block (default GEMV_GROUP_WARPS). */
  readonly warps?: 1 | 2 | 4 | 8;
  /**
   * Warps a column may be split over (`gemvSplit`'s limit, default 4; at most `warps`).
   */
  readonly maxSplit?: 1 | 2 | 4 | 8;
  /**
   * Output columns each warp computes (default 1): each input value it reads serves that
   * many weight rows, so the input's traffic per weight byte falls by the same factor (a
   * batch-1 GEMV reads its fp32 input row once per column, twice the bytes of the fp16
   * weights it multiplies, from L1/L2). Each lane then has `loadsInFlight` loads of each
   * of its columns in flight.
   */
  readonly columns?: 1 | 2 | 4;
}

/** A generated group kernel and its launch size. */
export interface GemvGroupKernel {
  readonly source: string;
  readonly name: string;
  readonly blocks: number;
  readonly threads: number;
}

/**
 * The kernel for `segments` over M rows. Its parameters, segment after segment: W, y, the
 * input operands' pointers, then the output operands' pointers (all but `acc`), each a
 * `{ ptr }` argument.
 */
export function gemvGroupKernel(
  M: number,
  segments: readonly GemvSegmentSpec[],
  options: GemvKernelOptions = {},
): GemvGroupKernel {
  const warps = options.warps ?? GEMV_GROUP_WARPS;
  const loads = options.loadsInFlight ?? LOADS_IN_FLIGHT;
  const maxSplit = options.maxSplit ?? 4;
  const cols = options.columns ?? 1;
  if (![1, 2, 4].includes(cols))
    throw new BadInputError(`GEMV columns a warp must be 1, 2 or 4, got ${cols}`);
  if (![1, 2, 4, 8].includes(warps) || ![1, 2, 4, 8].includes(maxSplit) || maxSplit > warps)
    throw new BadInputError(`GEMV warps ${warps} and split ${maxSplit} must be 1, 2, 4 or 8, split <= warps`);
  if (!Number.isInteger(loads) || loads < 1 || loads > 16)
    throw new BadInputError(`GEMV loads in flight must be 1..16, got ${loads}`);
  if (segments.length === 0) throw new BadInputError('a GEMV group needs at least one segment');
  if (!Number.isInteger(M) || M < 1) throw new BadInputError(`a GEMV group needs rows, got M = ${M}`);
  const params: string[] = [];
  const bodies: string[] = [];
  let start = 0;
  let shared = false;
  segments.forEach((seg, s) => {
    if (seg.k % 8 !== 0) throw new BadInputError(`GEMV rows need K % 8 == 0, got K = ${seg.k}`);
    const check = (ops: readonly GemvOperand[]) => {
      for (const o of ops)
        if (o.rowOffsets.length !== M)
          throw new BadInputError(`a GEMV operand needs ${M} row offsets, got ${o.rowOffsets.length}`);
    };
    check(seg.input.operands);
    if (seg.output) check(seg.output.operands);
    params.push(`const unsigned short* __restrict__ w${s}`, `float* __restrict__ y${s}`);
    seg.input.operands.forEach((_, i) => {
      params.push(`const float* __restrict__ s${s}i${i}`);
    });
    seg.output?.operands.forEach((_, i) => {
      if (i !== seg.output!.acc) params.push(`const float* __restrict__ s${s}o${i}`);
    });
    const split = gemvSplit(Math.ceil(seg.n / cols), seg.k, maxSplit);
    const blocks = Math.ceil((Math.ceil(seg.n / cols) * split) / warps);
    bodies.push(`${s === 0 ? '' : 'else '}if (blockIdx.x < ${start + blocks}) {
${segmentBody(M, seg, s, start, split, warps, loads, cols)}
  }`);
    if (split > 1) shared = true;
    start += blocks;
  });
  const body = `extern "C" __global__ void NAME(${params.join(', ')}) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;${shared ? `\n  __shared__ float partial[${warps * M * cols}];` : ''}
  ${bodies.join(' ')}
}
`;
  const name = `rwkv_gemvg_${createHash('sha256').update(`${M}|${body}`).digest('hex').slice(0, 16)}`;
  return {
    source: `${HALF_HELPERS}${GRID_WAIT_FALLBACK}${body.replace('NAME', name)}`,
    name,
    blocks: start,
    threads: 32 * warps,
  };
}

/**
 * Warps that share one output column (1, 2 or 4, or 8 when `max` allows; each sums a slice of the row, the block
 * adds the partial sums): enough warps in all to fill the GPU (about 8192 on an H100/H200:
 * 64 resident a multiprocessor) while each lane still reads at least one 16-byte chunk.
 * Without it a 2048 x 8192 matrix (the channel mix's value) runs 2048 warps and streams at
 * about a quarter of the memory bandwidth.
 */
export function gemvSplit(n: number, k: number, max: 1 | 2 | 4 | 8 = 4): 1 | 2 | 4 | 8 {
  const chunks = k / 8;
  let s = 1;
  while (s < max && n * s < 8192 && chunks % (2 * s) === 0 && chunks / (2 * s) >= 32) s *= 2;
  return s as 1 | 2 | 4 | 8;
}

function segmentBody(
  M: number,
  seg: GemvSegmentSpec,
  s: number,
  start: number,
  split: number,
  warps: number,
  U: number,
  cols: number,
): string {
  const cvt = seg.type === 'f16' ? 'rwkv_f16_to_f32' : 'rwkv_bf16_to_f32';
  const perSplit = seg.k / 8 / split; // 16-byte chunks of a row each warp sums
  // per column i of the warp's `cols`: its accumulators, loads and weight row (one column:
  // the names of the one-column kernel, so its source is as it was)
  const one = cols === 1;
  const acc = (i: number, m: number) => (one ? `acc[${m}]` : `acc${i}[${m}]`);
  const q = (i: number) => (one ? 'q' : `q${i}`);
  const row = (i: number) => (one ? 'row' : `row${i}`);
  const col = (i: number) => (i === 0 ? 'n' : `(n + ${i})`);
  const columns = Array.from({ length: cols }, (_, i) => i);
  const lines: string[] = [];
  lines.push(
    one
      ? `const int n = (blockIdx.x - ${start}) * ${warps / split} + warp / ${split};`
      : `const int n = ((blockIdx.x - ${start}) * ${warps / split} + warp / ${split}) * ${cols};`,
    `const int part = warp % ${split};`,
  );
  for (const i of columns) lines.push(`float ${one ? 'acc' : `acc${i}`}[${M}];`);
  for (const i of columns) for (let m = 0; m < M; m++) lines.push(`${acc(i, m)} = 0.f;`);
  // The first loads of the weights (constant during a plan) go out before the wait for the
  // kernel before this one (kernels/grid-dependency.ts; a no-op without it), so they stream
  // while that kernel ends; the inputs are read only after it.
  const load = (i: number) =>
    `for (int u = 0; u < ${U}; u++) ${q(i)}[u] = c0 + 32 * u < end ? __ldg(${row(i)} + c0 + 32 * u) : make_uint4(0u, 0u, 0u, 0u);`;
  for (const i of columns)
    lines.push(
      `const uint4* ${row(i)} = reinterpret_cast<const uint4*>(w${s} + (long long)(${col(i)} < ${seg.n} ? ${col(i)} : 0) * ${seg.k});`,
    );
  lines.push(`const int first = part * ${perSplit} + lane;`, `const int end = (part + 1) * ${perSplit};`);
  for (const i of columns) lines.push(`uint4 ${q(i)}[${U}];`);
  lines.push(`if (n < ${seg.n}) {`, '  const int c0 = first;');
  for (const i of columns) lines.push('  #pragma unroll', `  ${load(i)}`);
  lines.push('}', GRID_WAIT, `if (n < ${seg.n}) {`);
  lines.push('  #pragma unroll 1');
  lines.push(`  for (int c0 = first; c0 < end; c0 += ${32 * U}) {`);
  lines.push('    if (c0 != first) {');
  for (const i of columns) lines.push('      #pragma unroll', `      ${load(i)}`);
  lines.push('    }');
  lines.push('    #pragma unroll');
  lines.push(`    for (int u = 0; u < ${U}; u++) {`);
  lines.push('      const int c = c0 + 32 * u;');
  lines.push('      if (c < end) {');
  const halves = (i: number) =>
    ['x', 'y', 'z', 'w']
      .flatMap((f) => [
        `${cvt}((unsigned short)(${q(i)}[u].${f} & 0xffff))`,
        `${cvt}((unsigned short)(${q(i)}[u].${f} >> 16))`,
      ])
      .join(', ');
  for (const i of columns) lines.push(`        const float ${one ? 'w' : `w${i}`}[8] = {${halves(i)}};`);
  for (let m = 0; m < M; m++) {
    lines.push('        {');
    const x = inputRow(seg, s, m);
    lines.push(...x.lines.map((l) => `          ${l}`));
    for (const i of columns)
      lines.push(
        `          ${acc(i, m)} += ${x.values.map((v, e) => `${one ? 'w' : `w${i}`}[${e}] * ${v}`).join(' + ')};`,
      );
    lines.push('        }');
  }
  lines.push('      }', '    }', '  }', '}');
  for (const i of columns)
    for (let m = 0; m < M; m++)
      lines.push(
        `for (int o = 16; o > 0; o >>= 1) ${acc(i, m)} += __shfl_xor_sync(0xffffffffu, ${acc(i, m)}, o);`,
      );
  // per column: whether it exists, then its stores (split: its first warp adds the partial sums)
  const slot = (w: string, i: number, m: number) =>
    one ? `${w} * ${M} + ${m}` : `(${w} * ${cols} + ${i}) * ${M} + ${m}`;
  if (split > 1) {
    // Each warp's partial sums through shared memory; the first warp of a column adds them.
    lines.push('if (lane == 0) {');
    for (const i of columns)
      for (let m = 0; m < M; m++) lines.push(`  partial[${slot('warp', i, m)}] = ${acc(i, m)};`);
    lines.push('}', '__syncthreads();');
    lines.push(`if (lane == 0 && part == 0 && n < ${seg.n}) {`);
    for (const i of columns)
      for (let m = 0; m < M; m++)
        lines.push(
          `  ${acc(i, m)} = ${Array.from({ length: split }, (_, p) => `partial[${slot(`(warp + ${p})`, i, m)}]`).join(' + ')};`,
        );
  } else lines.push(`if (lane == 0 && n < ${seg.n}) {`);
  for (const i of columns) {
    const stores: string[] = [];
    for (let m = 0; m < M; m++) {
      const dst = `y${s}[${m * seg.n} + ${col(i)}]`;
      const out = seg.output;
      if (!out) {
        stores.push(`${dst} = ${acc(i, m)};`);
        continue;
      }
      const leaf = (k: number) => {
        if (k === out.acc) return acc(i, m);
        const o = out.operands[k]!;
        return `s${s}o${k}[${o.rowOffsets[m]}${o.colStride ? ` + ${col(i)}` : ''}]`;
      };
      const stmts = programStatements(out.program, leaf, `e${m}_`);
      stores.push(`{ ${stmts.join(' ')} ${dst} = e${m}_${out.program.nodes.length - 1}; }`);
    }
    if (i === 0) lines.push(...stores.map((l) => `  ${l}`));
    else lines.push(`  if (${col(i)} < ${seg.n}) {`, ...stores.map((l) => `    ${l}`), '  }');
  }
  lines.push('}');
  return lines.map((l) => `    ${l}`).join('\n');
}

/**
 * C lines computing the 8 input values of row m at columns 8c..8c+7, and their names.
 */
function inputRow(seg: GemvSegmentSpec, s: number, m: number): { lines: string[]; values: string[] } {
  const lines: string[] = [];
  // operand i's value at column 8c + e
  const at = seg.input.operands.map((o, i) => {
    const p = `s${s}i${i}`;
    const name = `a${i}_`;
    if (o.colStride === 0) {
      lines.push(`const float ${name} = ${p}[${o.rowOffsets[m]}];`);
      return (_e: number) => name;
    }
    if (o.vector) {
      lines.push(
        `const float4 ${name}lo = __ldg(reinterpret_cast<const float4*>(${p} + ${o.rowOffsets[m]}) + 2 * c);`,
        `const float4 ${name}hi = __ldg(reinterpret_cast<const float4*>(${p} + ${o.rowOffsets[m]}) + 2 * c + 1);`,
      );
      const f = ['x', 'y', 'z', 'w'];
      return (e: number) => `${name}${e < 4 ? 'lo' : 'hi'}.${f[e % 4]}`;
    }
    lines.push(`const float* ${name}p = ${p} + ${o.rowOffsets[m]} + 8 * c;`);
    return (e: number) => `${name}p[${e}]`;
  });
  const program = seg.input.program;
  if (!program) {
    if (seg.input.operands.length !== 1)
      throw new BadInputError('a GEMV input without a program reads exactly one operand');
    return { lines, values: Array.from({ length: 8 }, (_, e) => at[0]!(e)) };
  }
  const values: string[] = [];
  for (let e = 0; e < 8; e++) {
    lines.push(...programStatements(program, (k) => at[k]!(e), `p${e}_`));
    values.push(`p${e}_${program.nodes.length - 1}`);
  }
  return { lines, values };
}
