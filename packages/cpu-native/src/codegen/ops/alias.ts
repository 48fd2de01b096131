import type { EmitContext, OpEmitter } from '../context.js';

/** Reshape, Squeeze, Identity and a float32 Cast: the same storage under the output's dims. */
export const emitAlias: OpEmitter = (ctx: EmitContext, node) => {
  ctx.alias(node.outputs[0]!, ctx.value(node.inputs[0]!));
};
