import type { Graph, Node, Value } from '@rwkv-streams/core';
import type { GemvOperand } from '../kernels/gemv-group.js';
import { broadcastStrides } from '../kernels/geometry.js';
import type { ShapeMap } from './shapes.js';
import { type FusedUnit, type GemvGroupUnit, type GemvSegment, isAlias, type Unit } from './units.js';

/** What GEMV grouping may take besides plain prologues and epilogues. */
export interface GemvGroupOptions {
  /**
   * Where a Slice's result starts in its input when it is a view (exec/slice-alias.ts
   * `contiguousSliceOffset`); without it no prologue is taken through slices.
   */
  readonly sliceOffset?: (slice: Node) => number | undefined;
  /**
   * The most operands a prologue may read along the row (default: any). Every warp of a
   * GEMV reads its input row, so each such operand costs the GEMV as much cache traffic
   * as a whole input row per output column.
   */
  readonly maxPrologueStreams?: number;
}

/**
 * Groups the GEMV-mode Linears of a plan (half weights, a few rows: decoding) into
 * kernels of several GEMVs each, with the elementwise units around them absorbed:
 *
 * - a **prologue**: a fused unit whose result only GEMV Linears read (as their input) is
 *   computed by those GEMVs as they read their input row (RWKV-7: the tanh and sigmoid
 *   between the LoRA halves, relu(k)^2 before the channel mix's value, the lerp before
 *   its key, the gate before the output projection);
 * - an **epilogue**: a fused unit that is the only reader of a Linear's result, and reads
 *   it elementwise, is applied to each result before it is stored (the LoRA biases and
 *   sigmoids, the residual adds after the output and value projections);
 * - segments are then grouped by **level** (1 + the deepest segment they depend on,
 *   through any units): two segments of one level never depend on each other, and every
 *   path between groups goes from a lower level to a higher one, so running each level's
 *   segments as one kernel keeps the order valid. RWKV-7's seven projections of the mixed
 *   inputs (r, w1, k, v, a1, g1, v1) become one launch, its four LoRA second halves with
 *   their activations and biases another.
 *
 * The units are then put back in an order that respects every dependency, as close to the
 * original as it allows.
 */
