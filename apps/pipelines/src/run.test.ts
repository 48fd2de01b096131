import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSpeechModel,
  loadWav,
  type RecognizerOptions,
  readWavLayout,
  SpeechRecognizer,
  transcribe,
  WordLexicon,
} from '@rwkv-streams/audio';
import { BadInputError, SeededRandom } from '@rwkv-streams/core';
import { forecastSeries, loadForecastModel, readSeriesCsv } from '@rwkv-streams/timeseries';
import { filter, from, lastValueFrom, map, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { StageFailedError } from './errors.js';
import { type LoadedPipeline, loadPipelineFile, validatePipeline } from './load.js';
import { type PipelineSummary, runPipeline } from './run.js';
import type { PipelineFileInput } from './schema.js';
import type { PipelineRecord } from './stage.js';

/**
 * Pipelines run end to end on the models we ship: the example files, a fan-out checked
 * against the library's own forecasts, each error policy on a corrupt image, flow limits
 * that drop, and drain versus abort on an AbortSignal.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const examples = join(root, 'examples/pipelines');
const fashion = join(examples, 'samples/fashion');
const classifier = join(root, 'models/vrwkv-fashion-mnist');
const tmp = mkdtempSync(join(tmpdir(), 'rwkv-pipeline-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a pipeline collecting its records (the sink's JSON lines, parsed). */
async function run(
  pipeline: LoadedPipeline | PipelineFileInput,
  options: Parameters<typeof runPipeline>[1] = {},
): Promise<{ records: PipelineRecord[]; summary: PipelineSummary }> {
  let text = '';
  const summary = await runPipeline(pipeline, {
    ...options,
    stdout: (t) => {
      text += t;
    },
  });
  const records = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PipelineRecord);
  return { records, summary };
}

/** A folder of the six shipped sample images and one file that is not an image. */
function imagesWithBroken(): string {
  const dir = mkdtempSync(join(tmp, 'images-'));
  for (const f of readdirSync(fashion)) copyFileSync(join(fashion, f), join(dir, f));
  writeFileSync(join(dir, '100-broken.png'), 'not a PNG at all');
  return dir;
}

const classifyOver = (
  path: string,
  stage: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): PipelineFileInput =>
  ({
    version: 1,
    source: { type: 'images', path },
    stages: [{ task: 'classify', model: classifier, ...stage }],
    ...extra,
  }) as PipelineFileInput;

