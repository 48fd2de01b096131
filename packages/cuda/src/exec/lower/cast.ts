import { BadInputError, type Node } from '@rwkv-streams/core';
import { CAST } from '../../kernels/cast.js';
import { gridFor } from '../../kernels/geometry.js';
import { kernelStep, type Step } from '../step.js';
import { type LowerContext, numelOf } from './context.js';

/** The IR's Cast between float32 and int32 (a same-type Cast is a copy). */
export function lowerCast(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const n = numelOf(x.dims);
  if (n === 0) return [];
  if (x.type === y.type) {
    return [
      {
        label: `Cast (copy) -> ${node.outputs[0]!.name}`,
        enqueue: (lane) => ctx.rt.ctx.copyDeviceAsync(y.ptr, x.ptr, n * 4, lane.stream),
      },
    ];
  }
  const name =
    x.type === 'i32' && y.type === 'f32'
      ? CAST.names.i32ToF32
      : x.type === 'f32' && y.type === 'i32'
        ? CAST.names.f32ToI32
        : undefined;
  if (!name)
    throw new BadInputError(`Cast from ${x.type} to ${y.type} is not supported`, {
      field: node.outputs[0]!.name,
    });
  return [
    kernelStep(ctx.rt, `Cast -> ${node.outputs[0]!.name}`, { source: CAST.source, name }, gridFor(n), [
      { ptr: x.ptr },
      { ptr: y.ptr },
      { i64: BigInt(n) },
    ]),
  ];
}
