import type { Graph, HostTensor } from '@rwkv-streams/core';
import { startVisionGraph } from '../model/vision-graph-start.js';
import { vrwkvBackbone } from '../model/vrwkv-graph.js';
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
  const c = config.backbone;
  const start = startVisionGraph(`vrwkv-seg-${rows}x${cols}`, 'segmenter', tensors, c, grid, SEG_IO.pixels);
  const { b, param, pixels } = start;
  const x = vrwkvBackbone(start, c, tensors, grid);
  const sizes = { patchSize: c.patchSize, inChannels: c.inChannels, numClasses: config.numClasses };
  b.output(SEG_IO.logits, decodeHead(b, sizes, param, x, pixels, grid));
  return b.build();
}
