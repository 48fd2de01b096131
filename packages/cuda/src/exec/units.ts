import type { Graph, Node, Value } from '@rwkv-streams/core';
import { type ElementwiseOp, type FusedProgram, isElementwise } from '../kernels/elementwise.js';
import type { RowProgram } from '../kernels/row-fused.js';
import type { ShapeMap } from './shapes.js';

/**
 * The units a plan executes, in order: single nodes, and fused groups of elementwise
 * nodes that become one generated kernel. A group is a DAG of elementwise nodes with
 * one result; its intermediates are read only inside it (so they never reach memory)
 * and have the result's shape, or a shape that broadcasts to it with at most
 * MAX_RECOMPUTE times fewer elements (every element of the result is computed from its
 * leaves alone, leaves broadcasting against the result; a smaller intermediate is
 * recomputed per result element, which broadcasting makes the same value). Found per
 * call shape, because whether shapes agree depends on the bound dims.
 */

/** One node run by its own lowering. */
export interface NodeUnit {
  readonly kind: 'node';
  readonly node: Node;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
}

/** Elementwise nodes computed by one generated kernel. */
export interface FusedUnit {
  readonly kind: 'fused';
  readonly nodes: readonly Node[];
  /** Values read from outside the group, in leaf order. */
  readonly inputs: readonly Value[];
  /** The group's result (the last node's output). */
  readonly outputs: readonly [Value];
  readonly program: FusedProgram;
}

/** One GEMV of a group, with the elementwise units it absorbed (exec/gemv-groups.ts). */
export interface GemvSegment {
  /** The Linear (half weights, few rows). */
  readonly linear: Node;
  /** A fused unit computing the Linear's input, computed as the row is read instead. */
  readonly prologue?: FusedUnit;
  /**
   * The prologue's first result row the Linear reads (its input being a slice of whole rows
   * of the prologue's result, exec/gemv-groups.ts); absent: the prologue computes exactly
   * the Linear's input.
   */
  readonly prologueRow?: number;
  /** A fused unit whose only use of the Linear's result is elementwise: applied before storing. */
  readonly epilogue?: FusedUnit;
}

/** Independent GEMVs (with their prologues and epilogues) run as one generated kernel. */
export interface GemvGroupUnit {
  readonly kind: 'gemv';
  readonly segments: readonly GemvSegment[];
  /** Rows of every segment's input (the batch of streams). */
  readonly rows: number;
  /** Everything the group reads: each segment's input operands, weights, epilogue operands. */
  readonly inputs: readonly Value[];
  /** Each segment's stored result (its epilogue's output, or the Linear's). */
  readonly outputs: readonly Value[];
}

/**
 * Elementwise groups of one result shape computed by one kernel over their shared leaves
 * (exec/sibling-fusion.ts): a prefill's six token-shift mixes read x and the shifted
 * difference once instead of six times, in one launch instead of six.
 */
export interface FusedManyUnit {
  readonly kind: 'fusedMany';
  /** Every node computed, in order (absorbed producers first, then each group's). */
  readonly nodes: readonly Node[];
  /** Values read from outside, in leaf order. */
  readonly inputs: readonly Value[];
  /** One a result: each merged group's result, in `program.results` order. */
  readonly outputs: readonly Value[];
  readonly program: FusedProgram;
}

/**
 * A sum over the last axis with the elementwise ops around it, one kernel computing each
 * row (exec/row-fusion.ts): RWKV-7's per-head L2 norm of k, or its bonus term.
 */
export interface RowFusedUnit {
  readonly kind: 'rowFused';
  /**
   * The nodes computed (elementwise nodes, one or more ReduceSums, LayerNorms folded with
   * `fuseRowNorms`), in program order.
   */
  readonly nodes: readonly Node[];
  /** Alias nodes inside (reshapes between [B, T, C] and [B, T, H, N]): nothing runs for them. */
  readonly aliases: readonly Node[];
  /** Values read from outside, each once (several leaves may read one value through different shapes). */
  readonly inputs: readonly Value[];
  /** One a result, in `program.results` order. */
  readonly outputs: readonly Value[];
  readonly program: RowProgram;
  /**
   * Per leaf of the program: which input it reads, and the value whose shape it is read
   * over (the reading node's result, or the summed value for the sum's own operand):
   * leaves broadcast against it as the graph's op does.
   */
  readonly leafViews: readonly { readonly input: number; readonly over: Value }[];
  /** The value summed: its last dim is the rows' length. */
  readonly summed: Value;
}

