import type { Node } from '@rwkv-streams/core';
import { LAYER_NORM, layerNormThreads } from '../../kernels/layer-norm.js';
import { kernelStep, type Step } from '../step.js';
import { type LowerContext, numelOf } from './context.js';

/** LayerNorm over the last axis (affine weight and bias optional). */
export function lowerLayerNorm(ctx: LowerContext, node: Node): Step[] {
  const x = ctx.buf(node.inputs[0]!);
  const y = ctx.buf(node.outputs[0]!);
  const affine = node.attrs['affine'] === 1;
  const w = affine && node.inputs[1] ? ctx.buf(node.inputs[1]).ptr : 0n;
  const b = affine && node.inputs[2] ? ctx.buf(node.inputs[2]).ptr : 0n;
  const C = x.dims[x.dims.length - 1] ?? 1;
  const rows = C === 0 ? 0 : numelOf(x.dims) / C;
  if (rows === 0) return [];
  return [
    kernelStep(
      ctx.rt,
      `LayerNorm -> ${node.outputs[0]!.name}`,
      LAYER_NORM,
      { grid: [rows], block: [layerNormThreads(C)] },
      [
        { ptr: x.ptr },
        { ptr: w },
        { ptr: b },
        { ptr: y.ptr },
        { i32: C },
        { f32: node.attrs['epsilon'] as number },
      ],
    ),
  ];
}