describe('the example files', () => {
  it('images.yaml: classifies the samples; the broken file is a record with its error (skip)', async () => {
    const { records, summary } = await run(loadPipelineFile(join(examples, 'images.yaml')));
    expect(records.map((r) => r.id)).toEqual([
      ...readdirSync(fashion).map((f) => `samples/fashion/${f}`),
      'samples/not-an-image.png',
    ]);
    const ok = records.filter((r) => r.result);
    // the file names carry the true class: the model (93.5% top-1) is right on 5 of these 6
    // (it takes the coat for a dress, its second guess)
    const right = ok.filter((r) => {
      const top = (r.result as { top: { label: string; probability: number }[] }).top;
      expect(top).toHaveLength(2);
      return top[0]!.label.toLowerCase().replace(/[^a-z]+/g, '-') === r.id.replace(/^.*\/\d+-|\.png$/g, '');
    });
    expect(right).toHaveLength(5);
    expect(records.at(-1)!.error?.code).toBe('MALFORMED_FILE');
    expect(summary).toMatchObject({ stopped: 'completed', items: 7, records: 7, errors: 1 });
    for (const r of records) {
      expect(Date.parse(r.finishedAt)).toBeGreaterThanOrEqual(Date.parse(r.startedAt));
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    }
  });

  it("fan-out.yaml: one series to two forecasters and a scorer, merged, measured; forecasts are the library's", async () => {
    const loaded = loadPipelineFile(join(examples, 'fan-out.yaml'));
    const prom = join(tmp, 'fan-out.prom');
    const { records, summary } = await run({ ...loaded, spec: { ...loaded.spec, metrics: { path: prom } } });
    const by = (stage: string) => records.filter((r) => r.stage === stage);
    // 345 rows: the 336th fills the window, so 10 forecasts each; the scorer needs 3 more residuals
    expect(by('forecast-96h')).toHaveLength(10);
    expect(by('forecast-192h')).toHaveLength(10);
    expect(by('anomaly')).toHaveLength(345 - (336 + 1 + 3) + 1);
    expect(by('forecast-96h').map((r) => r.index)).toEqual(Array.from({ length: 10 }, (_, i) => 335 + i));
    expect(summary.stages.map((s) => [s.name, s.itemsIn, s.records, s.passedOver])).toEqual([
      ['forecast-96h', 345, 10, 335],
      ['forecast-192h', 345, 10, 335],
      ['anomaly', 345, 6, 339],
    ]);
    // the last forecast equals forecastSeries() over the same 336 rows
    const series = await readSeriesCsv(join(root, 'examples/data/ETTh1-last-1000.csv'));
    const C = series.columns.length;
    const end = series.rows;
    const past = {
      ...series,
      rows: 336,
      values: series.values.subarray((end - 336) * C, end * C),
      timestamps: series.timestamps!.subarray(end - 336, end),
    };
    const model = loadForecastModel(join(root, 'models/rwkv-ts-etth1-192'));
    const expected = await forecastSeries(model, past, 24);
    await model.model.dispose();
    const last = by('forecast-192h').at(-1)!.result as {
      forecast: number[][];
      timestamp: string;
      columns: string[];
    };
    expect(last.columns).toEqual([...series.columns]);
    expect(last.timestamp).toBe(new Date(series.timestamps![end - 1]!).toISOString());
    expect(last.forecast).toHaveLength(24);
    for (let h = 0; h < 24; h++)
      for (let c = 0; c < C; c++) expect(last.forecast[h]![c]!).toBeCloseTo(expected.values[h * C + c]!, 3);
    // metrics: the file at the end, the same text as the summary
    const text = readFileSync(prom, 'utf8');
    expect(text).toBe(summary.prometheus);
    expect(text).toContain('rwkv_streams_stage_items_in_total{stage="forecast-192h"} 345');
    expect(text).toContain('rwkv_streams_stage_items_out_total{stage="anomaly"} 6');
    expect(text).toContain('rwkv_streams_stage_items_dropped_total{stage="forecast-96h"} 335');
    expect(text).toContain('rwkv_streams_stage_latency_seconds_count{stage="forecast-96h"} 10');
    expect(text).toContain('rwkv_streams_stage_in_flight{stage="anomaly"} 0');
  });

  it('scenes.json: segments the scene samples and finds their digits', async () => {
    const { records } = await run(loadPipelineFile(join(examples, 'scenes.json')));
    const truth = JSON.parse(
      readFileSync(join(root, 'examples/segment-images/samples/truth.json'), 'utf8'),
    ) as Record<string, number[]>;
    expect(records.map((r) => r.id)).toEqual(
      ['scene-0', 'scene-12', 'scene-4', 'scene-9'].map((n) => `../segment-images/samples/${n}.png`),
    );
    for (const r of records) {
      const found = (r.result as { found: { label: string }[] }).found.map((f) => Number(f.label)).sort();
      expect(found).toEqual([...truth[r.id.replace(/^.*\//, '')]!].sort());
    }
  });

  it('speech.yaml and live-pcm.yaml: the WAV files and the same audio as PCM on stdin give the same text', async () => {
    const loaded = loadPipelineFile(join(examples, 'speech.yaml'));
    const sink = join(tmp, 'speech.jsonl');
    const { summary } = await run({
      ...loaded,
      spec: { ...loaded.spec, sink: { type: 'jsonl', path: sink } },
    });
    const records = readFileSync(sink, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PipelineRecord);
    expect(records.map((r) => r.id)).toEqual(
      ['espeak-en-gb-scotland.wav', 'flite-kal.wav'].map((f) => `../../packages/audio/fixtures/speech/${f}`),
    );
    expect(summary.errors).toBe(0);
    const texts = records.map((r) => (r.result as { text: string }).text);
    for (const t of texts) expect(t.length).toBeGreaterThan(5);

    // the same file as raw s16le PCM, in odd-sized pieces, through stdin (greedy, as live-pcm.yaml)
    const wav = join(root, 'packages/audio/fixtures/speech/flite-kal.wav');
    const { samples } = await loadWav(wav, { sampleRate: 16000 });
    const bytes = Buffer.alloc(samples.length * 2);
    samples.forEach((s, i) => {
      bytes.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(s * 32768))), i * 2);
    });
    const pieces = Array.from({ length: Math.ceil(bytes.length / 3001) }, (_, i) =>
      bytes.subarray(i * 3001, (i + 1) * 3001),
    );
    const stdin = (async function* () {
      yield* pieces;
    })();
    const live = await run(loadPipelineFile(join(examples, 'live-pcm.yaml')), { stdin });
    expect(live.records).toHaveLength(1);
    expect(live.records[0]!.id).toBe('<stdin>');
    const whole = await run({
      version: 1,
      source: { type: 'wav', path: wav },
      stages: [{ task: 'transcribe', model: join(root, 'models/rwkv-speech-en-synth') }],
    } as PipelineFileInput);
    expect((live.records[0]!.result as { text: string }).text).toBe(
      (whole.records[0]!.result as { text: string }).text,
    );
  });
});

describe("transcribe: the beam searches' settings", () => {
  const speechModel = join(root, 'models/rwkv-speech-en-synth');
  const words = join(speechModel, 'words.tsv');
  const fixture = (name: string) => join(root, 'packages/audio/fixtures/speech', name);

  /**
   * A copy of a fixture (16-bit PCM) with seeded white noise at 10 dB SNR added to its
   * samples: the shipped model reads both fixtures alike at beam 1 and beam 4 when clean, so
   * the beam case needs audio where the width of the search changes the text.
   */
  function noisy(name: string): string {
    const bytes = new Uint8Array(readFileSync(fixture(name))); // offset 0
    const { dataOffset, frames, format } = readWavLayout(bytes);
    if (format.bitsPerSample !== 16 || format.channels !== 1)
      throw new Error(`${name}: expected 16-bit mono`);
    const pcm = new Int16Array(bytes.buffer, dataOffset, frames);
    const power = pcm.reduce((sum, x) => sum + x * x, 0) / frames;
    const rng = new SeededRandom(1);
    const scale = Math.sqrt(power / 10);
    for (let i = 0; i < frames; i++)
      pcm[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! + rng.normal() * scale)));
    const path = join(tmp, name.replace('.wav', '-noisy.wav'));
    writeFileSync(path, bytes);
    return path;
  }

  // one model for every library decode of this block (a recognizer per setting)
  const model = loadSpeechModel(speechModel, { threads: 1 });
  afterAll(async () => (await model).dispose());
  const plain = new Map<string, Promise<string>>();

  /** The text the library gives for a file with these settings (beam search, the model's word list). */
  async function libraryText(
    path: string,
    options: Pick<RecognizerOptions, 'beam'>,
    weights: { scale?: number; wordBonus?: number },
  ): Promise<string> {
    const recognizer = new SpeechRecognizer(await model, {
      decodingMethod: 'transducer-beam',
      endpoint: true,
      lexicon: WordLexicon.fromFile(words, weights),
      ...options,
    });
    const { samples } = await loadWav(path, { sampleRate: 16000 });
    const finals = await lastValueFrom(
      from([samples]).pipe(
        transcribe({ recognizer, partials: false }),
        filter((e) => e.type === 'final'),
        map((e) => e.text),
        toArray(),
      ),
    );
    return finals.join(' ');
  }

  /** `libraryText` with the defaults, once per file. */
  function defaultText(path: string): Promise<string> {
    if (!plain.has(path)) plain.set(path, libraryText(path, {}, {}));
    return plain.get(path)!;
  }

  it('beam, lmScale and wordBonus reach the recognizer and its word list', async () => {
    const cases = [
      { path: noisy('espeak-en-gb-scotland.wav'), stage: { beam: 1 }, options: { beam: 1 }, weights: {} },
      { path: fixture('flite-kal.wav'), stage: { lmScale: 3 }, options: {}, weights: { scale: 3 } },
      { path: fixture('flite-kal.wav'), stage: { wordBonus: -10 }, options: {}, weights: { wordBonus: -10 } },
    ];
    for (const c of cases) {
      const expected = await libraryText(c.path, c.options, c.weights);
      // the setting changes this file's text, so a stage that dropped it fails here
      expect(expected).not.toBe(await defaultText(c.path));
      const { records } = await run({
        version: 1,
        source: { type: 'wav', path: c.path },
        stages: [{ task: 'transcribe', model: speechModel, threads: 1, ...c.stage }],
      } as PipelineFileInput);
      expect((records[0]!.result as { text: string }).text).toBe(expected);
    }
  });
});

