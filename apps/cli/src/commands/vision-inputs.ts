import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FileNotFoundError, MalformedFileError, RwkvError, type RwkvErrorCode } from '@rwkv-streams/core';

/** File name extensions taken from a folder (any other file in it is left out). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.svg',
]);

/**
 * The images named on the command line, in order: a file as given (whatever its
 * extension: the decoder decides, and a file it cannot read becomes that image's error),
 * a folder as its image files (by extension, sorted by name, not recursive). A path that
 * does not exist, and a folder with no images, are errors of their own (FileNotFoundError
 * naming it); the other paths still go on.
 */
export function expandImageArgs(args: readonly string[]): { images: string[]; errors: RwkvError[] } {
  const images: string[] = [];
  const errors: RwkvError[] = [];
  for (const arg of args) {
    let folder: boolean;
    try {
      folder = statSync(arg).isDirectory();
    } catch (err) {
      errors.push(
        new FileNotFoundError(
          `cannot read the image (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          {
            file: arg,
          },
        ),
      );
      continue;
    }
    if (!folder) {
      images.push(arg);
      continue;
    }
    const found = readdirSync(arg, { withFileTypes: true })
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort()
      .map((name) => join(arg, name));
    if (found.length === 0)
      errors.push(
        new FileNotFoundError(`no image files in this folder (${[...IMAGE_EXTENSIONS].join(' ')})`, {
          file: arg,
        }),
      );
    images.push(...found);
  }
  return { images, errors };
}

/** What the commands read from a model folder's `config.json` (the model card's numbers). */
export interface VisionModelCard {
  /** Class names, one per class. */
  readonly labels: string[];
  /** Per-channel mean and standard deviation on the 0-255 scale. */
  readonly mean: number[];
  readonly std: number[];
  /** The square input size the model was trained on. */
  readonly imageSize: number;
  /** Image channels the model takes (1: greyscale, 3: RGB). */
  readonly inChannels: 1 | 3;
  /** The background class of a segmenter (left out of the classes found). */
  readonly background?: number;
}

const numbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

/**
 * The model file and card of a model folder (`model.safetensors` + `config.json`, as the
 * models we ship are laid out). `shipped` names the default folder, for a better error when
 * it is missing.
 */
export function openVisionModelDir(
  dir: string,
  shipped: boolean,
): { weights: string; card: VisionModelCard } {
  const weights = join(dir, 'model.safetensors');
  const config = join(dir, 'config.json');
  if (!existsSync(weights))
    throw new FileNotFoundError(
      shipped
        ? 'the shipped model is not there; give --model DIR'
        : 'no model.safetensors in the model folder (--model DIR: a folder with model.safetensors and config.json)',
      { file: weights },
    );
  if (!existsSync(config))
    throw new FileNotFoundError('no config.json (labels, mean, std, imageSize) beside the model', {
      file: config,
    });
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  } catch (err) {
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
    weights,
    card: {
      labels: labels as string[],
      mean,
      std,
      imageSize,
      inChannels: channels,
      ...(background !== undefined ? { background } : {}),
    },
  };
}

/**
 * Some images of a run failed (each already reported on stderr); thrown at the end so the
 * CLI exits with code 1. Its code is the first failure's.
 */
export class ImagesFailedError extends RwkvError {
  constructor(
    code: RwkvErrorCode,
    readonly failed: number,
    readonly total: number,
    what: string,
  ) {
    super(code, `${failed} of ${total} ${total === 1 ? 'image' : 'images'} could not be ${what}`);
  }
}

/** The line a failed image gets on stderr: the command, the error's code and its message (naming the file). */
export function imageErrorLine(command: string, err: RwkvError): string {
  return `rwkv-streams: ${command}: ${err.code}: ${err.message}\n`;
}

/** Milliseconds rounded to a microsecond, as --json prints them. */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;
