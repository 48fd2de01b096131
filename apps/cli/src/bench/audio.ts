import { join } from 'node:path';
import {
  loadSpeechModel,
  measureRealTimeFactor,
  SpeechRecognizer,
  warmUpRecognizer,
} from '@rwkv-streams/audio';
import type { BenchFigure, BenchOptions } from './common.js';

/** Streams decoded together (one batched encoder call a round) for the streams-sustained figure. */
export const AUDIO_BATCH = 32;

/**
 * Streaming speech recognition with the shipped model (models/rwkv-speech-en-synth,
 * transducer greedy search, endpointing on), as bench/src/speech-stream.ts measures it
 * (`measureRealTimeFactor` of the audio package, on synthetic speech):
 * the real-time factor (processing time / audio time) of one stream fed 100 ms chunks,
 * and how many real-time streams {@link AUDIO_BATCH} streams decoded together sustain
 * (1 / their aggregate real-time factor). On the CPU the model gets one thread, so the
 * second figure is streams per core.
 */
export async function benchAudio(o: BenchOptions): Promise<BenchFigure[]> {
  const model = await loadSpeechModel(join(o.models, 'rwkv-speech-en-synth'), {
    device: o.device,
    ...(o.device === 'cpu' ? { threads: 1 } : {}),
  });
  try {
    const recognizer = new SpeechRecognizer(model, { decodingMethod: 'transducer-greedy', endpoint: true });
    await warmUpRecognizer(recognizer);
    const realTimeFactor = (streams: number, seconds: number) =>
      measureRealTimeFactor(recognizer, streams, seconds);
    o.onStep?.('audio: one stream');
    const one = await realTimeFactor(1, o.quick ? 2 : 60);
    o.onStep?.(`audio: ${AUDIO_BATCH} streams`);
    const many = await realTimeFactor(AUDIO_BATCH, o.quick ? 1 : 5);
    return [
      {
        package: 'audio',
        figure: 'speech real-time factor, 1 stream, 100 ms chunks',
        unit: 'RTF',
        value: one,
      },
      {
        package: 'audio',
        // One name for every device (the table's rows); on the CPU it is streams per core.
        figure: `speech real-time streams, ${AUDIO_BATCH} decoded together (CPU: 1 thread)`,
        unit: 'streams',
        value: 1 / many,
      },
    ];
  } finally {
    await model.dispose();
  }
}