describe('error policies on a corrupt image', () => {
  it('skip: the corrupt image gets an error record, the others their results', async () => {
    const { records, summary } = await run(classifyOver(imagesWithBroken(), { onError: 'skip' }));
    expect(records).toHaveLength(7);
    expect(records.filter((r) => r.error).map((r) => r.id)).toEqual([
      expect.stringMatching(/100-broken\.png$/),
    ]);
    expect(summary.stages[0]).toMatchObject({ records: 7, errors: 1, retries: 0 });
  });

  it('fail: the run stops with a StageFailedError naming the stage and the item', async () => {
    const dir = imagesWithBroken();
    const error = await run(classifyOver(dir, { name: 'clothes', onError: 'fail' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as StageFailedError).stage).toBe('clothes');
    expect((error as StageFailedError).itemId).toMatch(/100-broken\.png$/);
    expect((error as StageFailedError).code).toBe('MALFORMED_FILE'); // the decoder's error
  });

  it('retry: the item is tried again alone, then skipped or failed', async () => {
    const dir = imagesWithBroken();
    const retry = { retries: 2, backoffMs: 1 };
    const skipped = await run(classifyOver(dir, { onError: { retry, otherwise: 'skip' } }));
    const broken = skipped.records.find((r) => r.error)!;
    expect(broken.attempts).toBe(3);
    expect(skipped.records.filter((r) => r.result)).toHaveLength(6);
    expect(skipped.summary.stages[0]).toMatchObject({ retries: 2, errors: 1 });
    expect(skipped.summary.prometheus).toContain('rwkv_streams_stage_retries_total{stage="classify"} 2');
    await expect(run(classifyOver(dir, { onError: { retry } }))).rejects.toBeInstanceOf(StageFailedError);
  });
});

describe('flow limits', () => {
  // all six items arrive at once; one is inside the stage, one waits, the rest follow the policy
  const flow = (policy: string) => ({ batchSize: 1, flow: { capacity: 1, policy, maxInFlight: 1 } });

  it('drop-newest keeps the first items and counts the drops', async () => {
    const { records, summary } = await run(classifyOver(fashion, flow('drop-newest')));
    const files = readdirSync(fashion);
    expect(records.map((r) => r.index)).toEqual([0, 1]);
    expect(records[0]!.id).toMatch(files[0]!);
    expect(summary.stages[0]).toMatchObject({ itemsIn: 6, records: 2, flowDropped: 4 });
    expect(summary.prometheus).toContain('rwkv_streams_stage_flow_dropped_total{stage="classify"} 4');
    expect(summary.prometheus).toContain('rwkv_streams_stage_items_dropped_total{stage="classify"} 4');
  });

  it('drop-oldest keeps the first and the latest', async () => {
    const { records, summary } = await run(classifyOver(fashion, flow('drop-oldest')));
    expect(records.map((r) => r.index)).toEqual([0, 5]);
    expect(summary.stages[0]!.flowDropped).toBe(4);
  });

  it('error fails the run with a typed error', async () => {
    await expect(run(classifyOver(fashion, flow('error')))).rejects.toBeInstanceOf(BadInputError);
  });
});

describe('shutdown on an AbortSignal', () => {
  // every image is in the stage when the first record comes (all arrive at once, one batch)
  const stopAtFirst = async (shutdown: 'drain' | 'abort') => {
    const controller = new AbortController();
    return run(classifyOver(fashion, { batchSize: 8 }, { shutdown }), {
      signal: controller.signal,
      onRecord: () => controller.abort(),
    });
  };

  it('drain: no new item is read, the items in flight are finished and recorded', async () => {
    const { records, summary } = await stopAtFirst('drain');
    expect(summary.stopped).toBe('drain');
    expect(records).toHaveLength(6);
    expect(summary.items).toBe(6);
  });

  it('abort: the run stops at once; items in flight get no record', async () => {
    const { records, summary } = await stopAtFirst('abort');
    expect(summary.stopped).toBe('abort');
    expect(records).toHaveLength(1);
    expect(summary.stages[0]!.itemsIn).toBe(6);
  });

  it('drain stops a paced source: what was read is recorded, nothing more is read', async () => {
    const controller = new AbortController();
    const { records, summary } = await run(
      {
        version: 1,
        source: {
          type: 'csv',
          path: join(root, 'examples/data/ETTh1-last-1000.csv'),
          lastRows: 400,
          paceMs: 1,
        },
        stages: [{ task: 'forecast', model: join(root, 'models/rwkv-ts-etth1-96'), horizon: 1 }],
      } as PipelineFileInput,
      { signal: controller.signal, onRecord: () => controller.abort() },
    );
    expect(summary.stopped).toBe('drain');
    expect(summary.items).toBeLessThan(400);
    // every row read was answered: a forecast, or passed over while the window filled
    expect(records.length + summary.stages[0]!.passedOver).toBe(summary.items);
  });

  it('an already aborted signal runs nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const { records, summary } = await run(classifyOver(fashion, {}), { signal: controller.signal });
    expect(records).toHaveLength(0);
    expect(summary).toMatchObject({ items: 0, stopped: 'drain' });
  });
});

