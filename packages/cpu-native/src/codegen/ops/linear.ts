import { type EmitContext, f32, numelExpr, type OpEmitter } from '../context.js';

/**
 * x[..., in] times weight[out, in]^T: the threads share the weight's rows, each reading its
 * rows once for every input row (one stream of weights whatever the batch). int4 weights
 * take their input quantized to int8 blocks first (`rs_linear`: by each thread for itself
 * when small, so no barrier waits for it).
 */
export const emitLinear: OpEmitter = (ctx: EmitContext, node) => {
  const x = ctx.value(node.inputs[0]!);
  const weight = node.inputs[1]!;
  const out = ctx.define(node.outputs[0]!);
  const k = x.dims[x.dims.length - 1]!;
  const rows = `(${numelExpr(x.dims)}) / (int64_t)(${k})`;
  const m = ctx.matrix(weight);
  ctx.parallel(`rs_linear(&${m}, ${f32(x)}, ${out.ptr}, ${rows});`);
};
