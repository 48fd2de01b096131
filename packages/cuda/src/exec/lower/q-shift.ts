import type { Node } from '@rwkv-streams/core';
import { gridFor } from '../../kernels/geometry.js';
import { Q_SHIFT } from '../../kernels/q-shift.js';
import { kernelStep, type Step } from '../step.js';
import { type LowerContext, numelOf } from './context.js';

/** Q-Shift of x [B, rows * cols, C]: one gather kernel over the output. */
export function lowerQShift(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const total = numelOf(y.dims);
  if (total === 0) return [];
  const a = node.attrs;
  const int = (k: string) => ({ i32: a[k] as number });
  return [
    kernelStep(ctx.rt, `QShift -> ${node.outputs[0]!.name}`, Q_SHIFT, gridFor(total), [
      { ptr: y.ptr },
      { ptr: x.ptr },
      { i64: BigInt(total) },
      int('rows'),
      int('cols'),
      { i32: y.dims[2]! },
      int('group'),
      int('shift'),
      int('heads'),
    ]),
  ];
}
