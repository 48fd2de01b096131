import type { Graph, Value } from '@rwkv-streams/core';
import { numelOf } from './lower/context.js';
import type { ShapeMap } from './shapes.js';
import type { ViewOwners } from './slice-alias.js';
import type { Unit } from './units.js';
import type { ElemType } from './weights.js';

/**
 * Concats whose last input is written in place. A sequence's token shift is
 * concat(prev, x[0 : T-1]) along time: at batch 1 the slice is a view of x, and the
 * Concat copied all T-1 rows of it (two launches a shift, one per input; 96 of a 1.5B
 * prefill's 912 steps, about 5% of its GPU time). If x's buffer starts one row into the
 * Concat's result instead (the result given one row more: T + 1 rows in all), x[0 : T-1]
 * already lies where the Concat puts it, and only `prev` is copied (one row). x's last
 * row, which the result does not include, is that extra row.
 *
 * The plan hosts the moved buffer in the Concat's result from the moved buffer's own
 * definition on (exec/plan.ts), and `lowerConcat` skips an input already at its
 * destination.
 */
export interface ConcatInPlace {
  /** The Concat's result: it hosts the moved buffer. */
  readonly concat: Value;
  /** The value owning the last input's memory, moved into the result. */
  readonly moved: string;
  /** Where the moved buffer starts in the result, in elements. */
  readonly offset: number;
  /** Elements the result's memory spans: its own, or more where the moved buffer ends past it. */
  readonly elements: number;
}

/**
 * Finds the Concats that can write their last input in place: the concatenated axis is
 * the outermost with extent above 1 (so each input is one contiguous block of the
 * result), the last input starts at offset 0 of the buffer owning it, that buffer is an
 * activation (not a graph input, weight or another Concat's, nor a residual a GEMM
 * accumulates into), of the same element type, and no earlier input shares it.
 */
export function concatsInPlace(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  owners: Pick<ViewOwners, 'root' | 'viewAt'>,
  typeOf: (v: Value) => ElemType,
  isWeight: (name: string) => boolean,
): ConcatInPlace[] {
  const owner = (name: string) => owners.root.get(name) ?? name;
  const inputs = new Set(graph.inputs.map((v) => v.name));
  const values = new Map<string, Value>();
  for (const u of units) for (const v of [...u.inputs, ...u.outputs]) values.set(v.name, v);
  const taken = new Set<string>(); // buffers moved, and results hosting one
  // a residual a GEMM accumulates into is overwritten in place (exec/residual-gemm.ts):
  // sharing its memory with another value that is read later would be wrong
  for (const u of units) if (u.kind === 'linearAdd') taken.add(u.inputs[2].name);
  const found: ConcatInPlace[] = [];
  for (const u of units) {
    if (u.kind !== 'node' || u.node.op !== 'Concat' || u.inputs.length < 2) continue;
    const y = u.outputs[0]!;
    const yDims = shapes.get(y.name);
    if (!yDims) continue;
    const a = u.node.attrs['axis'] as number;
    const axis = a < 0 ? a + yDims.length : a;
    if (yDims.slice(0, axis).some((d) => d !== 1)) continue;
    const last = u.inputs[u.inputs.length - 1]!;
    const moved = owner(last.name);
    const movedValue = values.get(moved);
    const movedDims = shapes.get(moved);
    if (!movedValue || !movedDims || (owners.viewAt.get(last.name) ?? 0) !== 0) continue;
    if (inputs.has(moved) || isWeight(moved) || moved === y.name || taken.has(moved) || taken.has(y.name))
      continue;
    const earlier = u.inputs.slice(0, -1);
    if (earlier.some((v) => owner(v.name) === moved)) continue;
    const type = typeOf(y);
    if (typeOf(movedValue) !== type || u.inputs.some((v) => typeOf(v) !== type)) continue;
    const offset = earlier.reduce((n, v) => n + numelOf(shapes.get(v.name) ?? [0]), 0);
    const moving = numelOf(movedDims);
    if (moving < numelOf(shapes.get(last.name) ?? [0])) continue;
    taken.add(moved);
    taken.add(y.name);
    found.push({ concat: y, moved, offset, elements: Math.max(numelOf(yDims), offset + moving) });
  }
  return found;
}

/**
 * Re-roots every value in a moved buffer (the buffer and its views) to the Concat result
 * hosting it, at the move's offset. Returns host name -> its move.
 */
export function applyConcatsInPlace(
  moves: readonly ConcatInPlace[],
  owners: Pick<ViewOwners, 'root' | 'viewAt'>,
): Map<string, ConcatInPlace> {
  const hosts = new Map<string, ConcatInPlace>();
  for (const m of moves) {
    const host = m.concat.name;
    for (const [v, r] of owners.root)
      if (r === m.moved) {
        owners.root.set(v, host);
        owners.viewAt.set(v, (owners.viewAt.get(v) ?? 0) + m.offset);
      }
    owners.root.set(m.moved, host);
    owners.viewAt.set(m.moved, m.offset);
    hosts.set(host, m);
  }
  return hosts;
}
