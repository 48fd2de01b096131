import { SeededRandom } from '@rwkv-streams/core';
import type { RecognizerStream } from '../recognizer/recognizer-stream.js';
import type { SpeechRecognizer } from '../recognizer/speech-recognizer.js';

/** The rate of the synthetic audio and of what the benchmarks feed. */
const RATE = 16000;

/**
 * Synthetic speech-like audio (voiced tones with a moving pitch, a syllable-rate amplitude
 * envelope and noise), `seconds` of it from time `t0`: the recognizer does the work it does
 * on speech (symbols are emitted, endpoints fire) with no audio file. `rng` makes each
 * stream's noise its own.
 */
export function syntheticSpeechChunk(rng: SeededRandom, t0: number, seconds = 0.1): Float32Array {
  const n = Math.round(seconds * RATE);
  const x = new Float32Array(n);
  const f0 = 120 + 60 * Math.sin(t0 * 0.7);
  for (let i = 0; i < n; i++) {
    const t = t0 + i / RATE;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    x[i] =
      0.2 * env * (Math.sin(2 * Math.PI * f0 * t) + 0.5 * Math.sin(2 * Math.PI * 2.1 * f0 * t)) +
      0.02 * rng.normal();
  }
  return x;
}

/**
 * Runs both encoder graphs once (a chunk of several 40 ms steps, then a single step), so
 * that what is measured next excludes compilation.
 */
export async function warmUpRecognizer(recognizer: SpeechRecognizer): Promise<void> {
  const s = recognizer.createStream();
  const rng = new SeededRandom(0);
  for (let c = 0; c < 5; c++) await s.acceptWaveform(RATE, syntheticSpeechChunk(rng, c * 0.1));
  await recognizer.decodeStreams([s]);
  const { stack, featureDim } = recognizer.model.config;
  s.acceptFeatures(new Float32Array(stack * featureDim));
  await recognizer.decodeStreams([s]);
}

/**
 * The real-time factor (processing seconds / audio seconds, all streams together) of
 * `streams` live streams fed 100 ms chunks of synthetic speech for `seconds` each and
 * decoded together (one batched call a round; a stream at an endpoint is reset). The audio
 * is made outside the timed part, as a live source delivers it. 1 / RTF is the number of
 * real-time streams the recognizer sustains.
 */
export async function measureRealTimeFactor(
  recognizer: SpeechRecognizer,
  streams: number,
  seconds: number,
): Promise<number> {
  const ss: RecognizerStream[] = Array.from({ length: streams }, () => recognizer.createStream());
  const rngs = ss.map((_, i) => new SeededRandom(100 + i));
  let busy = 0;
  for (let c = 0; c < seconds * 10; c++) {
    const chunks = ss.map((_, i) => syntheticSpeechChunk(rngs[i]!, c * 0.1));
    const t0 = performance.now();
    for (let i = 0; i < streams; i++) await ss[i]!.acceptWaveform(RATE, chunks[i]!);
    await recognizer.decodeStreams(ss);
    for (const s of ss) if (s.isEndpoint()) s.reset();
    busy += performance.now() - t0;
  }
  return busy / 1000 / (seconds * streams);
}
