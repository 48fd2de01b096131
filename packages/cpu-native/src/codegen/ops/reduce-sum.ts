import type { Node } from '@rwkv-streams/core';
import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** Whether this file emits the node: sums over the last axis only. */
export function reduceSumSupported(node: Node): boolean {
  const axes = node.attrs['axes'] as readonly number[] | undefined;
  const rank = node.inputs[0]!.shape.length;
  return axes?.length === 1 && axes[0] === rank - 1;
}

/** ReduceSum over the last axis (the sums a head's vector needs), keepdims either way. */
export const emitReduceSum: OpEmitter = (ctx: EmitContext, node) => {
  const x = ctx.value(node.inputs[0]!);
  const out = ctx.define(node.outputs[0]!);
  const n = x.dims[x.dims.length - 1]!;
  ctx.serial(
    `for (int64_t r = 0; r < (${numelExpr(x.dims)}) / (int64_t)(${n}); r++) { float s = 0.f; for (int64_t i = 0; i < ${n}; i++) s += ${x.ptr}[r * (${n}) + i]; ${out.ptr}[r] = s; }`,
  );
};