/**
 * A Linear run by cuBLAS whose product only a residual add reads, accumulated into the
 * residual's memory (exec/residual-gemm.ts): r + x W^T as one GEMM with beta = 1.
 */
export interface LinearAddUnit {
  readonly kind: 'linearAdd';
  readonly linear: Node;
  readonly add: Node;
  /** The Linear's input and weight, then the residual. */
  readonly inputs: readonly [Value, Value, Value];
  /** The sum, stored where the residual was. */
  readonly outputs: readonly [Value];
}

/**
 * A LayerNorm with the elementwise group that reads its result, computed in one kernel
 * (exec/norm-epilogue.ts): the group's result is [R, ...the LayerNorm's dims].
 */
export interface NormFusedUnit {
  readonly kind: 'normFused';
  readonly norm: Node;
  readonly epilogue: FusedUnit;
  /** The LayerNorm's inputs, then the group's other leaves. */
  readonly inputs: readonly Value[];
  /** The normalized value when something else reads it, then the group's result. */
  readonly outputs: readonly Value[];
}

/**
 * A one-step Wkv7 whose k, a or b a row unit made, that row unit computed inside the
 * Wkv7's kernel (exec/wkv7-row-prologue.ts).
 */
export interface Wkv7RowsUnit {
  readonly kind: 'wkv7Rows';
  readonly wkv: Node;
  readonly rows: RowFusedUnit;
  /** The row program's nodes standing for the Wkv7's k, a and b. */
  readonly feeds: { readonly k?: number; readonly a?: number; readonly b?: number };
  /** The Wkv7's inputs it still reads, then the row unit's. */
  readonly inputs: readonly Value[];
  /** The Wkv7's outputs, then the row unit's results read elsewhere. */
  readonly outputs: readonly Value[];
}

export type Unit =
  | Wkv7RowsUnit
  | NodeUnit
  | FusedUnit
  | GemvGroupUnit
  | FusedManyUnit
  | RowFusedUnit
  | LinearAddUnit
  | NormFusedUnit;

/** Which unit makes each value, and which units read it (indices into `units`). */
export function unitLinks(units: readonly Unit[]): {
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
} {
  const producer = new Map<string, number>();
  const readers = new Map<string, number[]>();
  units.forEach((u, i) => {
    for (const v of u.outputs) producer.set(v.name, i);
    for (const v of u.inputs) readers.set(v.name, [...(readers.get(v.name) ?? []), i]);
  });
  return { producer, readers };
}

