import type { GraphBuilder, Value } from '@rwkv-streams/core';

/** Sizes the decode head needs. */
export interface DecodeHeadSizes {
  readonly patchSize: number;
  readonly inChannels: number;
  readonly numClasses: number;
}

/**
 * The light segmentation head, per patch and without convolutions: the backbone token of
 * a patch and the patch's own normalized pixels -> fc1 -> ReLU -> fc2 -> P x P pixels x K
 * class logits, unfolded back onto the pixel grid. The pixels give the exact outline at
 * full resolution, the token the class from the whole image (through the WKV); unfolding
 * is reshape + transpose, so every backend runs it with standard ops.
 * features [batch, rows*cols, C], pixels [batch, Cin, rows*P, cols*P]
 *   -> logits [batch, rows*P, cols*P, K] (channels last: a pixel's classes are contiguous).
 */
export function decodeHead(
  b: GraphBuilder,
  sizes: DecodeHeadSizes,
  param: (name: string) => Value,
  features: Value,
  pixels: Value,
  grid: readonly [number, number],
): Value {
  const [rows, cols] = grid;
  const { patchSize: P, inChannels: Cin, numClasses: K } = sizes;
  // the same patch order as the patch embedding: [Cin, P, P] per patch, patches row-major
  const patches = b.reshape(
    b.transpose(b.reshape(pixels, ['batch', Cin, rows, P, cols, P]), [0, 2, 4, 1, 3, 5]),
    ['batch', rows * cols, Cin * P * P],
  );
  const x = b.concat([features, patches], 2);
  const h = b.relu(b.add(b.linear(x, param('decode_head.fc1.weight')), param('decode_head.fc1.bias')));
  const y = b.add(b.linear(h, param('decode_head.fc2.weight')), param('decode_head.fc2.bias'));
  // [B, T, (py, px, k)] -> [B, rows, cols, py, px, K] -> [B, rows, py, cols, px, K]
  const grid6 = b.transpose(b.reshape(y, ['batch', rows, cols, P, P, K]), [0, 1, 3, 2, 4, 5]);
  return b.reshape(grid6, ['batch', rows * P, cols * P, K]);
}
