import type { Node } from '@rwkv-streams/core';
import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** Whether this file emits the node: an axis, start and end given as whole numbers. */
export function sliceSupported(node: Node): boolean {
  return ['axis', 'start', 'end'].every((k) => Number.isInteger(Number(node.attrs[k])));
}

/**
 * Slice [start, end) along one axis (negative ends count from the end, as ONNX), placed at
 * run time when the axis is symbolic: a copy of the kept run of each outer row.
 */
export const emitSlice: OpEmitter = (ctx: EmitContext, node) => {
  const x = ctx.value(node.inputs[0]!);
  const out = ctx.define(node.outputs[0]!);
  const axis = Number(node.attrs['axis']);
  const start = Number(node.attrs['start']);
  const end = Number(node.attrs['end']);
  const place = (at: number) =>
    at < 0 ? `(d + ${at} < 0 ? 0 : d + ${at})` : `(${at} > d ? d : (int64_t)${at})`;
  const outer = numelExpr(x.dims.slice(0, axis));
  const inner = numelExpr(x.dims.slice(axis + 1));
  ctx.serial(
    `{ const int64_t d = ${x.dims[axis]}, s = ${place(start)}, e = ${place(end)}, len = e > s ? e - s : 0; for (int64_t o = 0; o < ${outer}; o++) memcpy(${out.ptr} + o * len * (${inner}), ${x.ptr} + (o * d + s) * (${inner}), sizeof(float) * len * (${inner})); }`,
  );
};
