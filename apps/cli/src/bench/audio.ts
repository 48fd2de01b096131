import { join } from 'node:path';
import { loadSpeechModel, type RecognizerStream, SpeechRecognizer } from '@rwkv-streams/audio';
import { SeededRandom } from '@rwkv-streams/core';
import type { BenchFigure, BenchOptions } from './common.js';

const RATE = 16000;
/** 100 ms, the chunk a live source delivers. */
const CHUNK = RATE / 10;

/** Streams decoded together (one batched encoder call a round) for the streams-sustained figure. */
export const AUDIO_BATCH = 32;

/**
 * Synthetic speech-like audio (voiced tones with a moving pitch, an amplitude envelope and
 * noise), 100 ms from time `t0`: what bench/src/speech-stream.ts feeds, so the recognizer
 * does the work it does on speech (symbols are emitted, endpoints fire) with no audio file.
 */
function audioChunk(rng: SeededRandom, t0: number): Float32Array {
  const x = new Float32Array(CHUNK);
  const f0 = 120 + 60 * Math.sin(t0 * 0.7);
  for (let i = 0; i < CHUNK; i++) {
    const t = t0 + i / RATE;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    x[i] =
      0.2 * env * (Math.sin(2 * Math.PI * f0 * t) + 0.5 * Math.sin(2 * Math.PI * 2.1 * f0 * t)) +
      0.02 * rng.normal();
  }
  return x;
}

/**
 * Streaming speech recognition with the shipped model (models/rwkv-speech-en-synth,
 * transducer greedy search, endpointing on), as bench/src/speech-stream.ts measures it:
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
    // Warm-up: the chunk graph (several 40 ms steps a call), then the one-step graph.
    {
      const s = recognizer.createStream();
      const rng = new SeededRandom(0);
      for (let c = 0; c < 5; c++) await s.acceptWaveform(RATE, audioChunk(rng, c * 0.1));
      await recognizer.decodeStreams([s]);
      s.acceptFeatures(new Float32Array(model.config.stack * model.config.featureDim));
      await recognizer.decodeStreams([s]);
    }
    /** Processing seconds per audio second over `streams` streams of `seconds` of audio each. */
    const realTimeFactor = async (streams: number, seconds: number): Promise<number> => {
      const ss: RecognizerStream[] = Array.from({ length: streams }, () => recognizer.createStream());
      const rngs = ss.map((_, i) => new SeededRandom(100 + i));
      let busy = 0;
      for (let c = 0; c < seconds * 10; c++) {
        // The audio is made outside the timed part: a live source delivers it.
        const chunks = ss.map((_, i) => audioChunk(rngs[i]!, c * 0.1));
        const t0 = performance.now();
        for (let i = 0; i < streams; i++) await ss[i]!.acceptWaveform(RATE, chunks[i]!);
        await recognizer.decodeStreams(ss);
        for (const s of ss) if (s.isEndpoint()) s.reset();
        busy += performance.now() - t0;
      }
      return busy / 1000 / (seconds * streams);
    };
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