describe('fan-out of images', () => {
  it('one folder to classify and segment, merged, each with its own records and metrics', async () => {
    const outDir = join(tmp, 'masks');
    mkdirSync(outDir, { recursive: true });
    const loaded = validatePipeline({
      version: 1,
      source: { type: 'images', path: join(root, 'examples/segment-images/samples/scene-*.png') },
      stages: [
        { task: 'classify', model: classifier },
        { task: 'segment', model: join(root, 'models/vrwkv-mnist-scenes'), outDir },
      ],
    });
    const { records, summary } = await run(loaded);
    expect(records.filter((r) => r.stage === 'classify')).toHaveLength(4);
    expect(records.filter((r) => r.stage === 'segment')).toHaveLength(4);
    expect(summary.stages.map((s) => s.itemsIn)).toEqual([4, 4]);
    expect(readdirSync(outDir).sort()).toContain('scene-0.mask.png');
    expect(summary.prometheus).toContain('rwkv_streams_stage_items_out_total{stage="segment"} 4');
  });
});

describe('stdin sources', () => {
  const stdinOf = (text: string) =>
    (async function* () {
      yield Buffer.from(text);
    })();

  it('jsonl: observations from stdin; a row of the wrong width is its own error (skip)', async () => {
    const series = await readSeriesCsv(join(root, 'examples/data/ETTh1-last-1000.csv'));
    const C = series.columns.length;
    const rows = Array.from({ length: 340 }, (_, r) => ({
      key: 'transformer-1',
      timestamp: new Date(series.timestamps![r]!).toISOString(),
      values: Array.from(series.values.subarray(r * C, (r + 1) * C)),
    }));
    rows[338]!.values.pop();
    const { records, summary } = await run(
      {
        version: 1,
        source: { type: 'jsonl' },
        stages: [
          { task: 'forecast', model: join(root, 'models/rwkv-ts-etth1-96'), horizon: 2, onError: 'skip' },
        ],
      } as PipelineFileInput,
      { stdin: stdinOf(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`) },
    );
    // rows 335..339 have full windows; row 338 is refused and leaves no gap in the series
    expect(records.map((r) => [r.index, r.error?.code ?? 'ok'])).toEqual([
      [335, 'ok'],
      [336, 'ok'],
      [337, 'ok'],
      [338, 'SHAPE_MISMATCH'],
      [339, 'ok'],
    ]);
    expect(records[0]!.id).toBe(`transformer-1@${rows[335]!.timestamp}`);
    expect((records[4]!.result as { forecast: number[][] }).forecast).toHaveLength(2);
    expect(summary.stages[0]).toMatchObject({ itemsIn: 340, records: 5, errors: 1, passedOver: 335 });
  });

  it('lines: image paths from stdin', async () => {
    const files = readdirSync(fashion).slice(0, 2);
    const { records } = await run(
      {
        version: 1,
        source: { type: 'lines', of: 'images' },
        stages: [{ task: 'classify', model: classifier }],
      } as PipelineFileInput,
      { stdin: stdinOf(`${files.map((f) => join(fashion, f)).join('\n')}\n\n`) },
    );
    expect(records.map((r) => r.id)).toEqual(files.map((f) => join(fashion, f)));
    expect(records.every((r) => r.result)).toBe(true);
  });
});
