import type { Graph, HostTensor, Value } from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { embedPatches } from './patch-embed.js';
import { startVisionGraph, type VisionGraphStart } from './vision-graph-start.js';
import { type VrwkvContext, vrwkvBlock } from './vrwkv-block.js';

/** Names of the graph's input and outputs. */
export const VRWKV_IO = { pixels: 'pixels', features: 'features', logits: 'logits' } as const;

/**
 * The VRWKV backbone (and its linear head, when the weights have one) as a graph for one
 * input size: `pixels` [batch, inChannels, rows * P, cols * P] (normalized) ->
 * `features` [batch, rows * cols, C] (after the final norm) and `logits` [batch, classes]
 * (the head on average-pooled features). The stem (patch and position embedding, resized
 * for the grid) is `embedPatches`, shared with VRWKV6.
 */
export function buildVrwkvGraph(
  config: VrwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  grid: readonly [number, number],
): Graph {
  const [rows, cols] = grid;
  const start = startVisionGraph(`vrwkv-${rows}x${cols}`, 'VRWKV', tensors, config, grid, VRWKV_IO.pixels);
  const { b, param } = start;
  const x = vrwkvBackbone(start, config, tensors, grid);
  b.output(VRWKV_IO.features, x);
  if (config.numClasses > 0) {
    const pooled = b.mul(b.reduceSum(x, [1], false), b.scalar(1 / (rows * cols)));
    b.output(VRWKV_IO.logits, b.add(b.linear(pooled, param('head.fc.weight')), param('head.fc.bias')));
  }
  return b.build();
}

/**
 * The VRWKV backbone over a started graph: patch and position embedding, the blocks, the
 * final norm -> tokens [batch, rows * cols, C] (shared by classification and segmentation).
 */
export function vrwkvBackbone(
  start: VisionGraphStart,
  config: VrwkvConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  grid: readonly [number, number],
): Value {
  const { b, get, param, pixels } = start;
  const ctx: VrwkvContext = { b, config, grid, param, tensors };
  let x = embedPatches(b, config, get, pixels, grid);
  for (let l = 0; l < config.depth; l++) x = vrwkvBlock(ctx, x, l);
  if (config.finalNorm) x = b.layerNorm(x, param('ln1.weight'), param('ln1.bias'), 1e-5);
  return x;
}
