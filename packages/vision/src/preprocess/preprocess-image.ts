import { BadInputError, MalformedFileError } from '@rwkv-streams/core';
import type { Sharp } from 'sharp';
import { loadSharp } from './load-sharp.js';
import { openImage } from './open-image.js';

/** An image as the operators take it: a file path, encoded bytes, or a sharp pipeline. */
export type ImageInput = string | Uint8Array | Sharp;

/** How an image becomes model input. */
export interface PreprocessSpec {
  /** Side of the square model input, in pixels (a multiple of the patch size). */
  readonly size: number;
  /**
   * 'center-crop' (classification: scale the short side to `resizeShort`, cut the
   * centre), 'letterbox' (fit inside, pad with black), 'stretch' (ignore aspect), or
   * 'native' (the image's own aspect and size: scaled down only to fit within `size` x
   * `size`, then each side down to a multiple of `multipleOf`; images of different sizes
   * give inputs of different sizes, which `classify()` batches by size).
   */
  readonly policy: 'center-crop' | 'letterbox' | 'stretch' | 'native';
  /** 'native': each side a multiple of this (the model's patch size; default 16). */
  readonly multipleOf?: number;
  /** Short side before a center crop (default size / 0.875, the ImageNet convention). */
  readonly resizeShort?: number;
  /** Per-channel mean and standard deviation on the 0-255 scale. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** 1 (greyscale) or 3 (RGB). */
  readonly channels: 1 | 3;
}

/** ImageNet normalization (the official Vision-RWKV configs). */
export const IMAGENET: Pick<PreprocessSpec, 'mean' | 'std' | 'channels'> = {
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
  channels: 3,
};

/** A preprocessed image. */
export interface PreprocessedImage {
  /** [channels, height, width] normalized float32, row-major. */
  readonly pixels: Float32Array;
  /** The model input's size: `spec.size` square, except for the 'native' policy. */
  readonly width: number;
  readonly height: number;
  /** The decoded image's size after EXIF orientation, before resizing. */
  readonly original: { readonly width: number; readonly height: number };
}

/** A short name of an input, for errors and results. */
export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<${input.byteLength} bytes>`;
  return '<sharp pipeline>';
}

/**
 * Decodes (any format sharp reads), applies EXIF orientation, resizes by `spec.policy`
 * and normalizes. A file that cannot be read or decoded is a MalformedFileError naming
 * it (with sharp's reason); an input of another type is a BadInputError.
 */
export async function preprocessImage(input: ImageInput, spec: PreprocessSpec): Promise<PreprocessedImage> {
  const sharp = await loadSharp();
  const name = describeInput(input);
  let img = await openImage(input);
  try {
    img = img.rotate(); // EXIF orientation
    const oriented = await img.raw().toBuffer({ resolveWithObject: true });
    const original = { width: oriented.info.width, height: oriented.info.height };
    let pipeline = sharp(oriented.data, {
      raw: { width: original.width, height: original.height, channels: oriented.info.channels },
    });
    pipeline =
      spec.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.removeAlpha().toColourspace('srgb');
    const { size } = spec;
    let outW = size;
    let outH = size;
    if (spec.policy === 'native') {
      const m = spec.multipleOf ?? 16;
      if (!Number.isInteger(m) || m < 1)
        throw new BadInputError(`multipleOf must be an integer >= 1, got ${m}`, { field: 'multipleOf' });
      const scale = Math.min(1, size / Math.max(original.width, original.height));
      outW = Math.max(m, Math.floor((original.width * scale) / m) * m);
      outH = Math.max(m, Math.floor((original.height * scale) / m) * m);
      pipeline = pipeline.resize(outW, outH, { fit: 'fill', kernel: 'cubic' });
    } else if (spec.policy === 'center-crop') {
      const short = spec.resizeShort ?? Math.round(size / 0.875);
      const scale = short / Math.min(original.width, original.height);
      const w = Math.max(size, Math.round(original.width * scale));
      const h = Math.max(size, Math.round(original.height * scale));
      pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'cubic' }).extract({
        left: Math.floor((w - size) / 2),
        top: Math.floor((h - size) / 2),
        width: size,
        height: size,
      });
    } else {
      pipeline = pipeline.resize(size, size, {
        fit: spec.policy === 'letterbox' ? 'contain' : 'fill',
        background: { r: 0, g: 0, b: 0 },
        kernel: 'cubic',
      });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    const C = spec.channels;
    if (info.channels < C || info.width !== outW || info.height !== outH)
      throw new MalformedFileError(`${name}: decoded to ${info.width}x${info.height}x${info.channels}`, {
        file: name,
      });
    const n = outW * outH;
    const pixels = new Float32Array(C * n);
    for (let c = 0; c < C; c++)
      for (let i = 0; i < n; i++)
        pixels[c * n + i] = (data[i * info.channels + c]! - spec.mean[c]!) / spec.std[c]!;
    return { pixels, width: outW, height: outH, original };
  } catch (e) {
    if (e instanceof MalformedFileError || e instanceof BadInputError) throw e;
    throw new MalformedFileError(`cannot decode image: ${(e as Error).message}`, { file: name });
  }
}
