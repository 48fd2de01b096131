/**
 * Streaming speech recognition speed and memory (the speech issue's benchmark), with the
 * shipped speech model (models/rwkv-speech-en-synth: 8 RWKV-7 encoder layers x 256 with a
 * channel mix of 512, a 1-layer prediction network x 128, joiner 256, 29 symbols, 5.4M
 * parameters), or with `--model random` the earlier random-weight model of 8.7M parameters
 * (8 x 256 with a channel mix of 1024, prediction network 256).
 *
 *   node bench/dist/speech-stream.js [--threads 1] [--seconds 60] [--streams 1,8,32,64]
 *                                    [--hours 1 (0: no long stream)] [--method transducer-greedy] [--device cpu|cuda]
 *                                    [--search-device cpu|cuda]
 *                                    [--model DIR|random] [--lexicon FILE|none] [--beam 4]
 *
 * Beam searches use the model's word list (`words.tsv` beside it) unless --lexicon says
 * otherwise, as the CLI's `transcribe` does.
 *
 * Prints: the encoder's cost per call by chunk length; the real-time factor of one stream fed 100 ms chunks (processing time / audio
 * time); for N streams decoded together (one batched encoder call per round) the
 * aggregate real-time factor and how many real-time streams that sustains; the compute
 * latency from the last chunk of an utterance to its final result; and the process's
 * memory at the start and end of a long stream (hours of synthetic audio through one
 * recognizer stream, which must stay flat).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type DecodingMethod,
  findLexiconBeside,
  loadSpeechModel,
  measureRealTimeFactor,
  randomSpeechWeights,
  SpeechModel,
  SpeechRecognizer,
  syntheticSpeechChunk,
  WordLexicon,
  warmUpRecognizer,
} from '@rwkv-streams/audio';
import { type Device, SeededRandom } from '@rwkv-streams/core';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '60' },
    streams: { type: 'string', default: '1,8,32,64' },
    hours: { type: 'string', default: '1' },
    method: { type: 'string', default: 'transducer-greedy' },
    device: { type: 'string', default: 'cpu' },
    'search-device': { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'models/rwkv-speech-en-synth' },
    lexicon: { type: 'string' },
    beam: { type: 'string', default: '4' },
  },
});
const device = values.device as Device;
if (device === 'cuda') await import('@rwkv-streams/cuda');
const threads = Number(values.threads);
const method = values.method as DecodingMethod;
const hours = Number(values.hours);
if (!(hours >= 0 && Number.isFinite(hours)))
  throw new Error(`--hours: a number of hours >= 0, got '${values.hours}'`);
const RATE = 16000;

// The transducer search's prediction network and joiner: on the CPU (the model's default)
// unless --search-device says otherwise (the audio README compares both beside a GPU encoder).
const searchDevice = values['search-device'] as Device;
const runOn = {
  device,
  searchDevice,
  ...(device === 'cpu' || searchDevice === 'cpu' ? { threads } : {}),
};
let model: SpeechModel;
if (values.model === 'random') {
  const { config, tensors } = randomSpeechWeights(
    {
      encoderLayers: 8,
      encoderDim: 256,
      predictorLayers: 1,
      predictorDim: 256,
      joinerDim: 256,
      headSize: 64,
    },
    1,
  );
  model = SpeechModel.create(config, tensors, runOn);
} else {
  model = await loadSpeechModel(values.model, runOn);
}
// The beam searches take the model's word list as the CLI does (words.lex or words.tsv beside it), unless
// --lexicon names another or none.
const beamSearch = method === 'transducer-beam' || method === 'ctc-beam';
const lexiconPath =
  values.lexicon ?? (values.model === 'random' ? 'none' : (findLexiconBeside(values.model) ?? 'none'));
const lexicon =
  beamSearch && lexiconPath !== 'none' && existsSync(lexiconPath)
    ? WordLexicon.fromFile(lexiconPath)
    : undefined;
const beam = Number(values.beam);
const recognizer = new SpeechRecognizer(model, {
  decodingMethod: method,
  endpoint: true,
  ...(beamSearch ? { beam } : {}),
  ...(lexicon ? { lexicon } : {}),
});

const mb = (n: number) => (n / 2 ** 20).toFixed(1);
console.log(
  `speech model: encoder ${model.config.encoder.nLayer} x ${model.config.encoder.nEmbd}, predictor ${model.config.predictor.nLayer} x ${model.config.predictor.nEmbd}, ${(model.parameterCount / 1e6).toFixed(2)}M parameters; ${method}${beamSearch ? ` (beam ${beam}${lexicon ? `, ${lexicon.size} words and ${lexicon.bigramPairs} pairs` : ', no word list'})` : ''}; device ${device}, search on ${searchDevice}${device === 'cpu' || searchDevice === 'cpu' ? `, ${threads} CPU thread(s)` : ''}; node ${process.version}`,
);

// Warm-up: compiles the chunk graph (many steps a call) and the single-step graph.
await warmUpRecognizer(recognizer);

const run = (streams: number, seconds: number) => measureRealTimeFactor(recognizer, streams, seconds);

// The encoder's cost per call by chunk length (why streams wait for a few steps).
{
  const cells: string[] = [];
  for (const steps of [1, 2, 3, 8, 16, 64]) {
    let st = model.createEncoderState();
    const x = new Float32Array(steps * model.config.stack * model.config.featureDim).map((_, i) =>
      Math.sin(i),
    );
    for (let i = 0; i < 3; i++) st = (await model.encode(x, steps, st)).state;
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) st = (await model.encode(x, steps, st)).state;
    const ms = (performance.now() - t0) / 30;
    cells.push(`${steps} step(s): ${ms.toFixed(2)} ms a call (${(ms / steps).toFixed(2)} ms a step)`);
  }
  console.log(`\nencoder call (40 ms steps each): ${cells.join('; ')}`);
}

const seconds = Number(values.seconds);
console.log(
  `\n| streams decoded together | audio per stream | RTF (processing / audio, all streams) | real-time streams sustained |`,
);
console.log('| ---: | ---: | ---: | ---: |');
for (const n of values.streams.split(',').map(Number)) {
  const rtf = await run(n, n === 1 ? seconds : Math.max(5, Math.round(seconds / n)));
  console.log(
    `| ${n} | ${n === 1 ? seconds : Math.max(5, Math.round(seconds / n))} s | ${rtf.toFixed(4)} | ${(1 / rtf).toFixed(0)} |`,
  );
}

// Latency: from the last chunk of audio to the final result (compute only; the endpoint
// rule's trailing silence adds its own wait on top in live use).
{
  const lat: number[] = [];
  for (let k = 0; k < 20; k++) {
    const s = recognizer.createStream();
    const rng = new SeededRandom(500 + k);
    for (let c = 0; c < 20; c++) {
      await s.acceptWaveform(RATE, syntheticSpeechChunk(rng, c * 0.1));
      await recognizer.decodeStreams([s]);
    }
    const t0 = performance.now();
    s.inputFinished();
    await recognizer.decodeStreams([s]);
    s.result();
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  console.log(
    `\nfinal-result latency after the last 100 ms chunk (compute): median ${lat[10]!.toFixed(2)} ms, max ${lat[19]!.toFixed(2)} ms`,
  );
}

// Memory over a long stream (--hours 0 skips it).
if (hours === 0) console.log('long stream: skipped (--hours 0)');
else {
  const s = recognizer.createStream();
  const rng = new SeededRandom(7);
  const total = Math.round(hours * 3600 * 10);
  const t0 = performance.now();
  let start = { rss: 0, heap: 0 };
  for (let c = 0; c < total; c++) {
    await s.acceptWaveform(RATE, syntheticSpeechChunk(rng, c * 0.1));
    await recognizer.decodeStreams([s]);
    if (s.isEndpoint()) s.reset();
    if (c === Math.min(600, Math.floor(total / 10))) {
      global.gc?.();
      const m = process.memoryUsage();
      start = { rss: m.rss, heap: m.heapUsed };
    }
  }
  global.gc?.();
  const m = process.memoryUsage();
  const wall = (performance.now() - t0) / 1000;
  console.log(
    `long stream: ${hours} h of audio in ${wall.toFixed(0)} s (RTF ${(wall / (hours * 3600)).toFixed(4)}); RSS ${mb(start.rss)} MiB after ${Math.min(60, total / 100).toFixed(0)} s of audio -> ${mb(m.rss)} MiB at the end; JS heap ${mb(start.heap)} -> ${mb(m.heapUsed)} MiB${global.gc ? '' : ' (run with --expose-gc for settled heap figures)'}`,
  );
}
await model.dispose();
