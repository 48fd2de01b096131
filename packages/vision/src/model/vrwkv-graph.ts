import {
  BadInputError,
  type Graph,
  GraphBuilder,
  type HostTensor,
  hostTensor,
  type Value,
} from '@rwkv-streams/core';
import type { VrwkvConfig } from './config.js';
import { resizePosEmbed } from './resize-pos-embed.js';
import { type VrwkvContext, vrwkvBlock } from './vrwkv-block.js';

/** Names of the graph's input and outputs. */
export const VRWKV_IO = { pixels: 'pixels', features: 'features', logits: 'logits' } as const;

/**
 * The VRWKV backbone (and its linear head, when the weights have one) as a graph for one
 * input size: `pixels` [batch, inChannels, rows * P, cols * P] (normalized) ->
 * `features` [batch, rows * cols, C] (after the final norm) and `logits` [batch, classes]
 * (the head on average-pooled features). The patch embedding (a convolution with kernel
 * = stride = P) is patches flattened and one Linear; the position embedding is resized
 * bicubically when the grid differs from the trained one.
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
  const C = config.embedDims;
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
  const patches = b.reshape(
    b.transpose(b.reshape(pixels, ['batch', Cin, rows, P, cols, P]), [0, 2, 4, 1, 3, 5]),
    ['batch', rows * cols, Cin * P * P],
  );
  const conv = get('patch_embed.projection.weight');
  const proj = b.weight('patch_embed.projection.weight_2d', hostTensor([C, Cin * P * P], conv.data));
  let x = b.add(b.linear(patches, proj), param('patch_embed.projection.bias'));
  const pos = resizePosEmbed(get('pos_embed'), config.patchResolution, grid);
  x = b.add(x, b.weight(`pos_embed_${rows}x${cols}`, pos));
  for (let l = 0; l < config.depth; l++) x = vrwkvBlock(ctx, x, l);
  if (config.finalNorm) x = b.layerNorm(x, param('ln1.weight'), param('ln1.bias'), 1e-5);
  b.output(VRWKV_IO.features, x);
  if (config.numClasses > 0) {
    const pooled = b.mul(b.reduceSum(x, [1], false), b.scalar(1 / (rows * cols)));
    b.output(VRWKV_IO.logits, b.add(b.linear(pooled, param('head.fc.weight')), param('head.fc.bias')));
  }
  return b.build();
}
