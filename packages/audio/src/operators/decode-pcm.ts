/**
 * The `decodePcm()` operator: raw PCM byte chunks -> mono float samples.
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { type ByteChunk, PcmDecoder, type PcmDecoderOptions } from '../input/pcm-decoder.js';
import { type BadChunkPolicy, checkPolicy, survives } from './bad-chunk.js';

/** Options of {@link decodePcm}. */
export interface DecodePcmOptions extends PcmDecoderOptions {
  /** What to do with a chunk that is not bytes or holds non-finite floats. Default `'error'`. */
  readonly onBadChunk?: BadChunkPolicy;
}

/**
 * Decodes raw PCM (s16le or f32le, interleaved channels mixed down to mono) arriving in
 * chunks of any size, split samples included, into Float32Array samples (one output per
 * chunk that completes at least one frame). At completion, bytes of an incomplete frame
 * are a {@link TruncatedFileError}, subject to `onBadChunk` like a bad chunk.
 *
 * @example
 * ```ts
 * fromEvent(socket, 'data').pipe(decodePcm({ encoding: 's16le' }), fbank()).subscribe(...)
 * ```
 *
 * @throws {@link BadInputError} at call time for an invalid option.
 */
export function decodePcm(options: DecodePcmOptions): OperatorFunction<ByteChunk, Float32Array> {
  // Validate now, so a bad option fails where the pipeline is written.
  new PcmDecoder(options);
  const policy = checkPolicy('decodePcm', options.onBadChunk);
  return (source) =>
    new Observable<Float32Array>((subscriber) => {
      const decoder = new PcmDecoder(options);
      let index = 0;
      return source.subscribe({
        next(chunk) {
          const i = index++;
          let samples: Float32Array;
          try {
            samples = decoder.push(chunk);
          } catch (error) {
            if (!survives(policy, error, i)) subscriber.error(error);
            return;
          }
          if (samples.length > 0) subscriber.next(samples);
        },
        error(error) {
          subscriber.error(error);
        },
        complete() {
          try {
            decoder.end();
          } catch (error) {
            if (!survives(policy, error, index)) {
              subscriber.error(error);
              return;
            }
          }
          subscriber.complete();
        },
      });
    });
}
