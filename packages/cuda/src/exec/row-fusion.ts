import type { Graph, Node, Value } from '@rwkv-streams/core';
import { broadcastStrides, contiguousStrides, count } from '../kernels/geometry.js';
import {
  type RowKind,
  type RowOp,
  type RowProgram,
  type RowRef,
  type RowView,
  rowGeometry,
  rowNodeKinds,
} from '../kernels/row-fused.js';
import type { ShapeMap } from './shapes.js';
import { isAlias, type RowFusedUnit, type Unit, unitLinks } from './units.js';

/**
 * Row fusion: a ReduceSum over the last axis (keepdims) becomes ONE kernel with the
 * elementwise units around it (kernels/row-fused.ts): its producers (the "prologue",
 * computed per element of the row and summed, never stored unless read elsewhere too) and
 * its consumers that are computable per row, values of the rows' shape [..., N] or one per
 * row [..., 1] (the "epilogue": the norm, the division, results stored in their own
 * types). RWKV-7's decode step has two per layer: the L2 norm of k per head (k * k_k,
 * x * x, the sum, sqrt and max, the division, then -kk and kk * a for the Wkv7 op: six
 * kernels) and the bonus sum(r * k * r_k) * v + ln_x(wkv) (three); each becomes one.
 *
 * Reshapes (alias ops) between [B, T, C] and [B, T, H, N] inside such a chain are
 * absorbed: a contiguous reshape keeps every element's flat index, so each node is
 * computed at its own shape and its leaves broadcast by their own strides
 * (`rowGeometry` finds the dims that every shape is a product of). A reshape whose result
 * is also read outside stays (after the row unit), as the view of a stored value.
 *
 * With `foldNorms`, a LayerNorm over the rows without weight or bias (RWKV-7's per-head
 * ln_x, whose affine is the first two ops of the bonus chain) joins too, expanded into the
 * program as two more sums: mean = sum(x) / N, c = x - mean, var = sum(c * c) / N,
 * y = c / sqrt(var + eps) (the CUDA LayerNorm kernel's two-pass arithmetic and epsilon),
 * so the step saves its launch per layer. On by default in plans (PlanOptions.fuseRowNorms).
 *
 * Runs after GEMV grouping (a GEMV's prologue or epilogue costs no launch at all, so it
 * keeps what it took), after half activations (each stored value keeps the type chosen
 * for it; a value that a row unit reads was never made half, since half values are read
 * only by Linears) and before sibling fusion (which merges only the single-result
 * elementwise units left: the -kk and kk * a above are siblings, and one row kernel
 * computing the whole chain saves more launches than merging those two).
 */

/** Bounds on one row-fused kernel. */
export interface RowFusionLimits {
  /** Longest row summed (a warp walks it: 32 elements a lane at 1024). */
  readonly maxRow: number;
  /** Nodes computed (the sum included). */
  readonly maxNodes: number;
  /** Leaves (inputs as read through their shapes) read by one kernel. */
  readonly maxLeaves: number;
  /** Results stored by one kernel. */
  readonly maxResults: number;
}

/** The default bounds: RWKV-7's chains (up to 8 nodes, 5 leaves, 2 results) with room. */
export const ROW_LIMITS: RowFusionLimits = { maxRow: 1024, maxNodes: 32, maxLeaves: 16, maxResults: 4 };

/** What row fusion may take besides elementwise units and reshapes. */
export interface RowFusionOptions {
  /** LayerNorms over the rows without weight or bias, expanded into the program (see above). */
  readonly foldNorms?: boolean;
  /**
   * Elementwise units that read an activation a member reads join too (stored by the row
   * kernel): RWKV-7's k * (1 + (a - 1) * k_a) with the L2 norm of k * k_k, one launch
   * fewer a layer. On by default in plans (PlanOptions.fuseRowSiblings).
   */
  readonly siblings?: boolean;
}

