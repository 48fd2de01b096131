import type { Node } from '@rwkv-streams/core';
import { collapse, contiguousStrides, gridFor, type Walk } from '../../kernels/geometry.js';
import { stridedCopyKernel } from '../../kernels/strided-copy.js';
import { encodeWalk, walkIndexing } from '../../kernels/walk-index.js';
import { sliceFromStart, sliceRange } from '../shapes.js';
import { kernelStep, type Step } from '../step.js';
import { ELEM_BYTES } from '../weights.js';
import type { Buf, LowerContext } from './context.js';

/**
 * The data-movement ops as strided copies: Transpose (permuted source strides), Slice
 * and SliceFrom (a source offset), Concat (one copy per input at a destination offset).
 */
function copy(
  ctx: LowerContext,
  label: string,
  dst: Buf,
  src: Buf,
  walk: Walk,
  offsets: [number, number],
): Step {
  const w = collapse(walk);
  const ix = walkIndexing(w, offsets);
  return kernelStep(ctx.rt, label, stridedCopyKernel(ix), gridFor(w.dims.reduce((a, b) => a * b, 1)), [
    { ptr: dst.ptr },
    { ptr: src.ptr },
    { bytes: encodeWalk(w, ix, offsets) },
  ]);
}

export function lowerTranspose(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const perm = node.attrs['perm'] as readonly number[];
  const xs = contiguousStrides(x.dims);
  return [
    copy(
      ctx,
      `Transpose -> ${node.outputs[0]!.name}`,
      y,
      x,
      {
        dims: y.dims,
        strides: [contiguousStrides(y.dims), perm.map((p) => xs[p]!)],
      },
      [0, 0],
    ),
  ];
}

export function lowerSlice(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const ax = node.attrs['axis'] as number;
  const xs = contiguousStrides(x.dims);
  let start: number;
  if (node.op === 'SliceFrom') start = sliceFromStart(ctx.scalar(node.inputs[1]!.name) ?? 0, x.dims[ax]!);
  else start = sliceRange(node, x.dims[ax]!)[0];
  if (y.dims.some((d) => d === 0)) return [];
  return [
    copy(
      ctx,
      `${node.op} -> ${node.outputs[0]!.name}`,
      y,
      x,
      { dims: y.dims, strides: [contiguousStrides(y.dims), xs] },
      [0, start * xs[ax]!],
    ),
  ];
}

export function lowerConcat(ctx: LowerContext, node: Node): Step[] {
  const y = ctx.buf(node.outputs[0]!);
  const ax = node.attrs['axis'] as number;
  const ys = contiguousStrides(y.dims);
  const steps: Step[] = [];
  let at = 0;
  // the inputs are contiguous blocks of the result when every dim before the axis is 1
  const blocks = y.dims.slice(0, ax).every((d) => d === 1);
  for (const v of node.inputs) {
    const x = ctx.buf(v);
    // already where it goes: the plan wrote it there (exec/concat-in-place.ts)
    const inPlace =
      blocks && x.type === y.type && x.ptr === y.ptr + BigInt(at * ys[ax]! * ELEM_BYTES[y.type]);
    if (!inPlace && x.dims.every((d) => d > 0)) {
      steps.push(
        copy(
          ctx,
          `Concat ${v.name} -> ${node.outputs[0]!.name}`,
          y,
          x,
          { dims: x.dims, strides: [ys, contiguousStrides(x.dims)] },
          [at * ys[ax]!, 0],
        ),
      );
    }
    at += x.dims[ax]!;
  }
  return steps;
}
