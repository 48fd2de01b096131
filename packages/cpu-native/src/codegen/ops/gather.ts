import { type EmitContext, numelExpr, type OpEmitter } from '../context.js';

/** Rows of a table at int32 indices; an index outside the table fails the run by name. */
export const emitGather: OpEmitter = (ctx: EmitContext, node) => {
  const table = ctx.value(node.inputs[0]!);
  const indices = ctx.value(node.inputs[1]!);
  const out = ctx.define(node.outputs[0]!);
  const rows = table.dims[0]!;
  const row = numelExpr(table.dims.slice(1));
  const bad = ctx.fail(`index %d at position %lld of '${node.inputs[1]!.name}' is outside 0..%lld`, [
    'ix',
    '(long long)i',
    `(long long)(${rows}) - 1`,
  ]);
  ctx.serial(
    `for (int64_t i = 0; i < ${numelExpr(indices.dims)}; i++) { const int32_t ix = ((const int32_t*)${indices.ptr})[i]; if (ix < 0 || ix >= ${rows}) { ${bad} memset(${out.ptr} + i * (${row}), 0, sizeof(float) * (${row})); } else memcpy(${out.ptr} + i * (${row}), ${table.ptr} + (int64_t)ix * (${row}), sizeof(float) * (${row})); }`,
  );
};
