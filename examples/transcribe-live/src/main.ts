/**
 * Live speech recognition: a WAV file is played to the recognizer as a microphone would
 * deliver it, 100 ms at a time on an RxJS `interval`, through the audio package's
 * `transcribe()` operator (one recognizer stream for the subscription, state carried from
 * chunk to chunk). Partial results are printed as they change, final ones with their start
 * and end times (an utterance ends at the endpoint rules: 1.2 s without a new symbol after
 * speech, or 20 s).
 *
 *   node examples/transcribe-live/dist/main.js [FILE.wav] [--model models/rwkv-speech-en-synth]
 *        [--method transducer-greedy] [--speed 1]
 *
 * `--speed 2` plays twice as fast as real time; `--speed 0` feeds the chunks as fast as they
 * are decoded.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type DecodingMethod,
  loadSpeechModel,
  loadWav,
  SpeechRecognizer,
  type TranscriptEvent,
  transcribe,
} from '@rwkv-streams/audio';
import { from, interval, lastValueFrom, map, type Observable, take, tap } from 'rxjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: join(root, 'models/rwkv-speech-en-synth') },
    method: { type: 'string', default: 'transducer-greedy' },
    speed: { type: 'string', default: '1' },
  },
});
const file = positionals[0] ?? join(root, 'packages/audio/fixtures/speech/flite-kal.wav');
const methods: readonly DecodingMethod[] = ['ctc-greedy', 'ctc-beam', 'transducer-greedy', 'transducer-beam'];
const method = methods.find((m) => m === args.method);
if (!method) throw new Error(`--method must be one of ${methods.join(', ')}, got ${args.method}`);
const speed = Number(args.speed);
if (!(speed >= 0)) throw new Error(`--speed must be a number >= 0, got ${args.speed}`);

const CHUNK_MS = 100;
const audio = await loadWav(file); // mono, resampled to 16 kHz
const model = await loadSpeechModel(args.model!);
const recognizer = new SpeechRecognizer(model, { decodingMethod: method, endpoint: true });
// Warm up before the microphone starts: a model compiles each graph on first use (the
// encoder's chunk graph, its one-step graph, the transducer's prediction network and joiner).
for (const seconds of [0.5, 0.03]) {
  const warm = recognizer.createStream();
  await warm.acceptWaveform(audio.sampleRate, new Float32Array(Math.round(audio.sampleRate * seconds)));
  warm.inputFinished();
  await recognizer.decodeStreams([warm]);
}
const { encoder } = model.config;
console.log(
  `speech model: RWKV-7 encoder ${encoder.nLayer} x ${encoder.nEmbd}, ${method}; ` +
    `${audio.duration.toFixed(2)} s of audio from ${file}, live in ${CHUNK_MS} ms chunks`,
);

const step = (audio.sampleRate * CHUNK_MS) / 1000;
const count = Math.ceil(audio.samples.length / step);
const chunk = (i: number) => audio.samples.subarray(i * step, (i + 1) * step);
// The microphone: one chunk every 100 ms (scaled by --speed), or all at once with --speed 0.
const mic: Observable<Float32Array> =
  speed > 0
    ? interval(CHUNK_MS / speed).pipe(take(count), map(chunk))
    : from(Array.from({ length: count }, (_, i) => chunk(i)));

const t = (s: number) => s.toFixed(2);
const t0 = performance.now();
let finals = 0;
await lastValueFrom(
  mic.pipe(
    transcribe({ recognizer }),
    tap((e: TranscriptEvent) => {
      const wall = ((performance.now() - t0) / 1000).toFixed(2);
      if (e.type === 'partial') console.log(`  partial  @${wall} s  ${e.text}`);
      else {
        finals++;
        console.log(`final [${t(e.start)} - ${t(e.end)} s] ${e.text}`);
        console.log(`  words: ${e.words.map((w) => `${w.word} (${t(w.start)}-${t(w.end)})`).join(' ')}`);
      }
    }),
  ),
  { defaultValue: undefined },
);
const seconds = (performance.now() - t0) / 1000;
await model.dispose();
console.log(
  `${finals} utterance(s); ${count} chunks of ${CHUNK_MS} ms played in ${seconds.toFixed(2)} s` +
    (speed > 0 ? ` (audio at ${speed}x real time)` : ' (as fast as decoded)'),
);
