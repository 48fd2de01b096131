import { BadInputError } from '@rwkv-streams/core';
import { elementwiseKernel } from '../../kernels/elementwise.js';
import { broadcastStrides, collapse, contiguousStrides, gridFor } from '../../kernels/geometry.js';
import { encodeWalk, walkIndexing } from '../../kernels/walk-index.js';
import { kernelStep, type Step } from '../step.js';
import type { FusedUnit } from '../units.js';
import type { LowerContext } from './context.js';

/** A fused group of elementwise ops: one generated kernel over the result's elements. */
export function lowerFused(ctx: LowerContext, unit: FusedUnit): Step[] {
  const out = ctx.buf(unit.outputs[0]);
  const leaves = unit.inputs.map((v) => ctx.buf(v));
  const walk = collapse({
    dims: out.dims,
    strides: [contiguousStrides(out.dims), ...leaves.map((l) => broadcastStrides(l.dims, out.dims))],
  });
  if (out.type === 'i32')
    throw new BadInputError(`elementwise result '${unit.outputs[0].name}' cannot be int32`);
  const ix = walkIndexing(walk);
  const kernel = elementwiseKernel(unit.program, ix, out.type);
  const ops = unit.nodes.map((n) => n.op).join('+');
  return [
    kernelStep(
      ctx.rt,
      `${ops} -> ${unit.outputs[0].name}`,
      kernel,
      gridFor(walk.dims.reduce((a, b) => a * b, 1)),
      [{ ptr: out.ptr }, ...leaves.map((l) => ({ ptr: l.ptr })), { bytes: encodeWalk(walk, ix) }],
    ),
  ];
}
