import { createHash } from 'node:crypto';
import { BadInputError } from '@rwkv-streams/core';
import { type FusedProgram, programStatements, type StoreType } from './elementwise.js';
import { HALF_HELPERS } from './half.js';
import { LAYER_NORM_BLOCK_SUM, layerNormThreads } from './layer-norm.js';

/**
 * A LayerNorm over rows of C with the elementwise group that reads its result computed in
 * the same kernel (exec/norm-epilogue.ts): one block a row, the row's mean and variance as
 * the plain LayerNorm kernel computes them (kernels/layer-norm.ts, the same two passes and
 * arithmetic), then per element the normalized value, stored if anything else reads it, and
 * the group's program over it, once for each of the R copies of the row in the group's
 * result. RWKV-7's decode step: ln1 and the six token-shift mixes ([6, B, C]) it feeds, one
 * launch instead of two a layer.
 *
 * The group's result is [R, B, C] (its dims: R's, then the LayerNorm's); every other leaf
 * is read at `r * rowCopyOffsets-of-r + b * rowStride + c * colStride` (its broadcast
 * strides over that result, checked affine in b by the planner). Sizes and offsets are
 * baked into the source: a layer's shapes repeat in every layer, so one compilation serves
 * all of them.
 */

/** How a leaf other than the normalized value is read at (r, b, c). */
export interface NormEpilogueLeaf {
  /** Element offset of copy r's row 0, column 0 (one entry a copy). */
  readonly copyOffsets: readonly number[];
  /** Elements between consecutive rows b (0: the same row for every b). */
  readonly rowStride: number;
  /** Elements between consecutive columns c (0 or 1 in practice). */
  readonly colStride: number;
}

/** What the kernel computes. */
export interface NormEpilogueSpec {
  /** Row length (the normalized axis). */
  readonly C: number;
  /** Rows (the LayerNorm's other elements: the batch of streams). */
  readonly B: number;
  /** Copies of each row in the group's result (1 when it has the LayerNorm's shape). */
  readonly R: number;
  /** Whether the LayerNorm has a weight / a bias. */
  readonly weight: boolean;
  readonly bias: boolean;
  /** Whether the normalized value itself is stored (something else reads it). */
  readonly storeNormalized: boolean;
  /** The group's program; leaf `normalizedLeaf` is the normalized value. */
  readonly program: FusedProgram;
  readonly normalizedLeaf: number;
  /** One entry a leaf of the program (the normalized leaf's entry is not read). */
  readonly leaves: readonly NormEpilogueLeaf[];
  /** How the group's result is stored. */
  readonly outType: StoreType;
}

/** Copies of a row one kernel computes at most (each is unrolled into the source). */
export const NORM_EPILOGUE_MAX_COPIES = 8;

/**
 * The kernel of `spec` and its launch size (a block a row). Parameters: x, weight (if
 * any), bias (if any), the normalized output (if stored), the group's result, each leaf
 * but the normalized one in order, then epsilon (f32).
 */
export function normEpilogueKernel(spec: NormEpilogueSpec): {
  source: string;
  name: string;
  grid: number;
  threads: number;
} {
  const { C, B, R, program: p } = spec;
  for (const [what, n] of [
    ['C', C],
    ['B', B],
    ['R', R],
  ] as const)
    if (!Number.isInteger(n) || n < 1)
      throw new BadInputError(`a LayerNorm epilogue needs ${what} >= 1, got ${n}`);
  if (R > NORM_EPILOGUE_MAX_COPIES)
    throw new BadInputError(
      `a LayerNorm epilogue computes at most ${NORM_EPILOGUE_MAX_COPIES} copies of a row, got ${R}`,
    );
  if (p.nodes.length === 0) throw new BadInputError('a LayerNorm epilogue needs at least one op');
  if (p.results && !(p.results.length === 1 && p.results[0] === p.nodes.length - 1))
    throw new BadInputError('a LayerNorm epilogue stores one result, its last node');
  if (spec.leaves.length !== p.leaves)
    throw new BadInputError(`the epilogue reads ${p.leaves} leaves, ${spec.leaves.length} described`);
  if (!(spec.normalizedLeaf >= 0 && spec.normalizedLeaf < p.leaves))
    throw new BadInputError(`normalized leaf ${spec.normalizedLeaf} is not one of ${p.leaves}`);
  spec.leaves.forEach((l, k) => {
    if (k !== spec.normalizedLeaf && l.copyOffsets.length !== R)
      throw new BadInputError(`leaf ${k} needs ${R} copy offsets, got ${l.copyOffsets.length}`);
  });
  const params = ['const float* __restrict__ x'];
  if (spec.weight) params.push('const float* __restrict__ weight');
  if (spec.bias) params.push('const float* __restrict__ bias');
  if (spec.storeNormalized) params.push('float* __restrict__ y');
  params.push(`${spec.outType === 'f32' ? 'float' : 'unsigned short'}* __restrict__ out`);
  spec.leaves.forEach((_, k) => {
    if (k !== spec.normalizedLeaf) params.push(`const float* __restrict__ in${k}`);
  });
  params.push('float eps');
  const last = p.nodes.length - 1;
  const store = (v: string) => (spec.outType === 'f32' ? v : `rwkv_f32_to_${spec.outType}(${v})`);
  const copies: string[] = [];
  for (let r = 0; r < R; r++) {
    const leaf = (k: number) => {
      if (k === spec.normalizedLeaf) return 'v';
      const l = spec.leaves[k]!;
      const terms = [String(l.copyOffsets[r]!)];
      if (l.rowStride !== 0) terms.push(`b * ${l.rowStride}LL`);
      if (l.colStride !== 0) terms.push(l.colStride === 1 ? 'c' : `c * ${l.colStride}LL`);
      return `in${k}[${terms.join(' + ')}]`;
    };
    const stmts = programStatements(p, leaf, `r${r}_`);
    copies.push(`{ ${stmts.join(' ')} out[(${r}LL * ${B} + b) * ${C} + c] = ${store(`r${r}_${last}`)}; }`);
  }
  const body = `extern "C" __global__ void NAME(${params.join(', ')}) {
  __shared__ float shared[32];
  const int b = blockIdx.x;
  const float* row = x + (long long)b * ${C};
  float s = 0.f;
  for (int i = threadIdx.x; i < ${C}; i += blockDim.x) s += row[i];
  const float mean = rwkv_block_sum(s, shared) / ${C};
  float q = 0.f;
  for (int i = threadIdx.x; i < ${C}; i += blockDim.x) { const float d = row[i] - mean; q += d * d; }
  const float rstd = rsqrtf(rwkv_block_sum(q, shared) / ${C} + eps);
  for (int c = threadIdx.x; c < ${C}; c += blockDim.x) {
    float v = (row[c] - mean) * rstd;${spec.weight ? '\n    v *= weight[c];' : ''}${spec.bias ? '\n    v += bias[c];' : ''}${
      spec.storeNormalized ? `\n    y[(long long)b * ${C} + c] = v;` : ''
    }
    ${copies.join('\n    ')}
  }
}
`;
  const name = `rwkv_ln_epi_${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
  const half = spec.outType !== 'f32';
  return {
    source: `${half ? HALF_HELPERS : ''}${LAYER_NORM_BLOCK_SUM}${body.replace('NAME', name)}`,
    name,
    grid: B,
    threads: layerNormThreads(C),
  };
}
