import { concat, concatMap, defer, from, mergeMap, type Observable, type OperatorFunction } from 'rxjs';
import type { TimedWord } from '../decode/words.js';
import type { SpeechRecognizer } from '../recognizer/speech-recognizer.js';

/** One audio chunk: mono samples in [-1, 1) at `sampleRate` Hz (a bare Float32Array is 16 kHz). */
export type AudioChunk = Float32Array | { readonly samples: Float32Array; readonly sampleRate: number };

/** A transcript event: the current utterance so far, or its final text at an endpoint or the end. */
export interface TranscriptEvent {
  readonly type: 'partial' | 'final';
  readonly text: string;
  readonly words: readonly TimedWord[];
  /** Seconds since the stream began: the utterance's start and how far audio was decoded. */
  readonly start: number;
  readonly end: number;
}

/** Options of `transcribe()`. */
export interface TranscribeOptions {
  /** The recognizer (model, decoding method, hotwords, endpoint rules). */
  readonly recognizer: SpeechRecognizer;
  /** Emit partial results as they change (default true). */
  readonly partials?: boolean;
}

/**
 * Audio chunks in, transcript events out: a recognizer stream per subscription; each chunk
 * is decoded as soon as it arrives (batched with the other pipelines on the same
 * recognizer), a `partial` is emitted whenever the text changes, a `final` at each endpoint
 * (when the recognizer has endpointing on) and at the end of the input. Chunks are handled
 * in order, one at a time.
 */
export function transcribe(options: TranscribeOptions): OperatorFunction<AudioChunk, TranscriptEvent> {
  const { recognizer } = options;
  const partials = options.partials ?? true;
  return (source: Observable<AudioChunk>) =>
    defer(() => {
      const stream = recognizer.createStream();
      let lastText = '';
      const event = (type: 'partial' | 'final'): TranscriptEvent => {
        const r = stream.result();
        return { type, text: r.text, words: r.words, start: r.start, end: r.end };
      };
      const advance = async (): Promise<TranscriptEvent[]> => {
        await recognizer.decodeSoon(stream);
        const out: TranscriptEvent[] = [];
        if (stream.isEndpoint()) {
          const fin = event('final');
          if (fin.text) out.push(fin);
          stream.reset();
          lastText = '';
        } else {
          const part = event('partial');
          if (partials && part.text !== lastText) out.push(part);
          lastText = part.text;
        }
        return out;
      };
      const chunks = source.pipe(
        concatMap(async (chunk) => {
          const { samples, sampleRate } =
            chunk instanceof Float32Array ? { samples: chunk, sampleRate: 16000 } : chunk;
          await stream.acceptWaveform(sampleRate, samples);
          return advance();
        }),
        mergeMap((events) => from(events)),
      );
      const tail = defer(async () => {
        stream.inputFinished();
        await recognizer.decodeSoon(stream);
        const fin = event('final');
        return fin.text ? [fin] : [];
      }).pipe(mergeMap((events) => from(events)));
      return concat(chunks, tail);
    });
}
