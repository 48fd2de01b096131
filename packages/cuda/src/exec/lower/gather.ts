import { BadInputError, type Node } from '@rwkv-streams/core';
import { GATHER } from '../../kernels/gather.js';
import { gridFor } from '../../kernels/geometry.js';
import { kernelStep, type Step } from '../step.js';
import { type LowerContext, numelOf } from './context.js';

/** Rows of a table at int32 indices (the embedding). */
export function lowerGather(ctx: LowerContext, node: Node): Step[] {
  const table = ctx.buf(node.inputs[0]!);
  const idx = ctx.buf(node.inputs[1]!);
  const out = ctx.buf(node.outputs[0]!);
  if (table.type === 'i32') throw new BadInputError(`Gather of an int32 table '${node.inputs[0]!.name}'`);
  const V = table.dims[0]!;
  const C = numelOf(table.dims) / V;
  const n = numelOf(idx.dims);
  return [
    kernelStep(
      ctx.rt,
      `Gather -> ${node.outputs[0]!.name}`,
      { source: GATHER.source, name: GATHER.names[table.type] },
      gridFor(n * C),
      [{ ptr: table.ptr }, { ptr: idx.ptr }, { ptr: out.ptr }, { i64: BigInt(n) }, { i32: C }, { i32: V }],
    ),
  ];
}
