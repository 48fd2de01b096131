import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device, RwkvError } from '@rwkv-streams/core';
import { type ClassifyResult, classify, loadVrwkvWeights, VrwkvModel } from '@rwkv-streams/vision';
import type { Command } from 'commander';
import { from, lastValueFrom, tap } from 'rxjs';
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

/** The image classifier we train and ship (Fashion-MNIST), resolved from this package (works from src/ and dist/). */
export const SHIPPED_CLASSIFY_MODEL = fileURLToPath(
  new URL('../../../../models/vrwkv-fashion-mnist/', import.meta.url),
);

/** One image as --json prints it. */
export interface ClassifyLine {
  readonly path: string;
  /** The top classes, most probable first. */
  readonly top: readonly { readonly label: string; readonly probability: number }[];
  /** Preprocessing plus this image's share of its batch's inference, milliseconds. */
  readonly ms: number;
}

interface ClassifyFlags {
  model?: string;
  top: number;
  json?: boolean;
  threads?: number;
  device: Device;
}

/** The --json object of a result that has `top`. */
export function classifyLineOf(r: ClassifyResult): ClassifyLine {
  return {
    path: r.source,
    top: (r.top ?? []).map((t) => ({ label: t.label, probability: t.probability })),
    ms: roundMs(r.timing.preprocessMs + r.timing.inferenceMs),
  };
}

/**
 * `rwkv-streams classify IMAGE...`: classifies image files (or the images in folders) with
 * the VRWKV we ship (or --model DIR), printing `path<TAB>label<TAB>probability` for the top
 * --top classes of each, or one JSON object per image with --json. An image that cannot be
 * read gets an error line on stderr and the others go on; the exit code is then 1.
 */
export function addClassifyCommand(program: Command, out: (text: string) => void): void {
  program
    .command('classify')
    .description('classify images (files or folders of them) with a VRWKV image classifier')
    .argument('<images...>', 'image files (any format sharp reads) or folders of them')
    .option(
      '--model <dir>',
      'model folder: model.safetensors + config.json (labels, mean, std, imageSize) (default: models/vrwkv-fashion-mnist)',
    )
    .option('--top <n>', 'classes printed per image, most probable first', positiveInt('--top'), 1)
    .option('--json', 'one JSON object a line per image: {path, top: [{label, probability}], ms}')
    .option('--threads <n>', 'CPU threads (default: onnxruntime decides)', positiveInt('--threads'))
    .addOption(deviceOption())
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rwkv-streams classify shirt.png boot.jpg',
        '  rwkv-streams classify photos/ --top 3',
        '  rwkv-streams classify photos/ --json > labels.jsonl',
        '  rwkv-streams classify img.png --model my-vrwkv --device cuda',
        '',
        'Each image is letterboxed (black bars) to the model input size. An image that cannot',
        'be read gets an error line on stderr, the others are still classified, and the exit',
        'code is 1. A folder gives its image files by extension, sorted, not recursively.',
      ].join('\n'),
    )
    .action(async (args: string[], flags: ClassifyFlags) => {
      const { weights, card } = openVisionModelDir(
        flags.model ?? SHIPPED_CLASSIFY_MODEL,
        flags.model === undefined,
      );
      const { images, errors } = expandImageArgs(args);
      for (const e of errors) process.stderr.write(imageErrorLine('classify', e));
      let firstError: RwkvError | undefined = errors[0];
      let failed = errors.length;
      if (images.length > 0) {
        await useDevice(flags.device);
        const { config, tensors } = loadVrwkvWeights(weights);
        const model = new VrwkvModel(config, tensors, {
          device: flags.device,
          ...(flags.threads ? { threads: flags.threads } : {}),
        });
        const progress = startProgress({
          total: images.length,
          label: 'classify',
          unit: 'images',
          show: images.length >= PROGRESS_MIN_FILES,
        });
        try {
          await lastValueFrom(
            from(images).pipe(
              classify({
                model,
                preprocess: {
                  size: card.imageSize,
                  policy: 'letterbox',
                  mean: card.mean,
                  std: card.std,
                  channels: card.inChannels,
                },
                labels: card.labels,
                topK: flags.top,
              }),
              tap((r) => {
                progress.increment(1, basename(r.source));
                if (r.error) {
                  failed++;
                  firstError ??= r.error;
                  progress.note(imageErrorLine('classify', r.error));
                  return;
                }
                progress.print(() => {
                  if (flags.json) out(`${JSON.stringify(classifyLineOf(r))}\n`);
                  else
                    for (const t of r.top ?? [])
                      out(`${r.source}\t${t.label}\t${t.probability.toFixed(4)}\n`);
                });
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
        throw new ImagesFailedError(firstError.code, failed, images.length + errors.length, 'classified');
    });
}
