/**
 * The `resample()` operator: sample chunks at one rate -> sample chunks at another.
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { Resampler, type ResamplerOptions, resolveResamplerOptions } from '../input/resampler.js';
import { type BadChunkPolicy, checkPolicy, survives } from './bad-chunk.js';

/** Options of {@link resample}. */
export interface ResampleOperatorOptions extends ResamplerOptions {
  /** What to do with a chunk that is not a Float32Array or holds a non-finite sample. Default `'error'`. */
  readonly onBadChunk?: BadChunkPolicy;
}

/**
 * Resamples a stream of mono Float32Array chunks (default to 16 kHz) with one
 * {@link Resampler} per subscription: chunks in, chunks out (empty ones are not emitted);
 * at completion the converter's tail is flushed, so the output has
 * `ceil(n * to / from)` samples and matches {@link resampleAll} of the whole within the
 * README's bound. The resampler's WebAssembly instance is freed on completion, error or
 * unsubscribe. Chunks that arrive while libsamplerate loads wait, in order.
 *
 * @throws {@link BadInputError} at call time for an invalid option.
 */
export function resample(options: ResampleOperatorOptions): OperatorFunction<Float32Array, Float32Array> {
  resolveResamplerOptions(options);
  const policy = checkPolicy('resample', options.onBadChunk);
  return (source) =>
    new Observable<Float32Array>((subscriber) => {
      let resampler: Resampler | undefined;
      let closed = false;
      let completed = false;
      const waiting: Float32Array[] = [];
      let index = 0;
      const take = (chunk: Float32Array): void => {
        const i = index++;
        let out: Float32Array;
        try {
          out = resampler!.push(chunk);
        } catch (error) {
          if (!survives(policy, error, i)) fail(error);
          return;
        }
        if (out.length > 0) subscriber.next(out);
      };
      const finish = (): void => {
        const tail = resampler!.flush();
        if (tail.length > 0) subscriber.next(tail);
        release();
        subscriber.complete();
      };
      const release = (): void => {
        closed = true;
        resampler?.dispose();
      };
      const fail = (error: unknown): void => {
        release();
        subscriber.error(error);
      };
      Resampler.create(options).then(
        (r) => {
          if (closed) {
            r.dispose();
            return;
          }
          resampler = r;
          while (waiting.length > 0 && !closed) take(waiting.shift()!);
          if (completed && !closed) finish();
        },
        (error: unknown) => {
          if (!closed) fail(error);
        },
      );
      const subscription = source.subscribe({
        next(chunk) {
          if (closed) return;
          if (resampler === undefined) waiting.push(chunk);
          else take(chunk);
        },
        error(error) {
          if (!closed) fail(error);
        },
        complete() {
          if (closed) return;
          completed = true;
          if (resampler !== undefined) finish();
        },
      });
      return () => {
        subscription.unsubscribe();
        release();
      };
    });
}
