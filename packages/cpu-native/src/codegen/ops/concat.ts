import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** Concat along one axis: each outer row gets each input's run in turn. */
export const emitConcat: OpEmitter = (ctx: EmitContext, node) => {
  const ins = node.inputs.map((v) => ctx.value(v));
  const out = ctx.define(node.outputs[0]!);
  const axis = Number(node.attrs['axis']);
  const outer = numelExpr(out.dims.slice(0, axis));
  const inner = numelExpr(out.dims.slice(axis + 1));
  const copies = ins.map((x) => {
    const run = `(int64_t)(${x.dims[axis]}) * (${inner})`;
    return `memcpy(dst, ${x.ptr} + o * ${run}, sizeof(float) * ${run}); dst += ${run};`;
  });
  ctx.serial(`{ float* dst = ${out.ptr}; for (int64_t o = 0; o < ${outer}; o++) { ${copies.join(' ')} } }`);
};