/** Alias ops: their output is their input's memory under another shape. */
export function isAlias(op: string): boolean {
  return op === 'Reshape' || op === 'Squeeze' || op === 'Identity';
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Whether shape `a` broadcasts to `b` (aligned at the right, each dim equal or 1). */
const broadcastsTo = (a: readonly number[], b: readonly number[]) =>
  a.length <= b.length && a.every((d, i) => d === b[b.length - a.length + i] || d === 1);

const numel = (dims: readonly number[]) => dims.reduce((x, y) => x * y, 1);

/**
 * How many times over a fused group may compute a member whose result is smaller than the
 * group's and broadcasts to it. A member is computed once per result element (the kernel
 * has no other index), so a member of 1/k the elements is computed k times; a few times a
 * subtraction costs less than the launch and the round trip through memory it saves.
 * RWKV-7's decode step: x_prev - x ([B, 1, C]) feeds the six stacked token-shift mixes
 * ([6, B, 1, C]) and was a launch of its own per layer.
 */
export const MAX_RECOMPUTE = 8;

/**
 * Splits a graph's nodes into units (fusing elementwise chains unless `fuse` is false); a
 * member whose result broadcasts to its group's may have up to `maxRecompute` times fewer
 * elements (1: equal shapes only, as before broadcast fusion).
 */
export function buildUnits(
  graph: Graph,
  shapes: ShapeMap,
  fuse = true,
  maxRecompute = MAX_RECOMPUTE,
): Unit[] {
  const consumers = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const v of n.inputs) consumers.set(v.name, [...(consumers.get(v.name) ?? []), n]);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const fusable = (n: Node) =>
    isElementwise(n.op) && (n.op !== 'Identity' || !graphOutputs.has(n.outputs[0]!.name));
  // Reverse order: a node joins the group of its consumers when they all share one.
  const groupOf = new Map<Node, Node>(); // node -> its group's root
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!fusable(n)) continue;
    groupOf.set(n, n);
    if (!fuse) continue;
    const out = n.outputs[0]!;
    if (graphOutputs.has(out.name)) continue;
    const cs = consumers.get(out.name) ?? [];
    if (cs.length === 0) continue;
    const roots = new Set(cs.map((c) => groupOf.get(c)));
    if (roots.size !== 1) continue;
    const root = [...roots][0];
    if (!root) continue;
    const mine = shapes.get(out.name)!;
    const theirs = shapes.get(root.outputs[0]!.name)!;
    // equal shapes, or a smaller one that broadcasts to the result and is cheap to recompute
    if (
      !same(mine, theirs) &&
      !(maxRecompute > 1 && broadcastsTo(mine, theirs) && numel(theirs) <= maxRecompute * numel(mine))
    )
      continue;
    groupOf.set(n, root);
  }
  const members = new Map<Node, Node[]>();
  for (const n of graph.nodes) {
    const r = groupOf.get(n);
    if (r) members.set(r, [...(members.get(r) ?? []), n]);
  }
  const units: Unit[] = [];
  for (const n of graph.nodes) {
    const r = groupOf.get(n);
    if (!r) {
      units.push({ kind: 'node', node: n, inputs: n.inputs, outputs: n.outputs });
      continue;
    }
    if (r !== n) continue; // emitted at its root's position
    units.push(fusedUnit(members.get(r)!));
  }
  return units;
}

/**
 * The program of elementwise `nodes` (in an order where producers come first) storing the
 * values `results`: each node's operands become earlier nodes' results or leaves (values
 * from outside, numbered in order of first use).
 */
export function fusedProgram(
  nodes: readonly Node[],
  results: readonly string[],
): { program: FusedProgram; leaves: Value[] } {
  const produced = new Map<string, number>();
  const leaves: Value[] = [];
  const leafIndex = new Map<string, number>();
  const prog: { op: ElementwiseOp; args: ({ leaf: number } | { node: number })[] }[] = [];
  nodes.forEach((n, j) => {
    const args = n.inputs.map((v) => {
      const p = produced.get(v.name);
      if (p !== undefined) return { node: p };
      let l = leafIndex.get(v.name);
      if (l === undefined) {
        l = leaves.length;
        leaves.push(v);
        leafIndex.set(v.name, l);
      }
      return { leaf: l };
    });
    prog.push({ op: n.op as ElementwiseOp, args });
    produced.set(n.outputs[0]!.name, j);
  });
  const at = results.map((r) => {
    const j = produced.get(r);
    if (j === undefined) throw new Error(`fusedProgram: '${r}' is not computed by these nodes`);
    return j;
  });
  const single = at.length === 1 && at[0] === prog.length - 1;
  return { program: { leaves: leaves.length, nodes: prog, ...(single ? {} : { results: at }) }, leaves };
}

function fusedUnit(nodes: readonly Node[]): FusedUnit {
  const out = nodes[nodes.length - 1]!.outputs[0]!;
  const { program, leaves } = fusedProgram(nodes, [out.name]);
  return { kind: 'fused', nodes, inputs: leaves, outputs: [out], program };
}
