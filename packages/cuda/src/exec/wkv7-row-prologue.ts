import type { Graph, Value } from '@rwkv-streams/core';
import { broadcastStrides, count } from '../kernels/geometry.js';
import { type RowKind, rowNodeKinds } from '../kernels/row-fused.js';
import type { HeadRowAccess } from '../kernels/wkv7-decode-rows.js';
import type { ShapeMap } from './shapes.js';
import { isAlias, type RowFusedUnit, type Unit, unitLinks, type Wkv7RowsUnit } from './units.js';

/**
 * Streams up to which plans fold the rows into the one-step Wkv7 by default: measured on an
 * H100 (2026-12-05) it is faster at batch 1 (1.02-1.06x a decode step) and slower at 64 on
 * 1.5B (0.93x); batches between were not measured, so the bound stays at the GEMV's row limit.
 */
export const WKV7_ROWS_MAX_BATCH = 4;

/**
 * A row unit over a one-step Wkv7's heads computed inside the Wkv7's kernel
 * (kernels/wkv7-decode-rows.ts): RWKV-7's L2 norm of k * k_k with the k modification (one
 * row kernel a layer, exec/row-fusion.ts) feeds the WKV step its k, a (-kk) and b (kk * a);
 * each warp of the step evaluates the row program for its head instead, and the warps of
 * value row 0 store the results others read (the modified k, which the bonus reads). One
 * launch fewer a layer.
 *
 * Taken when: the Wkv7 is one step (T = 1) and runs the one-step kernel (`oneStep`); a
 * row unit made at least one of its k, a, b (through aliases), and none of its r, w, v,
 * state; the unit's rows are the Wkv7's B x H heads of N; every other reader of the
 * unit's results comes after the Wkv7; every leaf and stored result is addressed affinely
 * in (stream, head, column) (`headRowAccess`).
 */
