import { createHash } from 'node:crypto';
import { BadInputError } from '@rwkv-streams/core';
import {
  type ElementwiseOp,
  elementwiseArity,
  elementwiseExpr,
  type FusedRef,
  type StoreType,
} from './elementwise.js';
import { collapse, count, type Walk } from './geometry.js';
import { HALF_HELPERS } from './half.js';
import {
  type WalkIndexing,
  walkIndexing,
  walkIndexType,
  walkOffsets,
  walkStruct,
  walkSuffix,
} from './walk-index.js';

/**
 * Row-fused kernels generated at run time (exec/row-fusion.ts finds them): a sum over the
 * last axis of [..., N] rows together with the elementwise ops around it, as ONE kernel.
 * RWKV-7 normalizes k per head as x / max(sqrt(sum(x * x)), eps) and adds a per-head
 * bonus sum(r * k * r_k) * v: each is ~4-6 launches of tiny kernels when every op is its
 * own, and one here.
 *
 * One warp a row (not a block): rows are short (RWKV heads are 64 floats, two per lane)
 * and many (batch x heads), so a warp needs no shared memory and no __syncthreads, its
 * lanes combine the sum with five shuffles, and a block of eight warps serves eight rows
 * without idle threads; a block a row would leave most of a 256-thread block idle at
 * N = 64 and synchronize twice a row. Rows up to ~1024 keep 32 elements a lane at most.
 *
 * Per row, phase 1 computes the "prologue" (the elementwise ops feeding the sum) for the
 * warp's elements and sums in float32; per-row values follow (e.g. the norm); phase 2
 * computes the elementwise results of the row and stores each in its own type (float32,
 * or rounded to half like the elementwise kernels). Phase 2 recomputes any prologue value
 * it needs from the leaves rather than keeping it: the sizes stay out of the source (no
 * register array sized by N) and the reloads hit the L1 the warp just filled.
 *
 * A program may hold several sums (a LayerNorm folded in, exec/row-fusion.ts: the mean,
 * then the variance of x - mean): each is a pass like phase 1, in program order, and may
 * use the per-row values of the sums before it; a one-sum program's source is as before.
 *
 * The source depends only on the program and the walk's rank and index width, never on
 * sizes (the row length and every stride are launch arguments).
 */

/** Whether a value is one per element of a row or one per row (shape [..., 1]). */
export type RowKind = 'elem' | 'row';

/** An op of a row program: an elementwise op, or the sum of its (per-element) operand over the row. */
export type RowOp = ElementwiseOp | 'ReduceSum';

/**
 * An operand of a row node: a leaf, an earlier node, or a float32 constant (a LayerNorm
 * expanded in a row program divides by the row length and adds its epsilon; a constant in
 * the source costs no operand, and the IR's elementwise ops have no attributes to carry it).
 */
export type RowRef = FusedRef | { readonly literal: number };

/**
 * A row-fused program: leaves (each read per element or once a row), nodes in order (an
 * elementwise op, or a ReduceSum), and the nodes stored, one output each. A node's kind
 * follows from its operands: a sum is per row, an elementwise node is per element when any
 * operand is, else per row (constants are per row).
 */
export interface RowProgram {
  /** Per leaf: read at each element of the row, or once a row. */
  readonly leaves: readonly RowKind[];
  readonly nodes: readonly { readonly op: RowOp; readonly args: readonly RowRef[] }[];
  /** The nodes stored, in output order. */
  readonly results: readonly number[];
}

/** The kind of every node of a row program (and checks its shape: one sum or more, each of a per-element node). */
export function rowNodeKinds(p: RowProgram): RowKind[] {
  const kinds: RowKind[] = [];
  let sums = 0;
  const kindOf = (r: RowRef): RowKind => {
    if ('literal' in r) {
      if (!Number.isFinite(r.literal))
        throw new BadInputError(`row program constant ${r.literal} is not finite`);
      return 'row';
    }
    if ('leaf' in r) {
      const k = p.leaves[r.leaf];
      if (!k) throw new BadInputError(`leaf ${r.leaf} is not a leaf of the row program`);
      return k;
    }
    const k = kinds[r.node];
    if (!k) throw new BadInputError(`node ${r.node} is read before it is computed`);
    return k;
  };
  for (const n of p.nodes) {
    if (n.op === 'ReduceSum') {
      sums++;
      if (n.args.length !== 1 || kindOf(n.args[0]!) !== 'elem')
        throw new BadInputError('a sum of a row program takes one per-element operand');
      kinds.push('row');
      continue;
    }
    if (n.args.length !== elementwiseArity(n.op))
      throw new BadInputError(`${n.op} takes ${elementwiseArity(n.op)} operands`);
    kinds.push(n.args.some((a) => kindOf(a) === 'elem') ? 'elem' : 'row');
  }
  if (sums === 0) throw new BadInputError('a row program has at least one sum, not 0');
  for (const r of p.results)
    if (!(Number.isInteger(r) && r >= 0 && r < p.nodes.length))
      throw new BadInputError(`result ${r} is not a node of the row program (${p.nodes.length} nodes)`);
  return kinds;
}