/** Replaces each ReduceSum over the last axis and its elementwise neighbours by a row unit (see above). */
export function fuseRows(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  limits: RowFusionLimits = ROW_LIMITS,
  options: RowFusionOptions = {},
): Unit[] {
  const { producer, readers } = unitLinks(units);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const nodeIndex = new Map(graph.nodes.map((n, i) => [n, i]));
  const taken = new Set<number>();
  const made = new Map<number, { unit: RowFusedUnit; kept: number[] }>(); // at its last member
  units.forEach((u, i) => {
    if (u.kind !== 'node' || u.node.op !== 'ReduceSum' || !isRowSum(u.node, shapes, limits)) return;
    const dims = shapes.get(u.inputs[0]!.name)!;
    const ctx: Ctx = {
      units,
      shapes,
      graphOutputs,
      readers,
      nodeIndex,
      len: dims[dims.length - 1]!,
      rows: count(dims) / dims[dims.length - 1]!,
      limits,
      foldNorms: options.foldNorms === true,
      siblings: options.siblings === true,
    };
    // units computed inside the row kernel (the rest of the members are reshapes)
    const computable = (c: Unit) => c.kind === 'fused' || isFoldedNorm(c, ctx);
    const joinable = (j: number | undefined): j is number => {
      if (j === undefined || taken.has(j)) return false;
      const c = units[j]!;
      // aliases too (an Identity naming a graph output as well: kept after the row unit)
      if (!computable(c) && !(c.kind === 'node' && isAlias(c.node.op))) return false;
      // a group computing a smaller member per element of its result (broadcast fusion)
      // would need that member's own geometry over the rows: left to its own kernel
      if (
        c.kind === 'fused' &&
        c.nodes.some((n) => count(shapes.get(n.outputs[0]!.name)!) !== count(shapes.get(c.outputs[0].name)!))
      )
        return false;
      // (a graph output is stored by the row unit, or its reshape kept: see `build`)
      const out = c.outputs[0]!;
      if (out.dtype !== 'float32') return false;
      const n = count(shapes.get(out.name)!);
      return n === ctx.rows || n === ctx.rows * ctx.len;
    };
    let members = new Set([i]);
    let best = build(members, u.node, ctx);
    if (typeof best === 'string') return;
    // Grow: producers of what members read (through reshapes), consumers of what they make.
    for (let grew = true; grew; ) {
      grew = false;
      const candidates: number[][] = [];
      for (const m of members) {
        for (const v of units[m]!.inputs) {
          const j = producer.get(v.name);
          if (!joinable(j) || members.has(j)) continue;
          const c = units[j]!;
          if (computable(c)) candidates.push([j]);
          else {
            // a reshape joins with the elementwise unit it reshapes
            const k = producer.get(c.inputs[0]!.name);
            if (joinable(k) && computable(units[k]!)) candidates.push(members.has(k) ? [j] : [j, k]);
          }
        }
        for (const v of units[m]!.outputs)
          for (const j of readers.get(v.name) ?? []) if (joinable(j) && !members.has(j)) candidates.push([j]);
        // Siblings: elementwise units reading an activation a member reads, which the kernel
        // loads anyway (RWKV-7's k * (1 + (a - 1) * k_a) beside the L2 norm of k * k_k).
        if (ctx.siblings)
          for (const v of units[m]!.inputs) {
            if (graph.initializers.has(v.name)) continue;
            for (const j of readers.get(v.name) ?? [])
              if (joinable(j) && !members.has(j) && units[j]!.kind === 'fused') candidates.push([j]);
          }
      }
      for (const c of candidates) {
        if (c.every((j) => members.has(j))) continue;
        const next = new Set([...members, ...c]);
        const r = build(next, u.node, ctx);
        if (typeof r === 'string') continue;
        members = next;
        best = r;
        grew = true;
      }
    }
    if (![...members].some((m) => units[m]!.kind === 'fused')) return;
    for (const m of members) taken.add(m);
    made.set(Math.max(...members), best);
  });
  const out: Unit[] = [];
  units.forEach((u, i) => {
    const m = made.get(i);
    if (m) {
      out.push(m.unit);
      for (const k of m.kept) out.push(units[k]!);
      return;
    }
    if (!taken.has(i)) out.push(u);
  });
  return out;
}

/** Whether a ReduceSum sums the last axis of float32 rows of 2..maxRow, keeping it. */
function isRowSum(n: Node, shapes: ShapeMap, limits: RowFusionLimits): boolean {
  const dims = shapes.get(n.inputs[0]!.name);
  if (!dims || dims.length === 0 || n.inputs[0]!.dtype !== 'float32') return false;
  const axes = n.attrs['axes'] as readonly number[];
  const len = dims[dims.length - 1]!;
  return (
    n.attrs['keepdims'] === 1 &&
    axes.length === 1 &&
    (axes[0] === dims.length - 1 || axes[0] === -1) &&
    len >= 2 &&
    len <= limits.maxRow
  );
}

/**
 * Whether a unit is a LayerNorm that a row unit of `ctx` may fold: folding on, over rows
 * of the unit's length (the rows then coincide), float32, no weight or bias (an affine
 * LayerNorm keeps its own kernel: its weight and bias would be two more leaves, and
 * RWKV's affine ones are over whole embeddings, longer than a warp's row).
 */
function isFoldedNorm(u: Unit, ctx: Ctx): boolean {
  if (!ctx.foldNorms || u.kind !== 'node' || u.node.op !== 'LayerNorm') return false;
  const n = u.node;
  const x = n.inputs[0]!;
  const dims = ctx.shapes.get(x.name);
  const eps = n.attrs['epsilon'];
  return (
    n.inputs.length === 1 &&
    x.dtype === 'float32' &&
    dims !== undefined &&
    dims.length > 0 &&
    dims[dims.length - 1] === ctx.len &&
    typeof eps === 'number' &&
    Number.isFinite(eps)
  );
}

