import type { Graph, Node, Value } from '@rwkv-streams/core';
import type { ShapeMap } from './shapes.js';
import { isAlias, type LinearAddUnit, type Unit } from './units.js';

/**
 * Residual adds folded into the GEMM before them. Every RWKV block ends its two halves
 * with x + Linear(...) (the attention's output projection, the channel mix's value): with
 * many rows (a prefill, a batch of streams) the Linear is a cuBLAS GEMM storing its
 * product, and the Add a launch of its own reading that product and x and writing the sum
 * (48 of a 1.5B prefill's steps, 0.42 ms of its 12.5 ms profiled with events between
 * steps). When x is read by nothing after the Add, the GEMM can add its product into x's
 * memory in place (cuBLAS' beta = 1) and the sum is x's buffer: one launch, no round
 * trip of the product.
 *
 * Taken only where it is safe: the product has the Add as its one reader; the Add is an
 * elementwise group of that one node, over operands and a result of one shape, all float32;
 * the residual is an activation (not a graph input or output, not a weight), read through
 * no alias or view, and the Add is the last unit to read it.
 */
/** A unit whose output may share its input's memory: an alias, or a slice the plan makes a view. */
function isView(u: Unit): boolean {
  return u.kind === 'node' && (isAlias(u.node.op) || u.node.op === 'Slice' || u.node.op === 'SliceFrom');
}

export function accumulateResiduals(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  /** Whether a Linear runs through cuBLAS (not our GEMV) with its product in float32. */
  gemmWithF32Product: (linear: Node) => boolean,
  /** Whether a value is stored in float32 (not a half activation). */
  isF32: (v: Value) => boolean,
): Unit[] {
  const pinned = new Set([...graph.inputs, ...graph.outputs].map((v) => v.name));
  const readers = new Map<string, number[]>();
  units.forEach((u, i) => {
    for (const v of u.inputs) {
      const rs = readers.get(v.name);
      if (rs) rs.push(i);
      else readers.set(v.name, [i]);
    }
  });
  const producer = new Map<string, number>();
  units.forEach((u, i) => {
    for (const v of u.outputs) producer.set(v.name, i);
  });
  const same = (a: Value, b: Value) => {
    const [x, y] = [shapes.get(a.name), shapes.get(b.name)];
    return x !== undefined && y !== undefined && x.length === y.length && x.every((d, i) => d === y[i]);
  };
  const replaced = new Map<number, LinearAddUnit>(); // at the Add's index
  const dropped = new Set<number>(); // the Linears folded in
  units.forEach((u, i) => {
    if (u.kind !== 'fused' || u.nodes.length !== 1 || u.nodes[0]!.op !== 'Add') return;
    const add = u.nodes[0]!;
    const sum = u.outputs[0];
    const [p, q] = add.inputs as [Value, Value];
    if (p.name === q.name || !same(p, q) || !same(p, sum)) return;
    for (const [product, residual] of [
      [p, q],
      [q, p],
    ] as const) {
      const li = producer.get(product.name);
      const lu = li === undefined ? undefined : units[li];
      if (li === undefined || lu?.kind !== 'node' || lu.node.op !== 'Linear' || dropped.has(li)) continue;
      if (!gemmWithF32Product(lu.node)) continue;
      if ((readers.get(product.name) ?? []).some((r) => r !== i)) continue;
      const ri = producer.get(residual.name);
      if (ri === undefined || pinned.has(residual.name) || pinned.has(sum.name)) continue;
      // the residual owns its memory (an alias's or a view's is another value's)
      if (isView(units[ri]!)) continue;
      if (![product, residual, sum].every(isF32)) continue;
      const rReaders = readers.get(residual.name) ?? [];
      if (rReaders.some((r) => r > i)) continue;
      // an alias or view would share the residual's memory and could be read later
      if (rReaders.some((r) => isView(units[r]!))) continue;
      const x = lu.node.inputs[0]!;
      const w = lu.node.inputs[1]!;
      replaced.set(i, { kind: 'linearAdd', linear: lu.node, add, inputs: [x, w, residual], outputs: [sum] });
      dropped.add(li);
      return;
    }
  });
  const out: Unit[] = [];
  units.forEach((u, i) => {
    if (dropped.has(i)) return;
    out.push(replaced.get(i) ?? u);
  });
  return out;
}
