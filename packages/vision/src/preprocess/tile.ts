import { BadInputError } from '@rwkv-streams/core';
import { decodeImage } from './decode-image.js';
import type { LetterboxSpec } from './letterbox.js';
import type { ImageInput } from './preprocess-image.js';

/** An image cut into size x size tiles at its own resolution. */
export interface TiledImage {
  /** [tiles, channels, size, size] normalized float32, tiles row-major over the image. */
  readonly pixels: Float32Array;
  /** The decoded image's size after EXIF orientation. */
  readonly original: { readonly width: number; readonly height: number };
  /** Tiles across and down: ceil(width / size) x ceil(height / size). */
  readonly cols: number;
  readonly rows: number;
}

/**
 * Full-resolution tiling: decodes (any format sharp reads, EXIF orientation applied),
 * pads the image with black on the right and bottom to whole tiles, cuts it into
 * `spec.size` x `spec.size` tiles (no resampling: objects keep their size in pixels) and
 * normalizes each. Errors as `decodeImage`.
 */
export async function tileImage(input: ImageInput, spec: LetterboxSpec): Promise<TiledImage> {
  const { size: S, channels: C } = spec;
  if (!(Number.isInteger(S) && S > 0))
    throw new BadInputError(`tile size ${S} must be a positive integer`, { field: 'size' });
  const img = await decodeImage(input, C);
  const cols = Math.ceil(img.width / S);
  const rows = Math.ceil(img.height / S);
  const plane = S * S;
  const pixels = new Float32Array(rows * cols * C * plane);
  for (let c = 0; c < C; c++) {
    const pad = (0 - spec.mean[c]!) / spec.std[c]!;
    for (let t = 0; t < rows * cols; t++) pixels.fill(pad, (t * C + c) * plane, (t * C + c + 1) * plane);
  }
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const t = Math.floor(y / S) * cols + Math.floor(x / S);
      const o = (y % S) * S + (x % S);
      for (let c = 0; c < C; c++)
        pixels[(t * C + c) * plane + o] =
          (img.data[(y * img.width + x) * C + c]! - spec.mean[c]!) / spec.std[c]!;
    }
  return { pixels, original: { width: img.width, height: img.height }, cols, rows };
}

/** The tiles' size x size masks (row-major over the image) stitched into the width x height mask. */
export function stitchTileMasks(
  masks: Uint8Array,
  size: number,
  cols: number,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const t = Math.floor(y / size) * cols + Math.floor(x / size);
      out[y * width + x] = masks[t * size * size + (y % size) * size + (x % size)]!;
    }
  return out;
}
