import type { Graph } from '@rwkv-streams/core';

/**
 * Concrete dims of a graph's inputs for one call: fixed dims as declared, the first
 * symbolic dim the batch and any other the time (as an RWKV graph's inputs declare them).
 */
export function callDims(g: Graph, batch: number, time: number): Map<string, number[]> {
  const dims = new Map<string, number[]>();
  for (const v of g.inputs)
    dims.set(
      v.name,
      v.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : time)),
    );
  return dims;
}
