import { readFileSync } from 'node:fs';
import { ShapeMismatchError } from '@rwkv-streams/core';
import type { VrwkvModel } from '../model/vrwkv-model.js';

/** A set of same-size 8-bit images with labels (MNIST-style raw files). */
export interface RawImageSet {
  /** [count, height, width, channels] bytes. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/** Reads `images` (count x height x width x channels bytes) and `labels` (count bytes). */
export function readRawImageSet(
  images: string,
  labels: string,
  height: number,
  width: number,
  channels = 1,
): RawImageSet {
  const pixels = new Uint8Array(readFileSync(images));
  const l = new Uint8Array(readFileSync(labels));
  if (pixels.length !== l.length * height * width * channels)
    throw new ShapeMismatchError(
      `${images} has ${pixels.length} bytes; ${l.length} labels of ${height}x${width}x${channels} need ${l.length * height * width * channels}`,
      { file: images },
    );
  return { pixels, labels: l, height, width, channels };
}

/**
 * The model's class for every image (argmax of the logits), normalizing bytes with
 * per-channel mean and std (0-255 scale), `batch` images per call.
 */
export async function predictRaw(
  model: VrwkvModel,
  set: RawImageSet,
  mean: readonly number[],
  std: readonly number[],
  batch = 250,
): Promise<Uint8Array> {
  const { height: H, width: W, channels: C } = set;
  const n = set.labels.length;
  const classes = model.config.numClasses;
  const out = new Uint8Array(n);
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const x = new Float32Array(b * C * H * W);
    for (let i = 0; i < b; i++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++)
          x[(i * C + c) * H * W + p] = (set.pixels[((start + i) * H * W + p) * C + c]! - mean[c]!) / std[c]!;
    const { logits } = await model.forward(x, b, H, W);
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++)
        if (logits![i * classes + k]! > logits![i * classes + best]!) best = k;
      out[start + i] = best;
    }
  }
  return out;
}