/**
 * A LayerNorm of `x` without weight or bias as row-program nodes, appended by `push` (op,
 * operands, kind; returns the node's index): the two-pass arithmetic of the CUDA kernel
 * (kernels/layer-norm.ts), mean first, then the variance of x - mean, dividing by the row
 * length, with epsilon added to the variance under the root. Returns the result's node.
 */
function pushLayerNorm(
  push: (op: RowOp, args: RowRef[], kind: RowKind) => number,
  x: RowRef,
  len: number,
  eps: number,
): number {
  const mean = push('Div', [{ node: push('ReduceSum', [x], 'row') }, { literal: len }], 'row');
  const c = push('Sub', [x, { node: mean }], 'elem');
  const sq = push('Mul', [{ node: c }, { node: c }], 'elem');
  const variance = push('Div', [{ node: push('ReduceSum', [{ node: sq }], 'row') }, { literal: len }], 'row');
  const root = push('Sqrt', [{ node: push('Add', [{ node: variance }, { literal: eps }], 'row') }], 'row');
  return push('Div', [{ node: c }, { node: root }], 'elem');
}

interface Ctx {
  readonly units: readonly Unit[];
  readonly shapes: ShapeMap;
  readonly graphOutputs: ReadonlySet<string>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
  readonly nodeIndex: ReadonlyMap<Node, number>;
  readonly len: number;
  readonly rows: number;
  readonly limits: RowFusionLimits;
  readonly foldNorms: boolean;
  readonly siblings: boolean;
}

/**
 * The row unit of `members` (unit indices), with the reshapes kept after it, or why there
 * is none: it runs at its last member's position, so every value it stores must be read
 * only after that; every node must be per element or per row, and every operand and every
 * value passed inside must be laid over the rows consistently.
 */
