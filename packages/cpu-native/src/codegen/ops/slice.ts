import type { Node } from '@rwkv-streams/core';
import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** Whether this file emits the node: a start and end it can place at compile time. */
export function sliceSupported(node: Node): boolean {
  const axis = Number(node.attrs['axis']);
  const dim = node.inputs[0]!.shape[axis];
  const start = Number(node.attrs['start']);
  const end = Number(node.attrs['end']);
  return typeof dim === 'number' || (start >= 0 && end >= 0);
}

/** Slice [start, end) along one axis: a copy of the kept run of each outer row. */
export const emitSlice: OpEmitter = (ctx: EmitContext, node) => {
  const x = ctx.value(node.inputs[0]!);
  const out = ctx.define(node.outputs[0]!);
  const axis = Number(node.attrs['axis']);
  const shape = node.inputs[0]!.shape;
  const dim = shape[axis];
  let start = Number(node.attrs['start']);
  let end = Number(node.attrs['end']);
  if (typeof dim === 'number') {
    start = start < 0 ? Math.max(0, dim + start) : Math.min(start, dim);
    end = end < 0 ? Math.max(0, dim + end) : Math.min(end, dim);
  }
  const len = Math.max(0, end - start);
  const outer = numelExpr(x.dims.slice(0, axis));
  const inner = numelExpr(x.dims.slice(axis + 1));
  ctx.serial(
    `for (int64_t o = 0; o < ${outer}; o++) memcpy(${out.ptr} + o * ${len} * (${inner}), ${x.ptr} + (o * (int64_t)(${x.dims[axis]}) + ${start}) * (${inner}), sizeof(float) * ${len} * (${inner}));`,
  );
};
