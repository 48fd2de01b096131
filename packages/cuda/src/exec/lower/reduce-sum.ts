import type { Node } from '@rwkv-streams/core';
import { collapse, contiguousStrides, encodeGeometry } from '../../kernels/geometry.js';
import { REDUCE_SUM } from '../../kernels/reduce-sum.js';
import { kernelStep, type Step } from '../step.js';
import type { LowerContext } from './context.js';

/** Sum over axes: kept axes index the output, reduced axes are walked by a warp. */
export function lowerReduceSum(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const axes = new Set(node.attrs['axes'] as readonly number[]);
  const xs = contiguousStrides(x.dims);
  const keptDims = x.dims.filter((_, i) => !axes.has(i));
  const keep = collapse({
    dims: keptDims,
    strides: [contiguousStrides(keptDims), xs.filter((_, i) => !axes.has(i))],
  });
  const red = collapse({
    dims: x.dims.filter((_, i) => axes.has(i)),
    strides: [xs.filter((_, i) => axes.has(i))],
  });
  const outputs = keep.dims.reduce((a, b) => a * b, 1);
  const warpsPerBlock = 8;
  return [
    kernelStep(
      ctx.rt,
      `ReduceSum -> ${node.outputs[0]!.name}`,
      REDUCE_SUM,
      {
        grid: [Math.max(1, Math.min(Math.ceil(outputs / warpsPerBlock), 65535 * 8))],
        block: [32 * warpsPerBlock],
      },
      [{ ptr: y.ptr }, { ptr: x.ptr }, { bytes: encodeGeometry(keep) }, { bytes: encodeGeometry(red) }],
    ),
  ];
}
