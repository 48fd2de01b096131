import { mapConcurrent, type RwkvError, ShapeMismatchError } from '@rwkv-streams/core';
import { from, mergeMap, type OperatorFunction } from 'rxjs';
import type { ClassMask } from '../output/mask-png.js';
import { type LetterboxSpec, letterboxImage, unletterboxMask } from '../preprocess/letterbox.js';
import type { ImageInput } from '../preprocess/preprocess-image.js';
import { stitchTileMasks, tileImage } from '../preprocess/tile.js';
import { classCounts } from '../segmentation/metrics.js';
import type { VrwkvSegmenter } from '../segmentation/vrwkv-segmenter.js';
import { type Prepared, prepareBatches } from './prepare-batches.js';

/** How images become segmentation input. */
export interface SegmentPreprocessSpec extends LetterboxSpec {
  /**
   * 'letterbox' (default): the whole image scaled to fit one size x size input, the mask
   * mapped back onto the original; 'tile': the image at its own resolution cut into
   * size x size tiles (padded with black), the tiles' masks stitched (for objects of the
   * size the model was trained on, in images larger than its input).
   */
  readonly policy?: 'letterbox' | 'tile';
}

/** Options of {@link segment}. */
export interface SegmentOptions {
  /** A VRWKV segmenter. */
  readonly model: VrwkvSegmenter;
  /** How images become input: letterboxed or tiled, normalized. */
  readonly preprocess: SegmentPreprocessSpec;
  /** Class names, one per class (default: the class index as a string). */
  readonly labels?: readonly string[];
  /** The background class: left out of `found` (default: none). */
  readonly background?: number;
  /** Images per model call (default 8; tiled images send all their tiles in that call). */
  readonly batchSize?: number;
  /** Longest a batch waits for more images, ms (default 0: what has arrived). */
  readonly maxLatencyMs?: number;
  /** Images decoded at once (default 4). */
  readonly concurrency?: number;
}

/** A class present in a result's mask. */
export interface FoundClass {
  readonly label: string;
  readonly classIndex: number;
  /** Pixels of this class in the mask (at the image's full resolution). */
  readonly pixels: number;
}

/** The result for one image, in input order; `error` instead of `mask` when it failed. */
export interface SegmentResult {
  /** Position of the image in the source. */
  readonly index: number;
  /** The input's name (path, or a description of bytes). */
  readonly source: string;
  /** A class per pixel at the image's own resolution (EXIF orientation applied). */
  readonly mask?: ClassMask;
  /** Pixels of each class in `mask`, indexed by class. */
  readonly counts?: readonly number[];
  /** The classes present (background left out), most pixels first. */
  readonly found?: readonly FoundClass[];
  /** Why this image has no result (a corrupt file, say); the stream goes on. */
  readonly error?: RwkvError;
  readonly timing: {
    readonly preprocessMs: number;
    readonly inferenceMs: number;
    readonly postprocessMs: number;
  };
}

/** An image as model input: `count` square inputs, and how their masks become the image's. */
interface ModelInput {
  readonly pixels: Float32Array;
  readonly count: number;
  readonly original: { readonly width: number; readonly height: number };
  readonly toMask: (masks: Uint8Array) => Uint8Array;
}

/**
 * Segments images: decode and letterbox (or tile) up to `concurrency` at a time, batch up to
 * `batchSize`, run the model, map each mask back onto its image's full resolution, emit
 * one result per image in input order with its mask, per-class pixel counts, the classes
 * found and timings. An image that cannot be decoded gets a result with `error`; the
 * others are unaffected. Model failures (not image failures) error the stream.
 */
export function segment(options: SegmentOptions): OperatorFunction<ImageInput, SegmentResult> {
  const { model, preprocess } = options;
  const K = model.config.numClasses;
  const c = model.config.backbone;
  if (options.labels && options.labels.length !== K)
    throw new ShapeMismatchError(`${options.labels.length} labels for a head of ${K} classes`, {
      field: 'labels',
    });
  if (preprocess.channels !== c.inChannels)
    throw new ShapeMismatchError(
      `preprocess gives ${preprocess.channels} channels, the model takes ${c.inChannels}`,
      { field: 'preprocess.channels' },
    );
  if (preprocess.size % c.patchSize !== 0)
    throw new ShapeMismatchError(
      `input size ${preprocess.size} is not a multiple of the ${c.patchSize}-pixel patch`,
      { field: 'preprocess.size' },
    );
  const label = (i: number) => options.labels?.[i] ?? String(i);
  const C = preprocess.channels;
  const S = preprocess.size;
  const prepare = async (input: ImageInput): Promise<ModelInput> => {
    if (preprocess.policy === 'tile') {
      const t = await tileImage(input, preprocess);
      const { width, height } = t.original;
      return { ...t, count: t.cols * t.rows, toMask: (m) => stitchTileMasks(m, S, t.cols, width, height) };
    }
    const l = await letterboxImage(input, preprocess);
    const { width, height } = l.original;
    return { ...l, count: 1, toMask: (m) => unletterboxMask(m, S, l.box, width, height) };
  };

  return (source) =>
    source.pipe(
      prepareBatches({
        prepare: prepare,
        concurrency: options.concurrency,
        batchSize: options.batchSize,
        maxLatencyMs: options.maxLatencyMs,
      }),
      mapConcurrent({
        concurrency: 1,
        project: async (batch: Prepared<ModelInput>[]): Promise<SegmentResult[]> => {
          const ok = batch.filter((p) => p.image);
          const inputs = ok.reduce((n, p) => n + p.image!.count, 0);
          const pixels = new Float32Array(inputs * C * S * S);
          let at = 0;
          for (const p of ok) {
            pixels.set(p.image!.pixels, at * C * S * S);
            at += p.image!.count;
          }
          const t0 = performance.now();
          const out = inputs > 0 ? await model.forward(pixels, inputs, S, S) : undefined;
          const perInput = (performance.now() - t0) / Math.max(1, inputs);
          let k = 0;
          return batch.map((p): SegmentResult => {
            if (!p.image)
              return {
                index: p.index,
                source: p.source,
                error: p.error!,
                timing: { preprocessMs: p.preprocessMs, inferenceMs: 0, postprocessMs: 0 },
              };
            const t1 = performance.now();
            const { original, count } = p.image;
            const data = p.image.toMask(out!.masks.subarray(k * S * S, (k + count) * S * S));
            k += count;
            const inferenceMs = perInput * count;
            const counts = classCounts(data, K);
            const found = counts
              .map((n, i) => ({ label: label(i), classIndex: i, pixels: n }))
              .filter((f) => f.pixels > 0 && f.classIndex !== options.background)
              .sort((a, b) => b.pixels - a.pixels);
            return {
              index: p.index,
              source: p.source,
              mask: { data, width: original.width, height: original.height },
              counts,
              found,
              timing: { preprocessMs: p.preprocessMs, inferenceMs, postprocessMs: performance.now() - t1 },
            };
          });
        },
      }),
      mergeMap((results) => from(results)),
    );
}
