import { BadInputError } from '@rwkv-streams/core';
import { concat, concatMap, defer, from, mergeMap, Observable, type OperatorFunction } from 'rxjs';
import type { FrameVad } from '../vad/frame-vad.js';
import { type SegmenterOptions, type SpeechSegment, SpeechSegmenter } from '../vad/speech-segmenter.js';
import type { AudioChunk } from './transcribe.js';

/** Options of `detectSpeech()`. */
export interface DetectSpeechOptions extends SegmenterOptions {
  /** Makes the frame detector of a subscription (one per stream: detectors keep state). */
  readonly vad: () => FrameVad | Promise<FrameVad>;
}

/**
 * 16 kHz audio chunks in, speech segments out (start, end, samples), as soon as each
 * segment closes; the last open one at the end of the input. The detector is made per
 * subscription and disposed when it ends.
 */
export function detectSpeech(options: DetectSpeechOptions): OperatorFunction<AudioChunk, SpeechSegment> {
  return (source: Observable<AudioChunk>) =>
    defer(async () => {
      const vad = await options.vad();
      return { vad, seg: new SpeechSegmenter(vad.frameSeconds, options) };
    }).pipe(
      mergeMap(({ vad, seg }) =>
        concat(
          source.pipe(
            concatMap(async (chunk) => {
              const { samples, sampleRate } =
                chunk instanceof Float32Array ? { samples: chunk, sampleRate: 16000 } : chunk;
              if (sampleRate !== 16000)
                throw new BadInputError(
                  `detectSpeech takes 16 kHz audio, got ${sampleRate} Hz: resample first`,
                  {
                    field: 'sampleRate',
                  },
                );
              return seg.push(samples, await vad.accept(samples));
            }),
            mergeMap((segments) => from(segments)),
          ),
          defer(() => from(seg.flush())),
        ).pipe(
          (o) =>
            new Observable<SpeechSegment>((sub) => {
              const inner = o.subscribe(sub);
              return () => {
                inner.unsubscribe();
                vad.dispose();
              };
            }),
        ),
      ),
    );
}
