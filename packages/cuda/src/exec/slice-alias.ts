import type { Node } from '@rwkv-streams/core';
import { contiguousStrides } from '../kernels/geometry.js';
import { type ShapeMap, sliceFromStart, sliceRange } from './shapes.js';

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
