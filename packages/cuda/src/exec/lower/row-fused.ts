import { BadInputError } from '@rwkv-streams/core';
import type { StoreType } from '../../kernels/elementwise.js';
import { broadcastStrides, contiguousStrides } from '../../kernels/geometry.js';
import {
  encodeRowCols,
  type RowGeometry,
  type RowView,
  rowFusedKernel,
  rowGeometry,
  rowNodeKinds,
} from '../../kernels/row-fused.js';
import { encodeWalk } from '../../kernels/walk-index.js';
import { kernelStep, type Step } from '../step.js';
import type { RowFusedUnit } from '../units.js';
import { type LowerContext, numelOf } from './context.js';

/** Warps (rows in flight) a block of a row kernel. */
const WARPS_PER_BLOCK = 8;

/**
 * Where a row unit's operands are over its rows (outputs first, then the leaves as the
 * program reads them): each output over its own dims, each leaf broadcast over the value
 * it is read against; per-row values seen as [..., N] with stride 0 along the row.
 */
export function rowUnitGeometry(
  unit: RowFusedUnit,
  dims: (name: RowFusedUnit['inputs'][number]) => readonly number[],
): RowGeometry {
  const summed = dims(unit.summed);
  const len = summed[summed.length - 1]!;
  const kinds = rowNodeKinds(unit.program);
  const view = (d: readonly number[], s: readonly number[], row: boolean): RowView =>
    row ? { dims: [...d, len], strides: [...s, 0] } : { dims: d, strides: s };
  const views = [
    ...unit.outputs.map((o, j) => {
      const d = dims(o);
      return view(d, contiguousStrides(d), kinds[unit.program.results[j]!] === 'row');
    }),
    ...unit.leafViews.map((l, k) => {
      const over = dims(l.over);
      return view(
        over,
        broadcastStrides(dims(unit.inputs[l.input]!), over),
        unit.program.leaves[k] === 'row',
      );
    }),
  ];
  const geo = rowGeometry(views, len);
  if (typeof geo === 'string')
    throw new BadInputError(`row unit -> ${unit.outputs.map((v) => v.name).join(', ')}: ${geo}`);
  return geo;
}

/**
 * A row unit: one generated kernel, one warp a row, eight rows a block. Arguments: each
 * output's pointer, each leaf's (a value read through two shapes is passed twice), the
 * walk over rows and the columns (`RowCols`).
 */
export function lowerRowFused(ctx: LowerContext, unit: RowFusedUnit): Step[] {
  const outs = unit.outputs.map((v) => ctx.buf(v));
  outs.forEach((o, j) => {
    if (o.type === 'i32') throw new BadInputError(`row result '${unit.outputs[j]!.name}' cannot be int32`);
  });
  const leaves = unit.leafViews.map((l) => ctx.buf(unit.inputs[l.input]!));
  leaves.forEach((b, k) => {
    if (b.type !== 'f32')
      throw new BadInputError(
        `row unit leaf '${unit.inputs[unit.leafViews[k]!.input]!.name}' is ${b.type}, not float32`,
      );
  });
  const geo = rowUnitGeometry(unit, (v) => ctx.dims(v));
  const rows = numelOf(geo.walk.dims);
  if (rows === 0 || geo.len === 0) return [];
  const kernel = rowFusedKernel(
    unit.program,
    geo.ix,
    outs.map((o) => o.type as StoreType),
  );
  const ops = unit.nodes.map((n) => n.op).join('+');
  return [
    kernelStep(
      ctx.rt,
      `rows ${ops} -> ${unit.outputs.map((v) => v.name).join(', ')}`,
      kernel,
      {
        grid: [Math.max(1, Math.min(Math.ceil(rows / WARPS_PER_BLOCK), 65535 * 8))],
        block: [32 * WARPS_PER_BLOCK],
      },
      [
        ...outs.map((o) => ({ ptr: o.ptr })),
        ...leaves.map((l) => ({ ptr: l.ptr })),
        { bytes: encodeWalk(geo.walk, geo.ix) },
        { bytes: encodeRowCols(geo.len, geo.cols, geo.ix) },
      ],
    ),
  ];
}
