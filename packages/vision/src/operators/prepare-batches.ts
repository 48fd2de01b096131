import { BadInputError, batchItems, mapConcurrent, RwkvError } from '@rwkv-streams/core';
import { map, type OperatorFunction, pipe } from 'rxjs';
import { describeInput, type ImageInput } from '../preprocess/preprocess-image.js';

/** One image after its preprocessing, or the error that stopped it, with its place in the input. */
export interface Prepared<T> {
  /** Position in the input stream. */
  readonly index: number;
  /** What the image was (a path, or a description of a buffer), for results and errors. */
  readonly source: string;
  /** The model's input for it; absent when preprocessing failed. */
  readonly image?: T;
  /** Why preprocessing failed (a corrupt file, say). */
  readonly error?: RwkvError;
  readonly preprocessMs: number;
}

/** How the images of a vision operator are prepared and grouped for the model. */
export interface PrepareBatchesOptions<T> {
  /** Decodes and preprocesses one image. */
  readonly prepare: (input: ImageInput) => Promise<T>;
  /** Images prepared at once (default 4). */
  readonly concurrency?: number | undefined;
  /** Images per model call at most (default 8). */
  readonly batchSize?: number | undefined;
  /** How long a partial batch waits for more images, ms (default 0: run what is there). */
  readonly maxLatencyMs?: number | undefined;
}

function asRwkvError(e: unknown): RwkvError {
  return e instanceof RwkvError
    ? e
    : new BadInputError(String((e as Error)?.message ?? e), { field: 'image' });
}

/**
 * The first half of every per-image vision operator: prepare up to `concurrency` images at
 * a time (input order kept), turn a failure into that item's `error` so the stream goes on,
 * and gather the items into batches for one model call each.
 */
export function prepareBatches<T>(
  options: PrepareBatchesOptions<T>,
): OperatorFunction<ImageInput, Prepared<T>[]> {
  const { prepare } = options;
  return pipe(
    map((input: ImageInput, index: number) => ({ input, index })),
    mapConcurrent({
      concurrency: options.concurrency ?? 4,
      project: async ({ input, index }): Promise<Prepared<T>> => {
        const t0 = performance.now();
        const source = describeInput(input);
        try {
          const image = await prepare(input);
          return { index, source, image, preprocessMs: performance.now() - t0 };
        } catch (e) {
          return { index, source, error: asRwkvError(e), preprocessMs: performance.now() - t0 };
        }
      },
    }),
    batchItems<Prepared<T>>({
      maxBatchSize: options.batchSize ?? 8,
      maxLatencyMs: options.maxLatencyMs ?? 0,
    }),
  );
}
