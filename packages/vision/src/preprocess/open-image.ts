import { BadInputError } from '@rwkv-streams/core';
import type { Sharp } from 'sharp';
import { loadSharp } from './load-sharp.js';
import type { ImageInput } from './preprocess-image.js';

/**
 * A sharp pipeline for an operator input: a path or encoded bytes are opened (decoding
 * errors surface when the pipeline runs), a sharp instance is cloned so the caller's stays
 * untouched; anything else is a BadInputError.
 */
export async function openImage(input: ImageInput): Promise<Sharp> {
  const sharp = await loadSharp();
  if (typeof input === 'string' || input instanceof Uint8Array) return sharp(input, { failOn: 'error' });
  if (input && typeof (input as Sharp).clone === 'function') return (input as Sharp).clone();
  throw new BadInputError(`an image must be a path, bytes or a sharp instance, got ${typeof input}`, {
    field: 'image',
  });
}
