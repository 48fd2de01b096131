import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FileNotFoundError, RwkvError, type RwkvErrorCode } from '@rwkv-streams/core';
import { IMAGE_FILE_EXTENSIONS, readVisionModelCard, type VisionModelCard } from '@rwkv-streams/vision';

export type { VisionModelCard };

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
      .filter((e) => e.isFile() && IMAGE_FILE_EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort()
      .map((name) => join(arg, name));
    if (found.length === 0)
      errors.push(
        new FileNotFoundError(`no image files in this folder (${[...IMAGE_FILE_EXTENSIONS].join(' ')})`, {
          file: arg,
        }),
      );
    images.push(...found);
  }
  return { images, errors };
}

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
  return { weights, card: readVisionModelCard(config) };
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
