import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/**
 * SliceFrom: the output's length of `x` along one axis from an int32 start given at run time
 * (a sequence graph's `logits_from`: the positions whose logits are asked for). A start that
 * does not leave exactly the output's length fails the run by name.
 */
export const emitSliceFrom: OpEmitter = (ctx: EmitContext, node) => {
  const x = ctx.value(node.inputs[0]!);
  const from = ctx.value(node.inputs[1]!);
  const out = ctx.define(node.outputs[0]!);
  const axis = Number(node.attrs['axis']);
  const outer = numelExpr(x.dims.slice(0, axis));
  const inner = numelExpr(x.dims.slice(axis + 1));
  const bad = ctx.fail(`'${node.inputs[1]!.name}' is %lld: it must leave %lld of %lld positions`, [
    '(long long)s',
    '(long long)len',
    '(long long)d',
  ]);
  ctx.serial(
    `{ const int64_t d = ${x.dims[axis]}, len = ${out.dims[axis]}, s = ((const int32_t*)${from.ptr})[0]; if (s < 0 || s + len != d) { ${bad} } else for (int64_t o = 0; o < ${outer}; o++) memcpy(${out.ptr} + o * len * (${inner}), ${x.ptr} + (o * d + s) * (${inner}), sizeof(float) * len * (${inner})); }`,
  );
};
