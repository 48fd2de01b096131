import {
  type AudioChunk,
  findLexiconBeside,
  lexiconWeightsFor,
  loadSpeechModel,
  loadWav,
  SpeechRecognizer,
  transcribe,
  WordLexicon,
} from '@rwkv-streams/audio';
import { mapConcurrent } from '@rwkv-streams/core';
import { filter, from, fromEvent, lastValueFrom, map, type Observable, takeUntil, toArray } from 'rxjs';
import type { AudioItem } from '../items.js';
import { modelFiles } from '../model-files.js';
import type { StageSpec } from '../schema.js';
import { CallTracker } from './call-tracker.js';
import { asRwkvError, type Outcome, type Task } from './task.js';

/**
 * Samples handed to the recognizer at a time from a file: 160 ms, one decoding chunk, as the
 * CLI's `transcribe` does, so a file is cut into the same utterances as the same audio live.
 */
const CHUNK_SAMPLES = 2560;

const seconds = (s: number): number => Math.round(s * 1000) / 1000;

/** A WAV file's samples in chunks. */
async function wavChunks(path: string): Promise<Observable<AudioChunk>> {
  const { samples } = await loadWav(path, { sampleRate: 16000 });
  return from(
    Array.from({ length: Math.ceil(samples.length / CHUNK_SAMPLES) }, (_, i) =>
      samples.subarray(i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES),
    ),
  );
}

/**
 * Loads the speech model of a `transcribe` stage; its result is `{ text, utterances: [{ text,
 * start, end }] }` (seconds from the start of the audio), one utterance per endpoint.
 */
export async function transcribeTask(
  spec: Extract<StageSpec, { task: 'transcribe' }>,
): Promise<Task<AudioItem>> {
  const files = modelFiles('transcribe', spec.model);
  const model = await loadSpeechModel(files.weights, spec.threads ? { threads: spec.threads } : {});
  const calls = new CallTracker();
  calls.wrap(model, ['encode']);
  calls.wrap(model.prediction, ['start', 'step']);
  calls.wrap(model.joiner, ['join']);
  const beam = spec.method === 'transducer-beam' || spec.method === 'ctc-beam';
  const lexiconFile = spec.lexicon ?? findLexiconBeside(files.dir) ?? 'none';
  const recognizer = new SpeechRecognizer(model, {
    decodingMethod: spec.method,
    endpoint: true,
    ...(beam && lexiconFile !== 'none'
      ? {
          lexicon: WordLexicon.fromFile(
            lexiconFile,
            lexiconWeightsFor(spec.method, { scale: spec.lmScale, wordBonus: spec.wordBonus }),
          ),
        }
      : {}),
    ...(spec.beam ? { beam: spec.beam } : {}),
    ...(spec.hotwords ? { hotwords: spec.hotwords } : {}),
  });
  const run = async (item: AudioItem, signal: AbortSignal): Promise<Outcome> => {
    try {
      const chunks = item.chunks ?? (await wavChunks(item.path!));
      const finals = await lastValueFrom(
        chunks.pipe(
          // an abort stops feeding audio; the recognizer's call in flight settles by itself
          takeUntil(fromEvent(signal, 'abort')),
          transcribe({ recognizer, partials: false }),
          filter((e) => e.type === 'final'),
          map((e) => ({ text: e.text, start: seconds(e.start), end: seconds(e.end) })),
          toArray(),
        ),
      );
      return { item, result: { text: finals.map((u) => u.text).join(' '), utterances: finals } };
    } catch (err) {
      return { item, error: asRwkvError(err) };
    }
  };
  return {
    batchSize: spec.concurrency,
    // items decoded at once share the recognizer, which batches their encoder calls
    operator: mapConcurrent({
      concurrency: spec.concurrency,
      project: (item, _i, signal) => run(item, signal),
    }),
    dispose: async () => {
      await calls.idle();
      await model.dispose();
    },
  };
}