export function foldRowsIntoWkv7(
  units: readonly Unit[],
  graph: Graph,
  shapes: ShapeMap,
  oneStep: (B: number, N: number) => boolean,
): Unit[] {
  const { producer, readers } = unitLinks(units);
  const graphOutputs = new Set(graph.outputs.map((v) => v.name));
  // a value's source through alias units
  const source = (name: string): string => {
    const p = producer.get(name);
    const u = p === undefined ? undefined : units[p];
    return u?.kind === 'node' && isAlias(u.node.op) ? source(u.node.inputs[0]!.name) : name;
  };
  const removed = new Set<number>();
  const replaced = new Map<number, Wkv7RowsUnit>();
  units.forEach((u, at) => {
    if (u.kind !== 'node' || u.node.op !== 'Wkv7') return;
    const wkv = u.node;
    const dims = shapes.get(wkv.inputs[0]!.name)!; // [B, T, H, N]
    const [B, T, H, N] = dims as [number, number, number, number];
    if (T !== 1 || !oneStep(B, N)) return;
    const sources = wkv.inputs.map((v) => source(v.name));
    const rowUnitOf = (name: string) => {
      const p = producer.get(name);
      return p !== undefined && units[p]!.kind === 'rowFused' ? p : undefined;
    };
    const at0 = [2, 4, 5].map((i) => rowUnitOf(sources[i]!)).find((p) => p !== undefined);
    if (at0 === undefined || removed.has(at0)) return;
    const rows = units[at0] as RowFusedUnit;
    const summed = shapes.get(rows.summed.name)!;
    if (summed[summed.length - 1] !== N || count(summed) !== B * H * N) return;
    const made = new Set(rows.outputs.map((o) => o.name));
    // r, w, v and the state must come from elsewhere
    if ([0, 1, 3, 6].some((i) => made.has(sources[i]!))) return;
    const kinds = rowNodeKinds(rows.program);
    const feeds: { k?: number; a?: number; b?: number } = {};
    (['k', 'a', 'b'] as const).forEach((which, n) => {
      const src = sources[[2, 4, 5][n]!]!;
      const k = rows.outputs.findIndex((o) => o.name === src);
      if (k >= 0) feeds[which] = rows.program.results[k]!;
    });
    if (Object.values(feeds).some((j) => kinds[j] !== 'elem')) return;
    // the units between: aliases of the row unit's results read only by the Wkv7 go away;
    // a result read by anything else is stored, and only after the Wkv7 may it be read
    const dead: number[] = [];
    const stored: Value[] = [];
    const readOutside = (name: string): boolean | undefined => {
      if (graphOutputs.has(name)) return true;
      let outside = false;
      for (const r of readers.get(name) ?? []) {
        if (r === at) continue;
        const ru = units[r]!;
        if (ru.kind === 'node' && isAlias(ru.node.op)) {
          const deeper = readOutside(ru.outputs[0]!.name);
          if (deeper === undefined) return undefined;
          if (deeper) outside = true;
          else dead.push(r);
          continue;
        }
        if (r < at) return undefined;
        outside = true;
      }
      return outside;
    };
    for (const o of rows.outputs) {
      const outside = readOutside(o.name);
      if (outside === undefined) return;
      if (outside) stored.push(o);
    }
    // every unfed result must be stored (nothing else computes it)
    for (const [k, o] of rows.outputs.entries())
      if (!stored.includes(o) && !Object.values(feeds).includes(rows.program.results[k]!)) return;
    // addresses over (stream, head, column)
    const leafKinds = rows.program.leaves;
    const leafAccess = rows.leafViews.map((l, i) =>
      headRowAccess(
        shapes.get(rows.inputs[l.input]!.name)!,
        shapes.get(l.over.name)!,
        leafKinds[i]!,
        B,
        H,
        N,
      ),
    );
    if (leafAccess.some((a) => a === undefined)) return;
    for (const o of stored) {
      const k = rows.outputs.indexOf(o);
      const d = shapes.get(o.name)!;
      if (!headRowAccess(d, d, kinds[rows.program.results[k]!]!, B, H, N)) return;
    }
    const fedNames = new Set(
      (
        [
          ['k', 2],
          ['a', 4],
          ['b', 5],
        ] as const
      ).flatMap(([w, i]) => (feeds[w] === undefined ? [] : [wkv.inputs[i]!.name])),
    );
    const inputs: Value[] = [];
    const seen = new Set<string>();
    for (const v of [...wkv.inputs.filter((v) => !fedNames.has(v.name)), ...rows.inputs])
      if (!seen.has(v.name)) {
        seen.add(v.name);
        inputs.push(v);
      }
    replaced.set(at, {
      kind: 'wkv7Rows',
      wkv,
      rows,
      feeds,
      inputs,
      outputs: [...wkv.outputs, ...stored],
    });
    removed.add(at0);
    for (const d of dead) removed.add(d);
  });
  const out: Unit[] = [];
  units.forEach((u, i) => {
    if (!removed.has(i)) out.push(replaced.get(i) ?? u);
  });
  return out;
}

/**
 * How a value of `dims`, read over `over` (a value laid out as [B, H, N], or [B, H] for a
 * per-row `kind`, in any shape of those counts), is found at (stream b, head h, column j):
 * a stride each; undefined when that is not affine (or the counts do not match).
 */
export function headRowAccess(
  dims: readonly number[],
  over: readonly number[],
  kind: RowKind,
  B: number,
  H: number,
  N: number,
): HeadRowAccess | undefined {
  const len = kind === 'elem' ? N : 1;
  if (count(over) !== B * H * len) return undefined;
  let strides: number[];
  try {
    strides = broadcastStrides(dims, over);
  } catch {
    return undefined;
  }
  const offset = (flat: number) => {
    let off = 0;
    for (let d = over.length - 1; d >= 0; d--) {
      off += (flat % over[d]!) * strides[d]!;
      flat = Math.floor(flat / over[d]!);
    }
    return off;
  };
  const at = (b: number, h: number, j: number) => offset((b * H + h) * len + j);
  const access = {
    bStride: B > 1 ? at(1, 0, 0) : 0,
    hStride: H > 1 ? at(0, 1, 0) : 0,
    colStride: len > 1 ? at(0, 0, 1) : 0,
  };
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let j = 0; j < len; j++)
        if (at(b, h, j) !== b * access.bStride + h * access.hStride + j * access.colStride) return undefined;
  return access;
}
