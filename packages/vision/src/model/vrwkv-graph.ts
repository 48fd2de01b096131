import { BadInputError, type Graph, GraphBuilder, type HostTensor, type Value } from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { embedPatches } from './patch-embed.js';
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
  if (!(rows >= 1 && cols >= 1 && Number.isInteger(rows) && Number.isInteger(cols)))
    throw new BadInputError(`patch grid ${rows}x${cols} must be positive integers`, { field: 'grid' });
  const P = config.patchSize;
  const Cin = config.inChannels;
  const b = new GraphBuilder(`vrwkv-${rows}x${cols}`);
  const get = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t) throw new BadInputError(`VRWKV weights have no '${name}'`, { field: name });
    return t;
  };
  const param = (name: string): Value => b.weight(name, get(name));
  const ctx: VrwkvContext = { b, config, grid, param, tensors };

  const pixels = b.input(VRWKV_IO.pixels, 'float32', ['batch', Cin, rows * P, cols * P]);
  let x = embedPatches(b, config, get, pixels, grid);
  for (let l = 0; l < config.depth; l++) x = vrwkvBlock(ctx, x, l);
  if (config.finalNorm) x = b.layerNorm(x, param('ln1.weight'), param('ln1.bias'), 1e-5);
  b.output(VRWKV_IO.features, x);
  if (config.numClasses > 0) {
    const pooled = b.mul(b.reduceSum(x, [1], false), b.scalar(1 / (rows * cols)));
    b.output(VRWKV_IO.logits, b.add(b.linear(pooled, param('head.fc.weight')), param('head.fc.bias')));
  }
  return b.build();
}
