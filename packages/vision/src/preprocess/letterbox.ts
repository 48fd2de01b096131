import { BadInputError } from '@rwkv-streams/core';
import { decodeImage } from './decode-image.js';
import { loadSharp } from './load-sharp.js';
import type { ImageInput } from './preprocess-image.js';

/** How an image becomes a square segmentation input. */
export interface LetterboxSpec {
  /** Side of the square model input, in pixels (a multiple of the patch size). */
  readonly size: number;
  /** Per-channel mean and standard deviation on the 0-255 scale. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** 1 (greyscale) or 3 (RGB). */
  readonly channels: 1 | 3;
}

/** Where the image lies inside the square input (pixels of the input). */
export interface LetterboxBox {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** A letterboxed image and the geometry to map results back onto the original. */
export interface LetterboxedImage {
  /** [channels, size, size] normalized float32, row-major. */
  readonly pixels: Float32Array;
  /** The decoded image's size after EXIF orientation. */
  readonly original: { readonly width: number; readonly height: number };
  readonly box: LetterboxBox;
}

/**
 * The placement of a width x height image scaled to fit a size x size square, aspect
 * kept, centred (the spare pixel, if any, right and below).
 */
export function letterboxBox(width: number, height: number, size: number): LetterboxBox {
  const scale = Math.min(size / width, size / height);
  const w = Math.min(size, Math.max(1, Math.round(width * scale)));
  const h = Math.min(size, Math.max(1, Math.round(height * scale)));
  return { left: Math.floor((size - w) / 2), top: Math.floor((size - h) / 2), width: w, height: h };
}

/**
 * Decodes (any format sharp reads, EXIF orientation applied), scales the image to fit
 * the square (bicubic; an image already that size is not resampled), pads with black
 * around it and normalizes. Errors as `decodeImage`.
 */
export async function letterboxImage(input: ImageInput, spec: LetterboxSpec): Promise<LetterboxedImage> {
  const sharp = await loadSharp();
  const { size, channels: C } = spec;
  if (!(Number.isInteger(size) && size > 0))
    throw new BadInputError(`letterbox size ${size} must be a positive integer`, { field: 'size' });
  const img = await decodeImage(input, C);
  const box = letterboxBox(img.width, img.height, size);
  let data = img.data;
  if (box.width !== img.width || box.height !== img.height) {
    const resized = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: C } })
      .resize(box.width, box.height, { fit: 'fill', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // sharp may hand a one-channel image back as sRGB: keep the first channel then
    data = resized.data;
    if (resized.info.channels !== C) {
      const n = resized.info.channels;
      data = Buffer.alloc(box.width * box.height * C);
      for (let i = 0; i < box.width * box.height; i++)
        for (let c = 0; c < C; c++) data[i * C + c] = resized.data[i * n + c]!;
    }
  }
  const plane = size * size;
  const pixels = new Float32Array(C * plane);
  for (let c = 0; c < C; c++) {
    const pad = (0 - spec.mean[c]!) / spec.std[c]!;
    pixels.fill(pad, c * plane, (c + 1) * plane);
    for (let y = 0; y < box.height; y++)
      for (let x = 0; x < box.width; x++)
        pixels[c * plane + (box.top + y) * size + box.left + x] =
          (data[(y * box.width + x) * C + c]! - spec.mean[c]!) / spec.std[c]!;
  }
  return { pixels, original: { width: img.width, height: img.height }, box };
}

/**
 * A size x size mask of a letterboxed input mapped back onto the original width x height
 * (nearest: each original pixel takes the class of the input pixel its centre falls in).
 */
export function unletterboxMask(
  mask: Uint8Array,
  size: number,
  box: LetterboxBox,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  const xs = Int32Array.from({ length: width }, (_, x) =>
    Math.min(box.width - 1, Math.floor(((x + 0.5) * box.width) / width)),
  );
  for (let y = 0; y < height; y++) {
    const sy = box.top + Math.min(box.height - 1, Math.floor(((y + 0.5) * box.height) / height));
    for (let x = 0; x < width; x++) out[y * width + x] = mask[sy * size + box.left + xs[x]!]!;
  }
  return out;
}
