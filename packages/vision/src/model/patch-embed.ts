import { type GraphBuilder, type HostTensor, hostTensor, type Value } from '@rwkv-streams/core';
import { resizePosEmbed } from './resize-pos-embed.js';

/** What the patch embedding needs of a backbone's config (VRWKV and VRWKV6 alike). */
export interface PatchEmbedSizes {
  readonly embedDims: number;
  readonly patchSize: number;
  readonly inChannels: number;
  readonly patchResolution: readonly [number, number];
}

/**
 * Vision-RWKV's stem, shared by both families: the patch embedding (a convolution with
 * kernel = stride = P, written as patches flattened and one Linear) and the position
 * embedding, resized bicubically when `grid` differs from the trained one.
 * pixels: [batch, inChannels, rows * P, cols * P] -> tokens [batch, rows * cols, C].
 */
export function embedPatches(
  b: GraphBuilder,
  sizes: PatchEmbedSizes,
  get: (name: string) => HostTensor,
  pixels: Value,
  grid: readonly [number, number],
): Value {
  const [rows, cols] = grid;
  const { patchSize: P, embedDims: C, inChannels: Cin } = sizes;
  const patches = b.reshape(
    b.transpose(b.reshape(pixels, ['batch', Cin, rows, P, cols, P]), [0, 2, 4, 1, 3, 5]),
    ['batch', rows * cols, Cin * P * P],
  );
  const conv = get('patch_embed.projection.weight');
  const proj = b.weight('patch_embed.projection.weight_2d', hostTensor([C, Cin * P * P], conv.data));
  const x = b.add(
    b.linear(patches, proj),
    b.weight('patch_embed.projection.bias', get('patch_embed.projection.bias')),
  );
  const pos = resizePosEmbed(get('pos_embed'), sizes.patchResolution, grid);
  return b.add(x, b.weight(`pos_embed_${rows}x${cols}`, pos));
}
