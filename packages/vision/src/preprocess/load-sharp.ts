import type sharpType from 'sharp';

let loaded: Promise<typeof sharpType> | undefined;

/**
 * sharp, imported on first use: the models (and a GPU machine that only runs them) need
 * no image codec; only decoding and writing images load sharp's native library.
 */
export function loadSharp(): Promise<typeof sharpType> {
  loaded ??= import('sharp').then((m) => m.default);
  return loaded;
}