function build(
  members: ReadonlySet<number>,
  sum: Node,
  ctx: Ctx,
): { unit: RowFusedUnit; kept: number[] } | string {
  const { units, shapes, len, rows, limits } = ctx;
  const at = Math.max(...members);
  const dimsOf = (v: Value) => shapes.get(v.name)!;
  const computes: Node[] = [];
  const aliases: { node: Node; index: number }[] = [];
  for (const m of members) {
    const u = units[m]!;
    if (u.kind === 'fused') computes.push(...u.nodes);
    else if (u.kind === 'node' && isAlias(u.node.op)) aliases.push({ node: u.node, index: m });
    else if (u.kind === 'node' && (u.node === sum || isFoldedNorm(u, ctx))) computes.push(u.node);
    else return 'not a member kind';
  }
  computes.sort((a, b) => ctx.nodeIndex.get(a)! - ctx.nodeIndex.get(b)!);
  if (computes.length > limits.maxNodes) return `${computes.length} nodes`;
  const aliasOf = new Map(aliases.map((a) => [a.node.outputs[0]!.name, a.node.inputs[0]!.name]));
  const resolve = (name: string): string => {
    const s = aliasOf.get(name);
    return s === undefined ? name : resolve(s);
  };
  const produced = new Map<string, number>();
  const outValue = new Map<number, Value>();
  const kindOfDims = (d: readonly number[]): RowKind | undefined =>
    count(d) === rows * len ? 'elem' : count(d) === rows ? 'row' : undefined;
  // views over the rows: [...dims, N] with stride 0 along N for per-row values
  const viewOf = (dims: readonly number[], strides: readonly number[], kind: RowKind): RowView =>
    kind === 'elem' ? { dims, strides } : { dims: [...dims, len], strides: [...strides, 0] };
  const inputs: Value[] = [];
  const inputIndex = new Map<string, number>();
  const leafKinds: RowKind[] = [];
  const leafViews: { input: number; over: Value }[] = [];
  const leafKey = new Map<string, number>();
  const leafRowViews: RowView[] = [];
  const checks: [RowView, RowView][] = []; // (as produced, as read) for values passed inside
  const nodes: { op: RowOp; args: RowRef[] }[] = [];
  const shapeKinds: RowKind[] = [];
  const push = (op: RowOp, args: RowRef[], kind: RowKind) => {
    nodes.push({ op, args });
    shapeKinds.push(kind);
    return nodes.length - 1;
  };
  // an operand of a node computed over `overDims` as `kind`: an earlier node, or a leaf
  const argOf = (v: Value, over: Value, overDims: readonly number[], kind: RowKind): RowRef => {
    const inner = produced.get(resolve(v.name));
    if (inner !== undefined) {
      const src = outValue.get(inner)!;
      const srcKind = shapeKinds[inner]!;
      const srcDims = dimsOf(src);
      checks.push([
        viewOf(srcDims, contiguousStrides(srcDims), srcKind),
        viewOf(overDims, broadcastStrides(dimsOf(v), overDims), kind),
      ]);
      return { node: inner };
    }
    const key = `${v.name}|${overDims.join('x')}|${kind}`;
    let l = leafKey.get(key);
    if (l === undefined) {
      l = leafKinds.length;
      leafKey.set(key, l);
      leafKinds.push(kind);
      let k = inputIndex.get(v.name);
      if (k === undefined) {
        k = inputs.length;
        inputs.push(v);
        inputIndex.set(v.name, k);
      }
      leafViews.push({ input: k, over });
      leafRowViews.push(viewOf(overDims, broadcastStrides(dimsOf(v), overDims), kind));
    }
    return { leaf: l };
  };
  for (const n of computes) {
    const over = n.op === 'ReduceSum' ? n.inputs[0]! : n.outputs[0]!;
    const overDims = dimsOf(over);
    const kind = n.op === 'ReduceSum' ? 'elem' : kindOfDims(overDims);
    if (!kind) return `${n.op} -> ${n.outputs[0]!.name} is neither per element nor per row`;
    let j: number;
    if (n.op === 'LayerNorm') {
      if (kind !== 'elem') return `LayerNorm -> ${n.outputs[0]!.name} is not over the rows`;
      const x = argOf(n.inputs[0]!, over, overDims, kind);
      j = pushLayerNorm(push, x, len, n.attrs['epsilon'] as number);
    } else {
      const args = n.inputs.map((v) => argOf(v, over, overDims, kind));
      j = push(n.op as RowOp, args, n.op === 'ReduceSum' ? 'row' : kind);
    }
    produced.set(n.outputs[0]!.name, j);
    outValue.set(j, n.outputs[0]!);
  }
  if (nodes.length > limits.maxNodes) return `${nodes.length} nodes`;
  if (leafKinds.length > limits.maxLeaves) return `${leafKinds.length} leaves`;
  // Stored: values (or reshapes of them) read outside the members; each only after `at`.
  const results: number[] = [];
  const outputs: Value[] = [];
  const kept = new Set<number>();
  const inside = (j: number) => members.has(j);
  const readOutside = (name: string): boolean | string => {
    if (ctx.graphOutputs.has(name)) return true;
    let outside = false;
    for (const r of ctx.readers.get(name) ?? []) {
      if (inside(r)) {
        const ru = units[r]!;
        if (ru.kind === 'node' && isAlias(ru.node.op)) {
          const deeper = readOutside(ru.outputs[0]!.name);
          if (typeof deeper === 'string') return deeper;
          if (deeper) {
            outside = true;
            kept.add(r);
          }
        }
        continue;
      }
      if (r <= at) return `'${name}' is read by unit ${r} before the row unit (${at})`;
      outside = true;
    }
    return outside;
  };
  for (let j = 0; j < nodes.length; j++) {
    // (a LayerNorm's inner nodes have no value of the graph)
    if (!outValue.has(j)) continue;
    const o = readOutside(outValue.get(j)!.name);
    if (typeof o === 'string') return o;
    if (o) {
      results.push(j);
      outputs.push(outValue.get(j)!);
    }
  }
  if (results.length === 0) return 'stores nothing';
  if (results.length > limits.maxResults) return `${results.length} results`;
  const program: RowProgram = { leaves: leafKinds, nodes, results };
  let kinds: RowKind[];
  try {
    kinds = rowNodeKinds(program);
  } catch (e) {
    return (e as Error).message;
  }
  if (kinds.some((k, j) => k !== shapeKinds[j]))
    return 'a node whose shape and operands disagree on its kind';
  // One geometry for every operand and every value passed inside (as made and as read).
  const outViews = outputs.map((v, k) => {
    const d = dimsOf(v);
    return viewOf(d, contiguousStrides(d), kinds[results[k]!]!);
  });
  const views = [...outViews, ...leafRowViews, ...checks.flat()];
  const geo = rowGeometry(views, len);
  if (typeof geo === 'string') return geo;
  const base = outViews.length + leafRowViews.length;
  for (let c = 0; c < checks.length; c++) {
    const [a, b] = [base + 2 * c, base + 2 * c + 1];
    if (geo.cols[a] !== geo.cols[b] || geo.walk.strides[a]!.some((s, d) => s !== geo.walk.strides[b]![d]))
      return 'a value read inside at other elements than it was made';
  }
  const unit: RowFusedUnit = {
    kind: 'rowFused',
    nodes: computes,
    aliases: aliases.filter((a) => !kept.has(a.index)).map((a) => a.node),
    inputs,
    outputs,
    program,
    leafViews,
    summed: sum.inputs[0]!,
  };
  return { unit, kept: [...kept].sort((a, b) => a - b) };
}
