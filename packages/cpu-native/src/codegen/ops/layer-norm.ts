import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** LayerNorm over the last axis with its optional weight and bias. */
export const emitLayerNorm: OpEmitter = (ctx: EmitContext, node) => {
  const [x, weight, bias] = node.inputs.map((v) => ctx.value(v));
  const out = ctx.define(node.outputs[0]!);
  const n = x!.dims[x!.dims.length - 1]!;
  const eps = Number(node.attrs['epsilon'] ?? 1e-5);
  ctx.serial(
    `rs_layer_norm(${x!.ptr}, ${out.ptr}, ${weight ? weight.ptr : 'NULL'}, ${bias ? bias.ptr : 'NULL'}, (${numelExpr(x!.dims)}) / (int64_t)(${n}), ${n}, ${eps.toExponential()}f);`,
  );
};
