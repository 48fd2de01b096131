import { BadInputError, type Graph, GraphBuilder, type HostTensor, type Value } from '@rwkv-streams/core';
import { embedPatches } from '../model/patch-embed.js';
import { type VrwkvContext, vrwkvBlock } from '../model/vrwkv-block.js';
import type { VrwkvSegConfig } from './config.js';
import { decodeHead } from './decode-head.js';

/** Names of the segmentation graph's input and output. */
export const SEG_IO = { pixels: 'pixels', logits: 'logits' } as const;

/**
 * A VRWKV segmenter as one graph for one input size: `pixels` [batch, inChannels,
 * rows * P, cols * P] (normalized) -> the backbone (patch + position embedding, blocks,
 * final norm; the same pieces as `buildVrwkvGraph`) -> the decode head -> `logits`
 * [batch, rows * P, cols * P, classes] at the input's full resolution.
 */
export function buildVrwkvSegGraph(
  config: VrwkvSegConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  grid: readonly [number, number],
): Graph {
  const [rows, cols] = grid;
  if (!(rows >= 1 && cols >= 1 && Number.isInteger(rows) && Number.isInteger(cols)))
    throw new BadInputError(`patch grid ${rows}x${cols} must be positive integers`, { field: 'grid' });
  const c = config.backbone;
  const P = c.patchSize;
  const b = new GraphBuilder(`vrwkv-seg-${rows}x${cols}`);
  const get = (name: string): HostTensor => {
    const t = tensors.get(name);
    if (!t) throw new BadInputError(`segmenter weights have no '${name}'`, { field: name });
    return t;
  };
  const param = (name: string): Value => b.weight(name, get(name));
  const ctx: VrwkvContext = { b, config: c, grid, param, tensors };
  const pixels = b.input(SEG_IO.pixels, 'float32', ['batch', c.inChannels, rows * P, cols * P]);
  let x = embedPatches(b, c, get, pixels, grid);
  for (let l = 0; l < c.depth; l++) x = vrwkvBlock(ctx, x, l);
  if (c.finalNorm) x = b.layerNorm(x, param('ln1.weight'), param('ln1.bias'), 1e-5);
  const sizes = { patchSize: P, inChannels: c.inChannels, numClasses: config.numClasses };
  b.output(SEG_IO.logits, decodeHead(b, sizes, param, x, pixels, grid));
  return b.build();
}