export function groupGemvs(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  /** Whether a Linear runs as our half-weight GEMV (for these shapes and weights). */
  isGemv: (linear: Node) => boolean,
  options: GemvGroupOptions = {},
): Unit[] {
  const { sliceOffset, maxPrologueStreams = Number.POSITIVE_INFINITY } = options;
  // operands a prologue reads along the row (each read by every warp of the GEMV)
  const streams = (f: FusedUnit, out: readonly number[]) =>
    f.inputs.filter((v) => operandAccess(shapes.get(v.name)!, out)?.colStride === 1).length;
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const v of n.inputs) readers.set(v.name, [...(readers.get(v.name) ?? []), n]);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const fusedOf = new Map<Node, FusedUnit>();
  for (const u of units) if (u.kind === 'fused') for (const n of u.nodes) fusedOf.set(n, u);
  const producerUnit = new Map<string, Unit>();
  for (const u of units) for (const o of u.outputs) producerUnit.set(o.name, u);

  const linears = units.filter(
    (u): u is Extract<Unit, { kind: 'node' }> =>
      u.kind === 'node' && u.node.op === 'Linear' && isGemv(u.node),
  );
  if (linears.length === 0) return [...units];
  const gemvLinears = new Set(linears.map((u) => u.node));

  // Prologues first: a unit may serve as one Linear's prologue or another's epilogue, not both.
  const prologueOf = new Map<Node, FusedUnit>();
  const prologueRowOf = new Map<Node, number>();
  const nodeUnit = new Map<Node, Unit>();
  for (const u of units) if (u.kind === 'node') nodeUnit.set(u.node, u);
  const absorbed = new Set<Unit>();
  for (const { node } of linears) {
    const x = node.inputs[0]!;
    const f = producerUnit.get(x.name);
    if (f?.kind !== 'fused' || f.outputs[0].name !== x.name || graphOutputs.has(x.name)) continue;
    const rs = readers.get(x.name) ?? [];
    if (!rs.every((r) => gemvLinears.has(r) && r.inputs[0]!.name === x.name && r.inputs[1]!.name !== x.name))
      continue;
    const out = shapes.get(x.name)!;
    if (!f.inputs.every((v) => operandAccess(shapes.get(v.name)!, out) !== undefined)) continue;
    if (streams(f, out) > maxPrologueStreams) continue;
    prologueOf.set(node, f);
    absorbed.add(f);
  }
  // Sliced prologues: a fused unit whose result reaches only GEMV Linears' inputs through
  // views (aliases and contiguous slices of whole rows: a decode step's six token-shift
  // mixes, computed as one [6, B, C] multiply-add and sliced per projection) is computed by
  // each GEMV for the rows it reads, and the views disappear with it.
  if (sliceOffset) {
    for (const f of units) {
      if (f.kind !== 'fused' || absorbed.has(f)) continue;
      const sliced = slicedReaders(f, readers, graphOutputs, gemvLinears, shapes, sliceOffset);
      if (!sliced) continue;
      const out = shapes.get(f.outputs[0].name)!;
      if (!f.inputs.every((v) => operandAccess(shapes.get(v.name)!, out) !== undefined)) continue;
      if (streams(f, out) > maxPrologueStreams) continue;
      absorbed.add(f);
      for (const [linear, row] of sliced.rows) {
        prologueOf.set(linear, f);
        prologueRowOf.set(linear, row);
      }
      for (const view of sliced.views) {
        const u = nodeUnit.get(view);
        if (u) absorbed.add(u);
      }
    }
  }
  // Latest Linear first: when a unit reads two Linears' results (RWKV-7's value mix reads
  // v and its LoRA), the later one takes it, whose group comes after the other's.
  const epilogueOf = new Map<Node, FusedUnit>();
  for (const { node } of [...linears].reverse()) {
    const y = node.outputs[0]!;
    if (graphOutputs.has(y.name)) continue;
    const rs = readers.get(y.name) ?? [];
    const e = rs[0] && fusedOf.get(rs[0]);
    if (!e || absorbed.has(e) || !rs.every((r) => fusedOf.get(r) === e)) continue;
    const out = shapes.get(e.outputs[0].name)!;
    if (count(out) !== count(shapes.get(y.name)!)) continue; // the result must not broadcast
    if (!e.inputs.every((v) => v.name === y.name || operandAccess(shapes.get(v.name)!, out) !== undefined))
      continue;
    epilogueOf.set(node, e);
    absorbed.add(e);
  }

  // One segment unit per Linear, at its epilogue's place (after whatever the epilogue reads).
  const segmentAt = new Map<Unit, GemvSegment>();
  for (const unit of linears) {
    const node = unit.node;
    const seg: GemvSegment = {
      linear: node,
      ...(prologueOf.has(node) ? { prologue: prologueOf.get(node)! } : {}),
      ...(prologueRowOf.has(node) ? { prologueRow: prologueRowOf.get(node)! } : {}),
      ...(epilogueOf.has(node) ? { epilogue: epilogueOf.get(node)! } : {}),
    };
    segmentAt.set(seg.epilogue ?? unit, seg);
  }
  type Item = { unit: Unit; segment?: GemvSegment; at: number };
  const items: Item[] = [];
  units.forEach((u, at) => {
    const seg = segmentAt.get(u);
    if (seg) items.push({ unit: segmentUnit(seg, shapes), segment: seg, at });
    else if (!absorbed.has(u) && !(u.kind === 'node' && gemvLinears.has(u.node))) items.push({ unit: u, at });
  });

  // Levels, in the (still valid) order of `items`.
  const producer = new Map<string, number>();
  const level: number[] = [];
  items.forEach((it, i) => {
    let l = 0;
    for (const v of it.unit.inputs) {
      const p = producer.get(v.name);
      if (p !== undefined) l = Math.max(l, level[p]!);
    }
    level.push(l + (it.segment ? 1 : 0));
    for (const o of it.unit.outputs) producer.set(o.name, i);
  });
  const groups = new Map<string, Item[]>();
  items.forEach((it, i) => {
    if (!it.segment) return;
    const key = `${level[i]}|${(it.unit as GemvGroupUnit).rows}`;
    groups.set(key, [...(groups.get(key) ?? []), it]);
  });
  const merged: Item[] = items.filter((it) => !it.segment);
  for (const members of groups.values()) {
    const segments = members.map((m) => m.segment!);
    merged.push({
      unit: groupUnit(segments, (members[0]!.unit as GemvGroupUnit).rows),
      at: Math.min(...members.map((m) => m.at)),
    });
  }
  return topologicalOrder(merged);
}

/**
 * The GEMV Linears that read fused unit `f`'s result through views only (aliases and
 * contiguous slices, each view read by nothing else), with the first row of the result each
 * one reads (its input being whole rows of it), and the view nodes; undefined when any
 * reader is something else, a view is a graph output, or no slice is involved (a plain
 * prologue then serves).
 */
