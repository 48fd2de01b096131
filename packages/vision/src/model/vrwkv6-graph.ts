import type { Graph, HostTensor } from '@rwkv-streams/core';
import { embedPatches } from './patch-embed.js';
import { startVisionGraph } from './vision-graph-start.js';
import { VRWKV_IO } from './vrwkv-graph.js';
import { type Vrwkv6Context, vrwkv6Block, vrwkv6Params } from './vrwkv6-block.js';
import type { Vrwkv6Config } from './vrwkv6-config.js';

/**
 * The VRWKV6 backbone (and its linear head, when the weights have one) as a graph for one
 * input size, with VRWKV's inputs and outputs (`VRWKV_IO`): `pixels` [batch, inChannels,
 * rows * P, cols * P] (normalized) -> `features` [batch, rows * cols, C] (the patch tokens
 * after the final norm) and `logits` [batch, classes] (the head on their average). With a
 * class token, it is appended after the position embedding, as the official code does,
 * and left out of the features and the pooling.
 */
export function buildVrwkv6Graph(
  config: Vrwkv6Config,
  tensors: ReadonlyMap<string, HostTensor>,
  grid: readonly [number, number],
): Graph {
  const [rows, cols] = grid;
  const { b, get, pixels } = startVisionGraph(
    `vrwkv6-${rows}x${cols}`,
    'VRWKV6',
    tensors,
    config,
    grid,
    VRWKV_IO.pixels,
  );
  const ctx: Vrwkv6Context = { b, config, grid, ...vrwkv6Params(b, get) };
  let x = embedPatches(b, config, get, pixels, grid);
  const n = rows * cols;
  if (config.withClsToken) {
    // [1, 1, C] broadcast over the batch: cls + 0 * (any one token).
    const zeros = b.mul(b.slice(x, 1, 0, 1), b.scalar(0));
    x = b.concat([x, b.add(zeros, ctx.param('cls_token'))], 1);
  }
  for (let l = 0; l < config.depth; l++) x = vrwkv6Block(ctx, x, l);
  if (config.finalNorm) x = b.layerNorm(x, ctx.param('ln1.weight'), ctx.param('ln1.bias'), 1e-5);
  if (config.withClsToken) x = b.slice(x, 1, 0, n);
  b.output(VRWKV_IO.features, x);
  if (config.numClasses > 0) {
    const pooled = b.mul(b.reduceSum(x, [1], false), b.scalar(1 / n));
    b.output(
      VRWKV_IO.logits,
      b.add(b.linear(pooled, ctx.param('head.fc.weight')), ctx.param('head.fc.bias')),
    );
  }
  return b.build();
}
