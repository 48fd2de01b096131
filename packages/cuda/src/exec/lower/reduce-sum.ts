import type { Node } from '@rwkv-streams/core';
import { collapse, contiguousStrides, encodeGeometry } from '../../kernels/geometry.js';
import { REDUCE_SUM, REDUCE_SUM_ROWS } from '../../kernels/reduce-sum.js';
import { kernelStep, type Step } from '../step.js';
import { type LowerContext, numelOf } from './context.js';

/**
 * Sum over axes: trailing axes as rows (one warp a row), any other set with kept axes
 * indexing the output and reduced axes walked by a warp.
 */
export function lowerReduceSum(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const axes = new Set(node.attrs['axes'] as readonly number[]);
  const warpsPerBlock = 8;
  const grid = (outputs: number) => ({
    grid: [Math.max(1, Math.min(Math.ceil(outputs / warpsPerBlock), 65535 * 8))] as [number],
    block: [32 * warpsPerBlock] as [number],
  });
  const len = numelOf(x.dims.slice(x.dims.length - axes.size));
  if (len > 0 && [...axes].every((a) => a >= x.dims.length - axes.size)) {
    // trailing axes of a contiguous tensor: rows (an empty sum takes the general path: zeros)
    const rows = numelOf(x.dims) / len;
    if (rows === 0) return [];
    return [
      kernelStep(ctx.rt, `ReduceSum -> ${node.outputs[0]!.name}`, REDUCE_SUM_ROWS, grid(rows), [
        { ptr: y.ptr },
        { ptr: x.ptr },
        { i64: BigInt(rows) },
        { i32: len },
      ]),
    ];
  }
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
  const outputs = numelOf(keep.dims);
  return [
    kernelStep(ctx.rt, `ReduceSum -> ${node.outputs[0]!.name}`, REDUCE_SUM, grid(outputs), [
      { ptr: y.ptr },
      { ptr: x.ptr },
      { bytes: encodeGeometry(keep) },
      { bytes: encodeGeometry(red) },
    ]),
  ];
}
