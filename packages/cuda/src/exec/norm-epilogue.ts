import type { Graph, Value } from '@rwkv-streams/core';
import { broadcastStrides, count } from '../kernels/geometry.js';
import { NORM_EPILOGUE_MAX_COPIES, type NormEpilogueLeaf } from '../kernels/layer-norm-epilogue.js';
import type { ShapeMap } from './shapes.js';
import { type FusedUnit, isAlias, type NormFusedUnit, type Unit, unitLinks } from './units.js';

/**
 * LayerNorm epilogues: a LayerNorm over the last axis and an elementwise group that reads
 * its result become one unit, one kernel (kernels/layer-norm-epilogue.ts), at the
 * LayerNorm's place. RWKV-7's decode step: ln1 and the six token-shift mixes it feeds (a
 * [6, B, C] multiply-add of the normalized row, the previous token's row and the mix
 * weights), one launch fewer a layer; the normalized row is still stored, as the next
 * token's shift state.
 *
 * Taken when: the LayerNorm has at most `maxRows` rows (decoding: one block a row, so a
 * long sequence would be better served by the plain kernels), the group stores one result
 * of shape [...R, ...the LayerNorm's dims] with R at most NORM_EPILOGUE_MAX_COPIES copies,
 * every other value the group reads exists before the LayerNorm runs (a graph input, a
 * weight, a result of an earlier unit, or a view of one; a prefill's shifted rows are made from the
 * LayerNorm's own result, so its mixes never qualify), and each is read at offsets affine
 * in the row (`epilogueLeaf`). Runs after GEMV grouping (a GEMV prologue costs no launch,
 * so it keeps what it took) and row fusion, before sibling fusion.
 */
export function fuseNormEpilogues(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  maxRows = 64,
): Unit[] {
  const { producer, readers } = unitLinks(units);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  const taken = new Set<number>();
  const made = new Map<number, NormFusedUnit>();
  units.forEach((u, i) => {
    if (u.kind !== 'node' || u.node.op !== 'LayerNorm') return;
    const y = u.node.outputs[0]!;
    const yDims = shapes.get(y.name);
    if (!yDims || yDims.length === 0 || y.dtype !== 'float32') return;
    const C = yDims[yDims.length - 1]!;
    const rows = C === 0 ? 0 : count(yDims) / C;
    if (rows < 1 || rows > maxRows) return;
    for (const j of readers.get(y.name) ?? []) {
      const f = units[j]!;
      if (f.kind !== 'fused' || taken.has(j) || j <= i) continue;
      if (!qualifies(units, f, y, yDims, i, producer, shapes)) continue;
      const others = (readers.get(y.name) ?? []).filter((r) => r !== j);
      const storeY = others.length > 0 || graphOutputs.has(y.name);
      made.set(i, {
        kind: 'normFused',
        norm: u.node,
        epilogue: f,
        inputs: [...u.inputs, ...f.inputs.filter((v) => v.name !== y.name)],
        outputs: storeY ? [y, f.outputs[0]] : [f.outputs[0]],
      });
      taken.add(j);
      return;
    }
  });
  const out: Unit[] = [];
  units.forEach((u, i) => {
    if (taken.has(i)) return;
    out.push(made.get(i) ?? u);
  });
  return out;
}

/** Whether group `f` can be computed by the LayerNorm at unit index `at` producing `y`. */
function qualifies(
  units: readonly Unit[],
  f: FusedUnit,
  y: Value,
  yDims: readonly number[],
  at: number,
  producer: ReadonlyMap<string, number>,
  shapes: ShapeMap,
): boolean {
  if (f.outputs.length !== 1 || (f.program.results && f.program.results.length !== 1)) return false;
  const out = shapes.get(f.outputs[0].name)!;
  if (out.length < yDims.length || yDims.some((d, k) => out[out.length - yDims.length + k] !== d))
    return false;
  const R = count(out) / count(yDims);
  if (!Number.isInteger(R) || R < 1 || R > NORM_EPILOGUE_MAX_COPIES) return false;
  // made before the LayerNorm: a view (an alias) counts as made where its source is
  const ready = (name: string): boolean => {
    const p = producer.get(name);
    if (p === undefined) return true; // a graph input or a weight
    const u = units[p]!;
    if (u.kind === 'node' && isAlias(u.node.op)) return ready(u.node.inputs[0]!.name);
    return p < at;
  };
  for (const v of f.inputs) {
    if (v.name === y.name) continue;
    if (!ready(v.name)) return false;
    if (!epilogueLeaf(shapes.get(v.name)!, out, yDims)) return false;
  }
  return true;
}

/**
 * How a leaf of `dims` is read by a group over `out` = [...R, ...yDims] at (copy r, row b,
 * column c): its offset of each copy's first element, a step per row and a step per column;
 * undefined when it does not broadcast to `out` or its offsets are not affine in the row.
 */
export function epilogueLeaf(
  dims: readonly number[],
  out: readonly number[],
  yDims: readonly number[],
): NormEpilogueLeaf | undefined {
  let strides: number[];
  try {
    strides = broadcastStrides(dims, out);
  } catch {
    return undefined;
  }
  const lead = out.length - yDims.length;
  const offsetOf = (index: readonly number[]) => index.reduce((a, x, d) => a + x * strides[d]!, 0);
  // index of flat position `n` within dims `ds` (row-major)
  const unflatten = (n: number, ds: readonly number[]) => {
    const ix = new Array<number>(ds.length).fill(0);
    for (let d = ds.length - 1; d >= 0; d--) {
      ix[d] = n % ds[d]!;
      n = Math.floor(n / ds[d]!);
    }
    return ix;
  };
  const copyDims = out.slice(0, lead);
  const rowDims = yDims.slice(0, -1);
  const C = yDims[yDims.length - 1]!;
  const R = count(copyDims);
  const B = count(rowDims);
  const zerosRow = new Array<number>(rowDims.length + 1).fill(0);
  const copyOffsets = Array.from({ length: R }, (_, r) => offsetOf([...unflatten(r, copyDims), ...zerosRow]));
  const rowOffset = (b: number) =>
    offsetOf([...new Array<number>(lead).fill(0), ...unflatten(b, rowDims), 0]);
  const rowStride = B > 1 ? rowOffset(1) : 0;
  for (let b = 0; b < B; b++) if (rowOffset(b) !== b * rowStride) return undefined;
  const colStride = C > 1 ? strides[out.length - 1]! : 0;
  return { copyOffsets, rowStride, colStride };
}
