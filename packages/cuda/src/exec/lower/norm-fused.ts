import { BadInputError } from '@rwkv-streams/core';
import type { StoreType } from '../../kernels/elementwise.js';
import { type NormEpilogueLeaf, normEpilogueKernel } from '../../kernels/layer-norm-epilogue.js';
import { epilogueLeaf } from '../norm-epilogue.js';
import { kernelStep, type Step } from '../step.js';
import type { NormFusedUnit } from '../units.js';
import type { LowerContext } from './context.js';

/**
 * A LayerNorm with its elementwise epilogue (exec/norm-epilogue.ts): one generated kernel,
 * a block a row. Arguments: x, weight and bias (when the LayerNorm has them), the
 * normalized value (when stored), the group's result, the group's other leaves, epsilon.
 */
export function lowerNormFused(ctx: LowerContext, unit: NormFusedUnit): Step[] {
  const { norm, epilogue } = unit;
  const x = ctx.buf(norm.inputs[0]!);
  const yValue = norm.outputs[0]!;
  const yDims = ctx.dims(yValue);
  const C = yDims[yDims.length - 1]!;
  const B = yDims.reduce((a, d) => a * d, 1) / C;
  const result = epilogue.outputs[0];
  const out = ctx.buf(result);
  const R = out.dims.reduce((a, d) => a * d, 1) / (B * C);
  const affine = norm.attrs['affine'] === 1;
  const weight = affine && norm.inputs[1] !== undefined;
  const bias = affine && norm.inputs[2] !== undefined;
  const storeNormalized = unit.outputs.some((v) => v.name === yValue.name);
  const normalizedLeaf = epilogue.inputs.findIndex((v) => v.name === yValue.name);
  if (normalizedLeaf < 0) throw new BadInputError(`the epilogue of '${yValue.name}' does not read it`);
  const leaves: NormEpilogueLeaf[] = epilogue.inputs.map((v, k) => {
    if (k === normalizedLeaf) return { copyOffsets: [], rowStride: 0, colStride: 0 };
    const leaf = epilogueLeaf(ctx.buf(v).dims, out.dims, yDims);
    if (!leaf) throw new BadInputError(`'${v.name}' is not read by rows of [${out.dims}] in the epilogue`);
    return leaf;
  });
  if (out.type === 'i32') throw new BadInputError(`'${result.name}' must be stored as a float type`);
  const kernel = normEpilogueKernel({
    C,
    B,
    R,
    weight,
    bias,
    storeNormalized,
    program: epilogue.program,
    normalizedLeaf,
    leaves,
    outType: out.type as StoreType,
  });
  const args = [{ ptr: x.ptr }];
  if (weight) args.push({ ptr: ctx.buf(norm.inputs[1]!).ptr });
  if (bias) args.push({ ptr: ctx.buf(norm.inputs[2]!).ptr });
  if (storeNormalized) args.push({ ptr: ctx.buf(yValue).ptr });
  args.push({ ptr: out.ptr });
  epilogue.inputs.forEach((v, k) => {
    if (k !== normalizedLeaf) args.push({ ptr: ctx.buf(v).ptr });
  });
  return [
    kernelStep(
      ctx.rt,
      `LayerNorm+${epilogue.nodes.map((n) => n.op).join('+')} -> ${unit.outputs.map((v) => v.name).join(',')}`,
      kernel,
      { grid: [kernel.grid], block: [kernel.threads] },
      [...args, { f32: norm.attrs['epsilon'] as number }],
    ),
  ];
}
