import type { Node } from '@rwkv-streams/core';
import { contiguousStrides } from '../kernels/geometry.js';
import { type ShapeMap, sliceFromStart, sliceRange } from './shapes.js';
import { isAlias, type Unit } from './units.js';

/**
 * The element offset at which a Slice/SliceFrom's result lies in its input when that
 * result is one contiguous block of it (every dim before the axis is 1), else undefined.
 * Such a slice needs no copy: the plan makes its result a view of the input's memory
 * (a decode step's six token-shift mixes, sliced from one [1, 6, C] multiply-add).
 */
export function contiguousSliceOffset(
  node: Node,
  shapes: ShapeMap,
  scalars: ReadonlyMap<string, number>,
): number | undefined {
  if (node.op !== 'Slice' && node.op !== 'SliceFrom') return undefined;
  const x = shapes.get(node.inputs[0]!.name);
  if (!x) return undefined;
  const axis = node.attrs['axis'] as number;
  if (x.slice(0, axis).some((d) => d !== 1)) return undefined;
  let start: number;
  if (node.op === 'SliceFrom') {
    const s = scalars.get(node.inputs[1]!.name);
    if (s === undefined) return undefined;
    start = sliceFromStart(s, x[axis]!);
  } else start = sliceRange(node, x[axis]!)[0];
  return start * contiguousStrides(x)[axis]!;
}

/** Which values share another value's memory, and where in it they start. */
export interface ViewOwners {
  /** Value -> the value owning its memory (absent: it owns its own). */
  readonly root: Map<string, string>;
  /** Value -> its element offset in its owner (absent: 0). */
  readonly viewAt: Map<string, number>;
  /** The Slice units that are views: nothing runs for them. */
  readonly views: Set<Unit>;
}

/**
 * The views of a plan's units: Reshape/Squeeze aliases (offset 0), contiguous slices
 * (`contiguousSliceOffset`) and sums accumulated in place of their residual
 * (exec/residual-gemm.ts), chained to the value that owns the memory.
 */
export function viewOwners(
  units: readonly Unit[],
  shapes: ShapeMap,
  scalars: ReadonlyMap<string, number>,
): ViewOwners {
  const root = new Map<string, string>();
  const viewAt = new Map<string, number>();
  const views = new Set<Unit>();
  const owner = (name: string) => root.get(name) ?? name;
  for (const u of units) {
    if (u.kind === 'linearAdd') {
      // the sum is stored in place of the residual (exec/residual-gemm.ts)
      const [r, sum] = [u.inputs[2].name, u.outputs[0].name];
      root.set(sum, owner(r));
      viewAt.set(sum, viewAt.get(r) ?? 0);
      continue;
    }
    if (u.kind !== 'node') continue;
    const [x, y] = [u.inputs[0]!.name, u.outputs[0]!.name];
    const at = isAlias(u.node.op) ? 0 : contiguousSliceOffset(u.node, shapes, scalars);
    if (at === undefined) continue;
    root.set(y, owner(x));
    viewAt.set(y, (viewAt.get(x) ?? 0) + at);
    if (!isAlias(u.node.op)) views.add(u);
  }
  return { root, viewAt, views };
}