/** Nodes `targets` depend on (themselves included) among nodes of `kind`, as a mask. */
function closure(
  p: RowProgram,
  kinds: readonly RowKind[],
  targets: readonly number[],
  kind: RowKind,
): boolean[] {
  const need = p.nodes.map(() => false);
  const visit = (j: number) => {
    if (need[j] || kinds[j] !== kind) return;
    need[j] = true;
    for (const a of p.nodes[j]!.args) if ('node' in a) visit(a.node);
  };
  for (const t of targets) visit(t);
  return need;
}

/**
 * One pass of a row kernel over the row, for one sum: the per-element nodes feeding it
 * (recomputed from the leaves in every pass that needs them), then the per-row nodes whose
 * last sum it is.
 */
export interface RowPass {
  readonly sum: number;
  readonly nodes: readonly number[];
  readonly after: readonly number[];
}

/**
 * The order a row kernel computes in: per-row nodes that need no sum, one pass per sum in
 * program order (so a sum's operand may use per-row values of earlier sums: a LayerNorm's
 * variance sums (x - mean)^2), and the per-element nodes of the last pass, which feed the
 * per-element results. Exported for host interpreters (tests) to run the same order.
 */
export function rowPhases(p: RowProgram): {
  kinds: RowKind[];
  before: number[];
  passes: RowPass[];
  phase2: number[];
} {
  const kinds = rowNodeKinds(p);
  // the last sum each node depends on (-1: none); a per-row node runs right after it
  const lastSum: number[] = [];
  p.nodes.forEach((n, j) => {
    lastSum.push(
      n.op === 'ReduceSum' ? j : Math.max(-1, ...n.args.map((a) => ('node' in a ? lastSum[a.node]! : -1))),
    );
  });
  const idx = (mask: (j: number) => boolean) => p.nodes.map((_, j) => j).filter(mask);
  const perRow = (j: number) => kinds[j] === 'row' && p.nodes[j]!.op !== 'ReduceSum';
  const passes = idx((j) => p.nodes[j]!.op === 'ReduceSum').map((sum): RowPass => {
    const arg = p.nodes[sum]!.args[0]!;
    const need = 'node' in arg ? closure(p, kinds, [arg.node], 'elem') : p.nodes.map(() => false);
    return { sum, nodes: idx((j) => need[j]!), after: idx((j) => perRow(j) && lastSum[j] === sum) };
  });
  const p2 = closure(
    p,
    kinds,
    p.results.filter((r) => kinds[r] === 'elem'),
    'elem',
  );
  return {
    kinds,
    before: idx((j) => perRow(j) && lastSum[j] === -1),
    passes,
    phase2: idx((j) => p2[j]!),
  };
}

/** A float32 constant as C (nine significant digits name every float32 exactly). */
export function floatLiteral(v: number): string {
  if (!Number.isFinite(v)) throw new BadInputError(`row program constant ${v} is not finite`);
  const s = `${Math.fround(v).toPrecision(9)}f`;
  return v < 0 ? `(${s})` : s;
}

/**
 * The generated kernel of a row program. Operands: the outputs first (one a result), then
 * the leaves; then the walk over rows (`walkStruct`, rank `ix.rank`: each operand's offset
 * of the row's start) and the columns (`RowCols`: the row length and each operand's stride
 * along the row, 0 for per-row values).
 */
