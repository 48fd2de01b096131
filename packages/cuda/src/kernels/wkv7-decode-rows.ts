import { createHash } from 'node:crypto';
import { BadInputError } from '@rwkv-streams/core';
import { elementwiseExpr } from './elementwise.js';
import { floatLiteral, type RowProgram, type RowRef, rowNodeKinds } from './row-fused.js';
import { readStepVector, WKV7_DECODE_ROWS, wkv7StepLines } from './wkv7-decode.js';

/**
 * The one-step WKV-7 kernel (kernels/wkv7-decode.ts: a warp per value row) with the row
 * program that makes its k, a and b computed in the kernel (exec/wkv7-row-prologue.ts):
 * each warp evaluates the program over its head's row (N values, N / 32 a lane, the sums
 * as warp shuffles) before the step, and the warps of value row 0 store the program's
 * results that others read. RWKV-7's decode step: the L2 norm of k * k_k (kk), the
 * modified k and kk * a, a row kernel launch of its own a layer before.
 *
 * Each program leaf and stored result is addressed as `b * bStride + h * hStride +
 * j * colStride` (b the stream, h the head, j the column within the head; colStride 0 for a
 * per-row value). Strides and sizes are baked into the source (every layer has the same).
 */

/** Where a leaf is read, or a result stored, at (stream b, head h, column j). */
export interface HeadRowAccess {
  readonly bStride: number;
  readonly hStride: number;
  readonly colStride: number;
}

/** The program computed in the kernel. */
export interface Wkv7RowPrologue {
  /** Over one head's row of N. */
  readonly program: RowProgram;
  /** Heads per stream (splits the row index into b and h). */
  readonly heads: number;
  /** One per program leaf. */
  readonly leaves: readonly HeadRowAccess[];
  /** The program nodes that stand for the kernel's k, a and b (per element); absent: read as usual. */
  readonly feeds: { readonly k?: number; readonly a?: number; readonly b?: number };
  /** Program nodes stored (by the warps of value row 0), each where its access says. */
  readonly stores: readonly (HeadRowAccess & { readonly node: number })[];
}

/**
 * The kernel for head size N with `pro` computed in it. Parameters: r, w, k, v, a, b (the
 * fed ones unused, pass 0), s_in, y, s_out, rows (int), then each leaf's pointer, then each
 * stored result's pointer. Launch as the one-step kernel: ceil(rows / WKV7_DECODE_ROWS)
 * blocks of 32 * WKV7_DECODE_ROWS.
 */
export function wkv7DecodeRowsKernel(
  N: number,
  pro: Wkv7RowPrologue,
): { source: string; name: string; threads: number } {
  if (N % 32 !== 0 || N > 256)
    throw new BadInputError(`the one-step WKV-7 kernel needs N a multiple of 32 up to 256, got ${N}`);
  const p = pro.program;
  const kinds = rowNodeKinds(p);
  if (pro.leaves.length !== p.leaves.length)
    throw new BadInputError(`the prologue reads ${p.leaves.length} leaves, ${pro.leaves.length} described`);
  for (const [what, j] of Object.entries(pro.feeds))
    if (j !== undefined && kinds[j] !== 'elem')
      throw new BadInputError(`the prologue's ${what} must be a per-element node, not ${j}`);
  const C = N / 32;
  const lines: string[] = [];
  // leaves: per element, C values a lane; per row, one value
  p.leaves.forEach((kind, l) => {
    const a = pro.leaves[l]!;
    const base = `b * ${a.bStride}LL + h * ${a.hStride}LL`;
    if (kind === 'row') lines.push(`const float x${l} = in${l}[${base}];`);
    else
      lines.push(
        `float x${l}[${C}];`,
        `#pragma unroll`,
        `for (int c = 0; c < ${C}; c++) x${l}[c] = in${l}[${base} + (long long)(lane + 32 * c) * ${a.colStride}];`,
      );
  });
  const ref = (r: RowRef, c: string): string => {
    if ('literal' in r) return floatLiteral(r.literal);
    if ('leaf' in r) return p.leaves[r.leaf] === 'row' ? `x${r.leaf}` : `x${r.leaf}[${c}]`;
    return kinds[r.node] === 'row' ? `t${r.node}` : `t${r.node}[${c}]`;
  };
  p.nodes.forEach((n, j) => {
    if (n.op === 'ReduceSum') {
      lines.push(
        `float t${j} = 0.f;`,
        `#pragma unroll`,
        `for (int c = 0; c < ${C}; c++) t${j} += ${ref(n.args[0]!, 'c')};`,
        `#pragma unroll`,
        `for (int o = 16; o > 0; o >>= 1) t${j} += __shfl_xor_sync(0xffffffffu, t${j}, o);`,
      );
      return;
    }
    const [a, b] = [n.args[0] ? ref(n.args[0], 'c') : '', n.args[1] ? ref(n.args[1], 'c') : ''];
    if (kinds[j] === 'row') lines.push(`const float t${j} = ${elementwiseExpr(n.op, a, b)};`);
    else
      lines.push(
        `float t${j}[${C}];`,
        `#pragma unroll`,
        `for (int c = 0; c < ${C}; c++) t${j}[c] = ${elementwiseExpr(n.op, a, b)};`,
      );
  });
  // the program's results others read, stored once a head
  const stores = pro.stores.map((s, i) => {
    const base = `b * ${s.bStride}LL + h * ${s.hStride}LL`;
    return kinds[s.node] === 'row'
      ? `if (lane == 0) out${i}[${base}] = t${s.node};`
      : `#pragma unroll\n    for (int c = 0; c < ${C}; c++) out${i}[${base} + (long long)(lane + 32 * c) * ${s.colStride}] = t${s.node}[c];`;
  });
  const fed = (which: 'a' | 'b' | 'k', ptr: string) => {
    const j = pro.feeds[which];
    return j === undefined ? readStepVector(which, ptr) : `t${j}[c]`;
  };
  const params = [
    'const float* __restrict__ r',
    'const float* __restrict__ w',
    'const float* __restrict__ k',
    'const float* __restrict__ v',
    'const float* __restrict__ a',
    'const float* __restrict__ bb',
    'const float* s_in',
    'float* __restrict__ y',
    'float* s_out',
    'int rows',
    ...p.leaves.map((_, l) => `const float* __restrict__ in${l}`),
    ...pro.stores.map((_, i) => `float* __restrict__ out${i}`),
  ];
  const body = `extern "C" __global__ void NAME(${params.join(', ')}) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * ${WKV7_DECODE_ROWS} + (threadIdx.x >> 5);  // (b * H + h) * N + i
  if (row >= rows) return;
  const int bh = row / ${N};
  const int b = bh / ${pro.heads}, h = bh % ${pro.heads};
  const long long vec = (long long)bh * ${N};  // this head's step vectors
  const long long st = (long long)row * ${N};  // s[b, h, i, :]
  ${lines.join('\n  ')}
  if (row % ${N} == 0) {
    ${stores.join('\n    ')}
  }
  ${wkv7StepLines(N, fed)}
}
`;
  const name = `rwkv_wkv7_decode_rows_${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
  return { source: body.replace('NAME', name), name, threads: 32 * WKV7_DECODE_ROWS };
}