function slicedReaders(
  f: FusedUnit,
  readers: ReadonlyMap<string, readonly Node[]>,
  graphOutputs: ReadonlySet<string>,
  gemvLinears: ReadonlySet<Node>,
  shapes: ShapeMap,
  sliceOffset: (slice: Node) => number | undefined,
): { rows: Map<Node, number>; views: Node[] } | undefined {
  const result = f.outputs[0];
  if (f.outputs.length !== 1 || graphOutputs.has(result.name)) return undefined;
  const dims = shapes.get(result.name)!;
  const k = dims[dims.length - 1] ?? 0;
  if (k === 0) return undefined;
  const rows = new Map<Node, number>();
  const views: Node[] = [];
  let sliced = false;
  // (value, its element offset in f's result)
  const todo: [string, number][] = [[result.name, 0]];
  while (todo.length > 0) {
    const [name, offset] = todo.pop()!;
    for (const r of readers.get(name) ?? []) {
      if (gemvLinears.has(r)) {
        if (r.inputs[0]!.name !== name || r.inputs[1]!.name === name || offset % k !== 0) return undefined;
        const x = shapes.get(name)!;
        if (x[x.length - 1] !== k) return undefined;
        rows.set(r, offset / k);
        continue;
      }
      const out = r.outputs[0]!;
      if (r.inputs.length < 1 || r.inputs[0]!.name !== name || graphOutputs.has(out.name)) return undefined;
      if (isAlias(r.op)) todo.push([out.name, offset]);
      else {
        const at = sliceOffset(r);
        if (at === undefined) return undefined;
        sliced = true;
        todo.push([out.name, offset + at]);
      }
      views.push(r);
    }
  }
  return sliced && rows.size > 0 ? { rows, views } : undefined;
}

/**
 * How an operand of `dims` is read by an elementwise program over `out` ([..., cols]) as
 * rows x columns: per row its element offset, and the step per column (0 or 1); undefined
 * when it is read any other way (a transposed or strided operand).
 */
export function operandAccess(
  dims: readonly number[],
  out: readonly number[],
): Pick<GemvOperand, 'rowOffsets' | 'colStride'> | undefined {
  let strides: number[];
  try {
    strides = broadcastStrides(dims, out);
  } catch {
    return undefined;
  }
  const r = out.length;
  const colStride = r === 0 ? 0 : strides[r - 1]!;
  if (colStride !== 0 && colStride !== 1) return undefined;
  const lead = out.slice(0, Math.max(r - 1, 0));
  const rows = count(lead);
  const rowOffsets: number[] = [];
  for (let m = 0; m < rows; m++) {
    let rem = m;
    let off = 0;
    for (let d = lead.length - 1; d >= 0; d--) {
      off += (rem % lead[d]!) * strides[d]!;
      rem = Math.floor(rem / lead[d]!);
    }
    rowOffsets.push(off);
  }
  return { rowOffsets, colStride: colStride as 0 | 1 };
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Values a segment reads from outside itself. */
function segmentInputs(seg: GemvSegment): Value[] {
  const out: Value[] = [
    ...(seg.prologue ? seg.prologue.inputs : [seg.linear.inputs[0]!]),
    seg.linear.inputs[1]!,
  ];
  const y = seg.linear.outputs[0]!.name;
  if (seg.epilogue) out.push(...seg.epilogue.inputs.filter((v) => v.name !== y));
  return out;
}

/** A segment's stored result. */
function segmentOutput(seg: GemvSegment): Value {
  return seg.epilogue ? seg.epilogue.outputs[0] : seg.linear.outputs[0]!;
}

function segmentUnit(seg: GemvSegment, shapes: ShapeMap): GemvGroupUnit {
  const x = shapes.get(seg.linear.inputs[0]!.name)!;
  const k = x[x.length - 1] ?? 1;
  return groupUnit([seg], k === 0 ? 0 : count(x) / k);
}

function groupUnit(segments: readonly GemvSegment[], rows: number): GemvGroupUnit {
  const seen = new Set<string>();
  const inputs: Value[] = [];
  for (const s of segments)
    for (const v of segmentInputs(s))
      if (!seen.has(v.name)) {
        seen.add(v.name);
        inputs.push(v);
      }
  return { kind: 'gemv', segments, rows, inputs, outputs: segments.map(segmentOutput) };
}

/** Kahn's order over value dependencies, taking the earliest original position first. */
function topologicalOrder(items: readonly { unit: Unit; at: number }[]): Unit[] {
  const producer = new Map<string, number>();
  items.forEach((it, i) => {
    for (const o of it.unit.outputs) producer.set(o.name, i);
  });
  const waiting = items.map(() => 0);
  const after = items.map((): number[] => []);
  items.forEach((it, i) => {
    const deps = new Set<number>();
    for (const v of it.unit.inputs) {
      const p = producer.get(v.name);
      if (p !== undefined && p !== i) deps.add(p);
    }
    waiting[i] = deps.size;
    for (const d of deps) after[d]!.push(i);
  });
  const ready = items.flatMap((_, i) => (waiting[i] === 0 ? [i] : []));
  const out: Unit[] = [];
  while (ready.length > 0) {
    let best = 0;
    for (let j = 1; j < ready.length; j++) if (items[ready[j]!]!.at < items[ready[best]!]!.at) best = j;
    const i = ready.splice(best, 1)[0]!;
    out.push(items[i]!.unit);
    for (const n of after[i]!) if (--waiting[n]! === 0) ready.push(n);
  }
  if (out.length !== items.length) throw new Error('GEMV grouping made a cycle (a bug: levels prevent it)');
  return out;
}