export function rowFusedKernel(
  p: RowProgram,
  ix: WalkIndexing,
  outTypes: readonly StoreType[],
): { source: string; name: string } {
  const { kinds, before, passes, phase2 } = rowPhases(p);
  const K = p.results.length;
  if (outTypes.length !== K)
    throw new BadInputError(`${K} results need as many output types, got ${outTypes.length}`);
  const L = p.leaves.length;
  const ops = K + L;
  const T = walkIndexType(ix);
  const leafExpr = (k: number) => `x${k}`;
  const ref = (r: RowRef) =>
    'literal' in r ? floatLiteral(r.literal) : 'leaf' in r ? leafExpr(r.leaf) : `t${r.node}`;
  const stmt = (j: number) => {
    const n = p.nodes[j]!;
    if (n.op === 'ReduceSum') throw new BadInputError('a sum is not a statement');
    return `const float t${j} = ${elementwiseExpr(n.op, ref(n.args[0]!), n.args[1] ? ref(n.args[1]) : '')};`;
  };
  // leaves each phase reads
  const leavesOf = (nodes: readonly number[], kind: RowKind) => {
    const used = new Set<number>();
    for (const j of nodes)
      for (const a of p.nodes[j]!.args) if ('leaf' in a && p.leaves[a.leaf] === kind) used.add(a.leaf);
    return [...used].sort((a, b) => a - b);
  };
  const elemLoad = (k: number) => `const float x${k} = in${k}[off${K + k} + j * (${T})rc.cols[${K + k}]];`;
  const rowLeaves = p.leaves.map((_, k) => k).filter((k) => p.leaves[k] === 'row');
  const rowLoads = rowLeaves.map((k) => `const float x${k} = in${k}[off${K + k}];`);
  // one loop a sum, its warp total shuffled to every lane; later sums reuse the accumulator
  const pass = (s: RowPass, i: number) => {
    const arg = p.nodes[s.sum]!.args[0]!;
    // a sum of a leaf alone reads it here (no node of the pass loads it)
    const loads = leavesOf(s.nodes, 'elem');
    if ('leaf' in arg && !loads.includes(arg.leaf)) loads.push(arg.leaf);
    return `${i === 0 ? 'float acc' : 'acc'} = 0.f;
    for (${T} j = lane; j < rc.len; j += 32) {
      ${loads
        .sort((a, b) => a - b)
        .map(elemLoad)
        .join(' ')}
      ${s.nodes.map(stmt).join('\n      ')}
      acc += ${ref(arg)};
    }
    for (int m = 16; m > 0; m >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, m);
    const float t${s.sum} = acc;
    ${s.after.map(stmt).join('\n    ')}`;
  };
  const store = (r: number, j: number, at: string) =>
    `out${j}[${at}] = ${outTypes[j] === 'f32' ? `t${r}` : `rwkv_f32_to_${outTypes[j]}(t${r})`};`;
  const rowStores = p.results.flatMap((r, j) => (kinds[r] === 'row' ? [store(r, j, `off${j}`)] : []));
  const elemStores = p.results.flatMap((r, j) =>
    kinds[r] === 'elem' ? [store(r, j, `off${j} + j * (${T})rc.cols[${j}]`)] : [],
  );
  const body = `${walkOffsets(ops, ix)}
    ${rowLoads.join(' ')}
    ${before.map(stmt).join('\n    ')}
    ${passes.map(pass).join('\n    ')}
    ${rowStores.length > 0 ? `if (lane == 0) { ${rowStores.join(' ')} }` : ''}
    ${
      phase2.length > 0 || elemStores.length > 0
        ? `for (${T} j = lane; j < rc.len; j += 32) {
      ${leavesOf(phase2, 'elem').map(elemLoad).join(' ')}
      ${phase2.map(stmt).join('\n      ')}
      ${elemStores.join(' ')}
    }`
        : ''
    }`;
  const shape = `${JSON.stringify(p)}|${outTypes.join(',')}`;
  const name = `rwkv_row_${createHash('sha256').update(shape).digest('hex').slice(0, 16)}${walkSuffix(ix)}`;
  const outs = outTypes.map((t, j) => `${t === 'f32' ? 'float' : 'unsigned short'}* __restrict__ out${j}`);
  const ins = p.leaves.map((_, k) => `const float* __restrict__ in${k}`);
  const half = outTypes.some((t) => t !== 'f32');
  const source = `${half ? HALF_HELPERS : ''}${walkStruct('RowWalk', ops, ix)}
${rowColsStruct(ops, ix)}
extern "C" __global__ void ${name}(${[...outs, ...ins].join(', ')}, const RowWalk g, const RowCols rc) {
  const ${T} warps = (${T})gridDim.x * (blockDim.x >> 5);
  const ${T} lane = threadIdx.x & 31;
  for (${T} i = (${T})blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); i < g.n; i += warps) {
    ${body}
  }
}
`;
  return { source, name };
}

/** The C struct of a row kernel's columns: the row length and each operand's stride along the row. */
function rowColsStruct(operands: number, ix: WalkIndexing): string {
  const T = ix.wide ? 'long long' : 'int';
  return `struct RowCols { ${T} len; ${T} cols[${operands}]; };`;
}

