/**
 * The `fbank()` operator: samples -> Kaldi log-mel feature frames.
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { SampleArray } from '../features/fbank.js';
import type { FbankOptions } from '../features/fbank-options.js';
import { type FeatureFrame, StreamingFbank } from '../features/streaming-fbank.js';
import { type BadChunkPolicy, checkPolicy, survives } from './bad-chunk.js';

/** Options of {@link fbank}. */
export interface FbankOperatorOptions extends FbankOptions {
  /** What to do with a chunk holding a non-finite sample. Default `'error'`. */
  readonly onBadChunk?: BadChunkPolicy;
}

/**
 * Computes the filterbank of a stream of mono sample chunks (any sizes) with a
 * {@link StreamingFbank} per subscription, emitting each frame as soon as its last sample
 * arrives. The frames equal {@link computeFbank} of the concatenated samples, bit for bit.
 * A trailing part shorter than a frame gives no frame (Kaldi's snip_edges).
 *
 * @throws {@link BadInputError} at call time for an invalid option.
 */
export function fbank(options: FbankOperatorOptions = {}): OperatorFunction<SampleArray, FeatureFrame> {
  new StreamingFbank(options);
  const policy = checkPolicy('fbank', options.onBadChunk);
  return (source) =>
    new Observable<FeatureFrame>((subscriber) => {
      const features = new StreamingFbank(options);
      let index = 0;
      return source.subscribe({
        next(chunk) {
          const i = index++;
          let frames: FeatureFrame[];
          try {
            frames = features.accept(chunk);
          } catch (error) {
            if (!survives(policy, error, i)) subscriber.error(error);
            return;
          }
          for (const frame of frames) subscriber.next(frame);
        },
        error(error) {
          subscriber.error(error);
        },
        complete() {
          subscriber.complete();
        },
      });
    });
}
