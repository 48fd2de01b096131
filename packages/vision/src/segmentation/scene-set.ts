import { readFileSync } from 'node:fs';
import { ShapeMismatchError } from '@rwkv-streams/core';
import type { VrwkvSegmenter } from './vrwkv-segmenter.js';

/** Square one-channel scenes with their true class masks (raw bytes, like MNIST scenes). */
export interface SceneSet {
  /** [count, size, size] bytes. */
  readonly images: Uint8Array;
  /** [count, size, size] class indices. */
  readonly masks: Uint8Array;
  readonly size: number;
  readonly count: number;
}

/** Reads `<prefix>-images.u8` style files: images and masks, count x size x size bytes each. */
export function readSceneSet(images: string, masks: string, size: number): SceneSet {
  const im = new Uint8Array(readFileSync(images));
  const m = new Uint8Array(readFileSync(masks));
  const per = size * size;
  if (im.length % per !== 0 || m.length !== im.length)
    throw new ShapeMismatchError(
      `${images} (${im.length} bytes) and ${masks} (${m.length} bytes) are not the same number of ${size}x${size} scenes`,
      { file: images },
    );
  return { images: im, masks: m, size, count: im.length / per };
}

/**
 * The segmenter's mask of every scene, normalizing bytes with `mean` and `std` (0-255
 * scale, one channel), `batch` scenes per call -> [count, size, size] class indices.
 */
export async function segmentScenes(
  model: VrwkvSegmenter,
  set: SceneSet,
  mean: number,
  std: number,
  batch = 100,
): Promise<Uint8Array> {
  const per = set.size * set.size;
  const out = new Uint8Array(set.count * per);
  for (let start = 0; start < set.count; start += batch) {
    const n = Math.min(batch, set.count - start);
    const x = new Float32Array(n * per);
    for (let i = 0; i < n * per; i++) x[i] = (set.images[start * per + i]! - mean) / std;
    const { masks } = await model.forward(x, n, set.size, set.size);
    out.set(masks, start * per);
  }
  return out;
}
