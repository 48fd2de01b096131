import { readFileSync } from 'node:fs';
import { FileNotFoundError, MalformedFileError } from '@rwkv-streams/core';

/**
 * What a vision model folder's `config.json` says beside its weights (the folders we ship:
 * `models/vrwkv-fashion-mnist`, `models/vrwkv-mnist-scenes`): what the runtime needs to
 * preprocess images and name the classes.
 */
export interface VisionModelCard {
  /** Class names, one per class. */
  readonly labels: string[];
  /** Per-channel mean and standard deviation on the 0-255 scale. */
  readonly mean: number[];
  readonly std: number[];
  /** The square input size the model was trained on. */
  readonly imageSize: number;
  /** Image channels the model takes (1: greyscale, 3: RGB; default: as many as `mean` has). */
  readonly inChannels: 1 | 3;
  /** A segmenter's background class (left out of the classes found). */
  readonly background?: number;
}

const numbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

/**
 * Reads a vision model card (`config.json`). A missing file is a FileNotFoundError; a file
 * that is not JSON, or a missing or wrong field, is a MalformedFileError naming the file and
 * the field.
 */
export function readVisionModelCard(config: string): VisionModelCard {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FileNotFoundError('no model card (config.json: labels, mean, std, imageSize)', {
        file: config,
      });
    throw new MalformedFileError(`not JSON (${(err as Error).message})`, { file: config });
  }
  const { labels, mean, std, imageSize, inChannels, background } = raw;
  const bad = (field: string, want: string) =>
    new MalformedFileError(`expected ${want}`, { file: config, field });
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string'))
    throw bad('labels', 'an array of class names');
  if (!numbers(mean)) throw bad('mean', 'an array of numbers');
  if (!numbers(std)) throw bad('std', 'an array of numbers');
  if (typeof imageSize !== 'number' || !Number.isInteger(imageSize) || imageSize < 1)
    throw bad('imageSize', 'a positive integer');
  const channels = inChannels === undefined ? mean.length : inChannels;
  if (channels !== 1 && channels !== 3) throw bad('inChannels', '1 (greyscale) or 3 (RGB)');
  if (background !== undefined && typeof background !== 'number') throw bad('background', 'a class index');
  return {
    labels: labels as string[],
    mean,
    std,
    imageSize,
    inChannels: channels,
    ...(background !== undefined ? { background } : {}),
  };
}
