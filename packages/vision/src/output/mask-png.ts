import { writeFile } from 'node:fs/promises';
import { ShapeMismatchError } from '@rwkv-streams/core';
import { decodeImage } from '../preprocess/decode-image.js';
import { loadSharp } from '../preprocess/load-sharp.js';
import type { ImageInput } from '../preprocess/preprocess-image.js';
import type { Rgb } from './palette.js';

/** A class mask: one class index per pixel, row-major. */
export interface ClassMask {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

function checkMask(mask: ClassMask, palette: readonly Rgb[]): void {
  if (mask.data.length !== mask.width * mask.height)
    throw new ShapeMismatchError(`mask has ${mask.data.length} pixels, not ${mask.width}x${mask.height}`, {
      field: 'mask',
    });
  for (const m of mask.data)
    if (m >= palette.length)
      throw new ShapeMismatchError(`mask holds class ${m}; the palette has ${palette.length} colours`, {
        field: 'palette',
      });
}

/**
 * The mask as an indexed-colour (palette) PNG, each class in its palette colour. The
 * colours are exact (no dithering), so a reader maps a pixel back to its class by colour.
 * Returns the PNG bytes, and writes them to `path` when one is given.
 */
export async function writeMaskPng(mask: ClassMask, palette: readonly Rgb[], path?: string): Promise<Buffer> {
  const sharp = await loadSharp();
  checkMask(mask, palette);
  const rgb = Buffer.alloc(mask.width * mask.height * 3);
  mask.data.forEach((m, i) => {
    const c = palette[m]!;
    rgb[i * 3] = c[0];
    rgb[i * 3 + 1] = c[1];
    rgb[i * 3 + 2] = c[2];
  });
  const png = await sharp(rgb, { raw: { width: mask.width, height: mask.height, channels: 3 } })
    .png({ palette: true, colours: Math.min(256, Math.max(2, palette.length)), dither: 0 })
    .toBuffer();
  if (path) await writeFile(path, png);
  return png;
}

/**
 * The image with each non-background pixel blended with its class colour
 * (`alpha` of the colour, default 0.5), as an RGB PNG at the image's size (EXIF
 * orientation applied, as the mask was computed). Returns the PNG bytes, and writes them
 * to `path` when one is given.
 */
export async function writeOverlayPng(
  image: ImageInput,
  mask: ClassMask,
  palette: readonly Rgb[],
  options: { readonly background?: number; readonly alpha?: number; readonly path?: string } = {},
): Promise<Buffer> {
  const sharp = await loadSharp();
  checkMask(mask, palette);
  const img = await decodeImage(image, 3);
  if (img.width !== mask.width || img.height !== mask.height)
    throw new ShapeMismatchError(
      `mask is ${mask.width}x${mask.height}, the image ${img.width}x${img.height}`,
      { field: 'mask' },
    );
  const a = options.alpha ?? 0.5;
  const out = Buffer.from(img.data);
  mask.data.forEach((m, i) => {
    if (m === options.background) return;
    const c = palette[m]!;
    for (let j = 0; j < 3; j++) out[i * 3 + j] = Math.round((1 - a) * out[i * 3 + j]! + a * c[j]!);
  });
  const png = await sharp(out, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toBuffer();
  if (options.path) await writeFile(options.path, png);
  return png;
}
