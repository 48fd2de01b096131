import {
  BadInputError,
  mapConcurrent,
  type RwkvError,
  ShapeMismatchError,
  softmax,
} from '@rwkv-streams/core';
import { from, mergeMap, type OperatorFunction } from 'rxjs';
import type { VrwkvModel } from '../model/vrwkv-model.js';
import {
  type ImageInput,
  type PreprocessedImage,
  type PreprocessSpec,
  preprocessImage,
} from '../preprocess/preprocess-image.js';
import { type Prepared, prepareBatches } from './prepare-batches.js';

/** Options of {@link classify}. */
export interface ClassifyOptions {
  /** A VRWKV with a classification head. */
  readonly model: VrwkvModel;
  /** How images become input (size, crop policy, normalization). */
  readonly preprocess: PreprocessSpec;
  /** Class names, one per logit (default: the class index as a string). */
  readonly labels?: readonly string[];
  /** Classes reported per image, most probable first (default 5). */
  readonly topK?: number;
  /** Images per model call (default 8). */
  readonly batchSize?: number;
  /** Longest a batch waits for more images, ms (default 0: what has arrived). */
  readonly maxLatencyMs?: number;
  /** Images decoded at once (default 4). */
  readonly concurrency?: number;
}

/** One class of a result. */
export interface ClassScore {
  readonly label: string;
  readonly classIndex: number;
  readonly probability: number;
}

/** The result for one image, in input order; `error` instead of `top` when it failed. */
export interface ClassifyResult {
  /** Position of the image in the source. */
  readonly index: number;
  /** The input's name (path, or a description of bytes). */
  readonly source: string;
  readonly top?: readonly ClassScore[];
  /** Why this image has no result (a corrupt file, say); the stream goes on. */
  readonly error?: RwkvError;
  readonly timing: { readonly preprocessMs: number; readonly inferenceMs: number };
}

/**
 * Classifies images: decode and preprocess up to `concurrency` at a time, batch up to
 * `batchSize`, run the model, emit one result per image in input order with its top-k
 * classes and timings. An image that cannot be decoded gets a result with `error`; the
 * others are unaffected. Model failures (not image failures) error the stream.
 */
export function classify(options: ClassifyOptions): OperatorFunction<ImageInput, ClassifyResult> {
  const { model, preprocess } = options;
  const classes = model.config.numClasses;
  if (classes <= 0)
    throw new BadInputError('classify needs a model with a classification head', { field: 'model' });
  if (options.labels && options.labels.length !== classes)
    throw new ShapeMismatchError(`${options.labels.length} labels for a head of ${classes} classes`, {
      field: 'labels',
    });
  if (preprocess.channels !== model.config.inChannels)
    throw new ShapeMismatchError(
      `preprocess gives ${preprocess.channels} channels, the model takes ${model.config.inChannels}`,
      {
        field: 'preprocess.channels',
      },
    );
  const native = preprocess.policy === 'native';
  if (native && (preprocess.multipleOf ?? 16) % model.config.patchSize !== 0)
    throw new ShapeMismatchError(
      `multipleOf ${preprocess.multipleOf ?? 16} is not a multiple of the ${model.config.patchSize}-pixel patch`,
      { field: 'preprocess.multipleOf' },
    );
  if (!native && preprocess.size % model.config.patchSize !== 0)
    throw new ShapeMismatchError(
      `input size ${preprocess.size} is not a multiple of the ${model.config.patchSize}-pixel patch`,
      {
        field: 'preprocess.size',
      },
    );
  const topK = Math.min(options.topK ?? 5, classes);
  const label = (i: number) => options.labels?.[i] ?? String(i);
  const C = preprocess.channels;

  return (source) =>
    source.pipe(
      prepareBatches({
        prepare: (input) => preprocessImage(input, preprocess),
        concurrency: options.concurrency,
        batchSize: options.batchSize,
        maxLatencyMs: options.maxLatencyMs,
      }),
      mapConcurrent({
        concurrency: 1,
        project: async (batch: Prepared<PreprocessedImage>[]): Promise<ClassifyResult[]> => {
          // one model call per input size (all one size except with the 'native' policy)
          const groups = new Map<string, Prepared<PreprocessedImage>[]>();
          for (const p of batch)
            if (p.image) {
              const key = `${p.image.height}x${p.image.width}`;
              groups.set(key, [...(groups.get(key) ?? []), p]);
            }
          const logitsOf = new Map<Prepared<PreprocessedImage>, Float32Array>();
          const msOf = new Map<Prepared<PreprocessedImage>, number>();
          for (const group of groups.values()) {
            const { width: W, height: H } = group[0]!.image!;
            const pixels = new Float32Array(group.length * C * H * W);
            group.forEach((p, i) => {
              pixels.set(p.image!.pixels, i * C * H * W);
            });
            const t0 = performance.now();
            const out = await model.forward(pixels, group.length, H, W);
            const ms = (performance.now() - t0) / group.length;
            group.forEach((p, i) => {
              logitsOf.set(p, out.logits!.subarray(i * classes, (i + 1) * classes));
              msOf.set(p, ms);
            });
          }
          return batch.map((p) => {
            if (!p.image)
              return {
                index: p.index,
                source: p.source,
                error: p.error!,
                timing: { preprocessMs: p.preprocessMs, inferenceMs: 0 },
              };
            const probs = softmax(logitsOf.get(p)!);
            const inferenceMs = msOf.get(p)!;
            const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
            return {
              index: p.index,
              source: p.source,
              top: order
                .slice(0, topK)
                .map((c) => ({ label: label(c), classIndex: c, probability: probs[c]! })),
              timing: { preprocessMs: p.preprocessMs, inferenceMs },
            };
          });
        },
      }),
      mergeMap((results) => from(results)),
    );
}
