import { BadInputError } from '@rwkv-streams/core';
import { elementwiseKernel } from '../../kernels/elementwise.js';
import { broadcastStrides, collapse, contiguousStrides, gridFor } from '../../kernels/geometry.js';
import { encodeWalk, walkIndexing } from '../../kernels/walk-index.js';
import { kernelStep, type Step } from '../step.js';
import type { FusedManyUnit, FusedUnit } from '../units.js';
import type { LowerContext } from './context.js';

/**
 * A fused group of elementwise ops: one generated kernel over the result's elements; for
 * merged siblings (several results of one shape) one kernel storing all of them.
 */
export function lowerFused(ctx: LowerContext, unit: FusedUnit | FusedManyUnit): Step[] {
  const outs = unit.outputs.map((v) => ctx.buf(v));
  const dims = outs[0]!.dims;
  outs.forEach((o, j) => {
    if (o.type === 'i32')
      throw new BadInputError(`elementwise result '${unit.outputs[j]!.name}' cannot be int32`);
    if (o.dims.join('x') !== dims.join('x'))
      throw new BadInputError(
        `merged elementwise results differ in shape: [${dims}] and [${o.dims}] ('${unit.outputs[j]!.name}')`,
      );
  });
  const leaves = unit.inputs.map((v) => ctx.buf(v));
  const walk = collapse({
    dims,
    strides: [
      ...outs.map(() => contiguousStrides(dims)),
      ...leaves.map((l) => broadcastStrides(l.dims, dims)),
    ],
  });
  const ix = walkIndexing(walk);
  const kernel = elementwiseKernel(
    unit.program,
    ix,
    outs.map((o) => o.type as 'f32' | 'f16' | 'bf16'),
  );
  const ops = unit.nodes.map((n) => n.op).join('+');
  return [
    kernelStep(
      ctx.rt,
      `${ops} -> ${unit.outputs.map((v) => v.name).join(', ')}`,
      kernel,
      gridFor(walk.dims.reduce((a, b) => a * b, 1)),
      [
        ...outs.map((o) => ({ ptr: o.ptr })),
        ...leaves.map((l) => ({ ptr: l.ptr })),
        { bytes: encodeWalk(walk, ix) },
      ],
    ),
  ];
}