/** Encodes the row length and each operand's stride along the row as `RowCols`' bytes. */
export function encodeRowCols(len: number, cols: readonly number[], ix: WalkIndexing): Uint8Array {
  const width = ix.wide ? 8 : 4;
  const bytes = new Uint8Array(width * (1 + cols.length));
  const v = new DataView(bytes.buffer);
  [len, ...cols].forEach((x, i) => {
    if (ix.wide) v.setBigInt64(i * width, BigInt(x), true);
    else v.setInt32(i * width, x, true);
  });
  return bytes;
}

/**
 * How an operand of a row kernel is laid over the elements: dims whose count is the
 * rows' (rows x N) and its element strides there (0 where it broadcasts). A per-row value
 * of shape P is seen as [...P, N] with stride 0 along N.
 */
export interface RowView {
  readonly dims: readonly number[];
  readonly strides: readonly number[];
}

/** Where a row kernel's operands are: the walk over rows (collapsed) and strides along a row. */
export interface RowGeometry {
  /** Over the rows: dims and, per operand, the strides of its row starts. */
  readonly walk: Walk;
  /** Per operand: its stride along the row. */
  readonly cols: readonly number[];
  /** Row length (N). */
  readonly len: number;
  /** 32- or 64-bit indexing (over rows and columns). */
  readonly ix: WalkIndexing;
}

/**
 * The geometry of operands seen through different shapes of the same elements (a
 * contiguous reshape between [B, T, C] and [B, T, H, N] keeps every element's flat index).
 * The finest dims that every view's dims are products of (their common refinement) index
 * every operand; those making up the row's N must collapse to one stride per operand, the
 * rest become the walk over rows. Returns a reason instead when there is no such geometry
 * (views whose dims do not nest, a stride that changes inside a row, too many dims).
 */
export function rowGeometry(views: readonly RowView[], len: number): RowGeometry | string {
  if (views.length === 0) return 'no operands';
  const total = count(views[0]!.dims);
  if (len < 1 || total % len !== 0) return `rows of ${len} do not divide ${total} elements`;
  // every view's suffix products, and the rows' own boundary
  const bounds = new Set<number>([1, len, total]);
  for (const v of views) {
    if (count(v.dims) !== total) return `a view of [${v.dims}] is not ${total} elements`;
    let q = 1;
    for (let i = v.dims.length - 1; i >= 0; i--) {
      q *= v.dims[i]!;
      bounds.add(q);
    }
  }
  const chain = [...bounds].sort((a, b) => a - b);
  for (let i = 1; i < chain.length; i++)
    if (chain[i]! % chain[i - 1]! !== 0) return `dims that do not nest (${chain[i - 1]} and ${chain[i]})`;
  // refined dims, innermost first: base (product of the inner ones) and extent
  const fine = chain.slice(1).map((b, i) => ({ base: chain[i]!, extent: b / chain[i]! }));
  const strides = views.map((v) =>
    fine.map((f) => {
      let q = 1;
      for (let i = v.dims.length - 1; i >= 0; i--) {
        const d = v.dims[i]!;
        if (d > 1 && f.base >= q && f.base < q * d) return v.strides[i]! * (f.base / q);
        q *= d;
      }
      return 0;
    }),
  );
  const inner = fine.map((f, i) => ({ f, i })).filter(({ f }) => f.base < len);
  const outer = fine.map((f, i) => ({ f, i })).filter(({ f }) => f.base >= len);
  // outermost first for collapse
  const walkOf = (part: typeof inner) => ({
    dims: [...part].reverse().map(({ f }) => f.extent),
    strides: strides.map((s) => [...part].reverse().map(({ i }) => s[i]!)),
  });
  let rowsWalk: Walk;
  let colsWalk: Walk;
  try {
    colsWalk = collapse(walkOf(inner));
    rowsWalk = collapse(walkOf(outer));
  } catch (e) {
    return (e as Error).message;
  }
  if (colsWalk.dims.length !== 1 || colsWalk.dims[0] !== len)
    return `a stride changes inside a row of ${len} (dims [${colsWalk.dims}])`;
  const cols = colsWalk.strides.map((s) => s[0]!);
  const ix = walkIndexing({
    dims: [...rowsWalk.dims, len],
    strides: rowsWalk.strides.map((s, k) => [...s, cols[k]!]),
  });
  return { walk: rowsWalk, cols, len, ix: { rank: rowsWalk.dims.length, wide: ix.wide } };
}
