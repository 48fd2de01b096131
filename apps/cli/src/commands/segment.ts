import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadInputError, type Device, type RwkvError } from '@rwkv-streams/core';
import {
  classPalette,
  loadVrwkvSegmenter,
  type SegmentResult,
  segment,
  VrwkvSegmenter,
  writeMaskPng,
  writeOverlayPng,
} from '@rwkv-streams/vision';
import { type Command, Option } from 'commander';
import { concatMap, from, lastValueFrom } from 'rxjs';
import { deviceOption, positiveInt } from '../options.js';
import { PROGRESS_MIN_FILES, startProgress } from '../progress.js';
import { useDevice } from '../use-device.js';
import {
  expandImageArgs,
  ImagesFailedError,
  imageErrorLine,
  openVisionModelDir,
  roundMs,
} from './vision-inputs.js';

/** The segmenter we train and ship (MNIST scenes), resolved from this package (works from src/ and dist/). */
export const SHIPPED_SEGMENT_MODEL = fileURLToPath(
  new URL('../../../../models/vrwkv-mnist-scenes/', import.meta.url),
);

/** A class found in an image, as --json prints it. */
export interface SegmentFoundClass {
  readonly label: string;
  /** Pixels of the class in the mask (at the image's own resolution). */
  readonly pixels: number;
  /** `pixels` over all the image's pixels. */
  readonly share: number;
}

/** One image as --json prints it. */
export interface SegmentLine {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  /** The classes present (background left out), most pixels first. */
  readonly found: readonly SegmentFoundClass[];
  /** The palette PNG of the mask and the overlay PNG written. */
  readonly mask: string;
  readonly overlay: string;
  /** Preprocessing, inference and postprocessing of this image, milliseconds. */
  readonly ms: number;
}

interface SegmentFlags {
  out: string;
  model?: string;
  policy: 'tile' | 'letterbox';
  json?: boolean;
  threads?: number;
  device: Device;
}

/** The found classes of a result (it must have a mask) with their pixel shares. */
export function foundWithShares(r: SegmentResult): SegmentFoundClass[] {
  const total = r.mask!.width * r.mask!.height;
  return (r.found ?? []).map((f) => ({ label: f.label, pixels: f.pixels, share: f.pixels / total }));
}

/** The output file names of an image: `<name>.mask.png` and `<name>.overlay.png` in `dir`. */
export function segmentOutputs(dir: string, image: string): { mask: string; overlay: string } {
  const stem = join(dir, basename(image, extname(image)));
  return { mask: `${stem}.mask.png`, overlay: `${stem}.overlay.png` };
}

/**
 * `rwkv-streams segment IMAGE... --out DIR`: segments image files (or the images in
 * folders) with the VRWKV segmenter we ship (or --model DIR), writing a palette PNG of each
 * mask and an overlay PNG to DIR and printing one line per image (path and the classes
 * found with their pixel shares), or one JSON object per image with --json. An image that
 * cannot be read gets an error line on stderr and the others go on; the exit code is then 1.
 */
export function addSegmentCommand(program: Command, out: (text: string) => void): void {
  program
    .command('segment')
    .description('segment images (files or folders of them) with a VRWKV segmenter; mask and overlay PNGs')
    .argument('<images...>', 'image files (any format sharp reads) or folders of them')
    .requiredOption('--out <dir>', 'folder for <name>.mask.png (palette) and <name>.overlay.png (created)')
    .option(
      '--model <dir>',
      'model folder: model.safetensors + config.json (labels, mean, std, imageSize, background) (default: models/vrwkv-mnist-scenes)',
    )
    .addOption(
      new Option(
        '--policy <policy>',
        'tile: the image at its own resolution in model-sized tiles; letterbox: scaled into one input',
      )
        .choices(['tile', 'letterbox'])
        .default('tile'),
    )
    .option(
      '--json',
      'one JSON object a line per image: {path, width, height, found: [{label, pixels, share}], mask, overlay, ms}',
    )
    .option('--threads <n>', 'CPU threads (default: onnxruntime decides)', positiveInt('--threads'))
    .addOption(deviceOption())
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams segment examples/segment-images/samples --out masks',
        '  rwkv-streams segment scene.png big.jpg --out masks --json > found.jsonl',
        '  rwkv-streams segment photo.jpg --out masks --policy letterbox --device cuda',
        '',
        'Each line is the path, then the classes found (background left out, most pixels',
        "first) with their share of the image's pixels. An image that cannot be read gets an",
        'error line on stderr, the others are still segmented, and the exit code is 1. Images',
        "of the same name (from different folders) overwrite each other's PNGs.",
      ].join('\n'),
    )
    .action(async (args: string[], flags: SegmentFlags) => {
      const { weights, card } = openVisionModelDir(
        flags.model ?? SHIPPED_SEGMENT_MODEL,
        flags.model === undefined,
      );
      const { images, errors } = expandImageArgs(args);
      for (const e of errors) process.stderr.write(imageErrorLine('segment', e));
      let firstError: RwkvError | undefined = errors[0];
      let failed = errors.length;
      if (images.length > 0) {
        try {
          mkdirSync(flags.out, { recursive: true });
        } catch (err) {
          throw new BadInputError(
            `cannot create the output folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
            { file: flags.out },
          );
        }
        await useDevice(flags.device);
        const { config, tensors } = loadVrwkvSegmenter(weights);
        const model = new VrwkvSegmenter(config, tensors, {
          device: flags.device,
          ...(flags.threads ? { threads: flags.threads } : {}),
        });
        const palette = classPalette(config.numClasses, card.background);
        const progress = startProgress({
          total: images.length,
          label: 'segment',
          unit: 'images',
          show: images.length >= PROGRESS_MIN_FILES,
        });
        const fail = (err: RwkvError) => {
          failed++;
          firstError ??= err;
          progress.note(imageErrorLine('segment', err));
        };
        try {
          await lastValueFrom(
            from(images).pipe(
              segment({
                model,
                preprocess: {
                  size: card.imageSize,
                  mean: card.mean,
                  std: card.std,
                  channels: card.inChannels,
                  policy: flags.policy,
                },
                labels: card.labels,
                ...(card.background !== undefined ? { background: card.background } : {}),
              }),
              concatMap(async (r) => {
                progress.increment(1, basename(r.source));
                if (r.error) return fail(r.error);
                const t0 = performance.now();
                const files = segmentOutputs(flags.out, r.source);
                await writeMaskPng(r.mask!, palette, files.mask);
                await writeOverlayPng(r.source, r.mask!, palette, {
                  ...(card.background !== undefined ? { background: card.background } : {}),
                  path: files.overlay,
                });
                const found = foundWithShares(r);
                const { preprocessMs, inferenceMs, postprocessMs } = r.timing;
                if (flags.json) {
                  const line: SegmentLine = {
                    path: r.source,
                    width: r.mask!.width,
                    height: r.mask!.height,
                    found,
                    ...files,
                    ms: roundMs(preprocessMs + inferenceMs + postprocessMs + performance.now() - t0),
                  };
                  progress.print(() => out(`${JSON.stringify(line)}\n`));
                } else {
                  const classes = found.map((f) => `${f.label} ${(100 * f.share).toFixed(2)}%`).join(', ');
                  progress.print(() => out(`${r.source}\t${classes || '(none)'}\n`));
                }
              }),
            ),
            { defaultValue: undefined },
          );
        } finally {
          progress.stop();
          await model.dispose();
        }
      }
      if (firstError)
        throw new ImagesFailedError(firstError.code, failed, images.length + errors.length, 'segmented');
    });
}
