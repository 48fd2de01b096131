/**
 * The demo: the three tasks of rwkv-streams on the models we trained and ship, with the
 * samples in the repository, on the CPU, each as an RxJS pipeline:
 *
 *   1. speech: two synthesized utterances transcribed as they stream in (100 ms chunks),
 *      transducer beam search with the model's word list;
 *   2. vision: Fashion-MNIST test images classified, and MNIST scenes segmented;
 *   3. time series: the next 24 hours of an electricity transformer's oil temperature
 *      forecast from the 336 before, against what happened.
 *
 *   pnpm demo        (or: node examples/demo/dist/main.js)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSpeechModel,
  loadWav,
  SpeechRecognizer,
  type TranscriptEvent,
  transcribe,
  WordLexicon,
} from '@rwkv-streams/audio';
import { forecastSeries, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import {
  classify,
  loadVrwkvSegmenter,
  loadVrwkvWeights,
  segment,
  VrwkvModel,
  VrwkvSegmenter,
} from '@rwkv-streams/vision';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const models = join(root, 'models');
const t0 = performance.now();
const took = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------- 1. speech
{
  const t = performance.now();
  const dir = join(models, 'rwkv-speech-en-synth');
  const model = await loadSpeechModel(dir, { threads: 1 });
  const recognizer = new SpeechRecognizer(model, {
    decodingMethod: 'transducer-beam',
    lexicon: WordLexicon.fromFile(join(dir, 'words.lex')),
    endpoint: true,
  });
  console.log('1. Speech: streaming recognition (RWKV-7 encoder with carried state, transducer beam search)');
  const samples = join(root, 'packages', 'audio', 'fixtures', 'speech');
  const said: Record<string, string> = {
    'espeak-en-gb-scotland.wav': 'authorize by certificate',
    'flite-kal.wav': 'as naked as at birth',
  };
  for (const file of Object.keys(said)) {
    const audio = await loadWav(join(samples, file));
    const chunks = Array.from({ length: Math.ceil(audio.samples.length / 1600) }, (_, i) =>
      audio.samples.subarray(i * 1600, (i + 1) * 1600),
    );
    const events: TranscriptEvent[] = await lastValueFrom(
      from(chunks).pipe(transcribe({ recognizer }), toArray()),
    );
    const finals = events.filter((e) => e.type === 'final').map((e) => e.text);
    console.log(`   ${file}: "${finals.join(' ')}"   (said: "${said[file]}")`);
  }
  await model.dispose();
  console.log(
    `   model card: models/rwkv-speech-en-synth/MODEL_CARD.md (11.8% WER on held-out voices, 7.7% on held-out sentences with this decoder; 9.6% / 6.7% with 16 hypotheses); ${took(t)}`,
  );
}

// ---------------------------------------------------------------------------- 2. vision
{
  const t = performance.now();
  const dir = join(models, 'vrwkv-fashion-mnist');
  const card = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    labels: string[];
    mean: number[];
    std: number[];
  };
  const images = readFileSync(join(dir, 'test-sample-images.u8'));
  const truth = readFileSync(join(dir, 'test-sample-labels.u8'));
  const picks = [3, 77, 140, 205, 260, 333];
  const pngs = await Promise.all(
    picks.map((i) =>
      sharp(images.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toBuffer(),
    ),
  );
  const { config, tensors } = loadVrwkvWeights(join(dir, 'model.safetensors'));
  const model = new VrwkvModel(config, tensors);
  console.log('\n2. Vision: Vision-RWKV classification (Fashion-MNIST) and segmentation (MNIST scenes)');
  const results = await lastValueFrom(
    from(pngs).pipe(
      classify({
        model,
        preprocess: { size: 28, policy: 'letterbox', mean: card.mean, std: card.std, channels: 1 },
        labels: card.labels,
        topK: 1,
      }),
      toArray(),
    ),
  );
  const right = results.filter((r, k) => r.top![0]!.label === card.labels[truth[picks[k]!]!]).length;
  console.log(
    `   ${results.map((r, k) => `${r.top![0]!.label} (true: ${card.labels[truth[picks[k]!]!]})`).join(', ')}: ${right} of ${results.length} right`,
  );
  await model.dispose();

  const sdir = join(models, 'vrwkv-mnist-scenes');
  const scard = JSON.parse(readFileSync(join(sdir, 'config.json'), 'utf8')) as {
    labels: string[];
    background: number;
    imageSize: number;
    mean: number[];
    std: number[];
  };
  const samples = join(root, 'examples', 'segment-images', 'samples');
  const scenes = readdirSync(samples)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .slice(0, 3)
    .map((f) => join(samples, f));
  const sTruth = JSON.parse(readFileSync(join(samples, 'truth.json'), 'utf8')) as Record<string, number[]>;
  const s = loadVrwkvSegmenter(join(sdir, 'model.safetensors'));
  const segmenter = new VrwkvSegmenter(s.config, s.tensors);
  const masks = await lastValueFrom(
    from(scenes).pipe(
      segment({
        model: segmenter,
        preprocess: { size: scard.imageSize, mean: scard.mean, std: scard.std, channels: 1, policy: 'tile' },
        labels: scard.labels,
        background: scard.background,
      }),
      toArray(),
    ),
  );
  for (const r of masks) {
    const name = basename(r.source);
    const found = r.found!.map((f) => f.label).sort();
    console.log(
      `   ${name}: digits found ${found.join(' ')}   (true: ${[...(sTruth[name] ?? [])].sort().join(' ')})`,
    );
  }
  await segmenter.dispose();
  console.log(
    `   model cards: models/vrwkv-fashion-mnist/MODEL_CARD.md (93.53% top-1), models/vrwkv-mnist-scenes/MODEL_CARD.md (mIoU 0.9827); ${took(t)}`,
  );
}

// ---------------------------------------------------------------------------- 3. time series
{
  const t = performance.now();
  const loaded = loadForecastModel(join(models, 'rwkv-ts-etth1-96'));
  const series = await readSeriesCsv(join(root, 'examples', 'data', 'ETTh1-last-1000.csv'));
  const C = series.columns.length;
  const ot = series.columns.indexOf('OT');
  const H = 24;
  const past = { ...series, rows: series.rows - H, values: series.values.subarray(0, (series.rows - H) * C) };
  if (series.timestamps) Object.assign(past, { timestamps: series.timestamps.subarray(0, series.rows - H) });
  const f = await forecastSeries(loaded, past, H);
  let mae = 0;
  const pred: string[] = [];
  const real: string[] = [];
  for (let h = 0; h < H; h++) {
    const p = f.values[h * C + ot]!;
    const a = series.values[(series.rows - H + h) * C + ot]!;
    mae += Math.abs(p - a) / H;
    if (h % 4 === 0) {
      pred.push(p.toFixed(1));
      real.push(a.toFixed(1));
    }
  }
  await loaded.model.dispose();
  console.log('\n3. Time series: RWKV-TS forecast of transformer oil temperature (ETTh1), next 24 hours');
  console.log(`   forecast every 4 h: ${pred.join(' ')}`);
  console.log(`   what happened:      ${real.join(' ')}   (mean absolute error ${mae.toFixed(2)} degrees C)`);
  console.log(`   model card: models/rwkv-ts-etth1-96/MODEL_CARD.md; ${took(t)}`);
}

console.log(
  `\nDone in ${took(t0)} on the CPU. More: examples/ (text generation, live transcription, fan-out with metrics, ...) and \`pnpm exec rwkv-streams --help\`.`,
);
