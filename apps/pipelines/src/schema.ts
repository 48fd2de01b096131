/**
 * The schema of a pipeline file (zod): what a file may say, with the defaults applied.
 * The TypeScript types of a parsed file are inferred from it, so the two cannot drift.
 *
 * @module
 */
import { z } from 'zod';

const count = z.number().int().min(1);
const nonEmpty = z.string().min(1);
/** One path or several (files, folders or `*` patterns in the last part of a path). */
const paths = z.union([nonEmpty, z.array(nonEmpty).min(1)], {
  error: 'expected a path or a list of paths',
});

/** Emit one source item every `paceMs` (a live source replayed); absent: as fast as read. */
const paceMs = z.number().min(0).optional();

/** Image files: files, folders of images (by extension, sorted, not recursive) or `dir/*.png`. */
export const imagesSourceSchema = z.strictObject({
  type: z.literal('images'),
  path: paths,
  paceMs,
});

/** WAV files (any rate; mixed to mono and resampled to 16 kHz). */
export const wavSourceSchema = z.strictObject({
  type: z.literal('wav'),
  path: paths,
  paceMs,
});

/** Raw PCM from stdin (`path: "-"`) or a file, as one audio stream. */
export const pcmSourceSchema = z.strictObject({
  type: z.literal('pcm'),
  path: nonEmpty.default('-'),
  sampleRate: count.default(16000),
  encoding: z.enum(['s16le', 'f32le']).default('s16le'),
  channels: count.default(1),
});

/** A CSV series: a header row, a time column, one column per channel; one observation a row. */
export const csvSourceSchema = z.strictObject({
  type: z.literal('csv'),
  path: nonEmpty,
  /** Channels, in the model's order (default: every column but the time column). */
  columns: z.array(nonEmpty).min(1).optional(),
  /** The time column (default `date` when there is one; null: none, rows are numbered). */
  timeColumn: z.union([nonEmpty, z.null()]).optional(),
  /** Only the last this many rows. */
  lastRows: count.optional(),
  /** The series' key in the records (default: the file's name). */
  key: nonEmpty.optional(),
  paceMs,
});

/** Observations, one JSON object a line: `{"key": "a", "timestamp": 1, "values": [...]}`. */
export const jsonlSourceSchema = z.strictObject({
  type: z.literal('jsonl'),
  path: nonEmpty.default('-'),
  paceMs,
});

/** Paths, one a line (a file, or `-`: stdin), of images or of WAV files. */
export const linesSourceSchema = z.strictObject({
  type: z.literal('lines'),
  path: nonEmpty.default('-'),
  of: z.enum(['images', 'wav']),
  paceMs,
});

/** Where the items come from. */
export const sourceSchema = z.discriminatedUnion('type', [
  imagesSourceSchema,
  wavSourceSchema,
  pcmSourceSchema,
  csvSourceSchema,
  jsonlSourceSchema,
  linesSourceSchema,
]);

/** What to do with an item that arrives while a stage's queue is full. */
export const flowSchema = z.strictObject({
  /** Items waiting for the stage at most. */
  capacity: z.number().int().min(0),
  policy: z.enum(['drop-oldest', 'drop-newest', 'error']),
  /** Items inside the stage at once (default: the stage's batch size, else 1). */
  maxInFlight: count.optional(),
});

/** Retry a failed item with exponential back-off, then skip it or fail the run. */
export const retrySchema = z.strictObject({
  retry: z.strictObject({
    retries: z.number().int().min(0),
    backoffMs: z.number().min(0).default(100),
    factor: z.number().min(1).default(2),
    maxBackoffMs: z.number().min(0).default(10_000),
  }),
  otherwise: z.enum(['skip', 'fail']).default('fail'),
});

/** A stage's error policy: `fail` (default), `skip`, or `{ retry: {...}, otherwise }`. */
export const onErrorSchema = z
  .union([z.enum(['fail', 'skip']), retrySchema], {
    error: "expected 'fail', 'skip' or { retry: { retries, backoffMs }, otherwise: skip | fail }",
  })
  .default('fail');

const stageBase = {
  /** The stage's name in records and metrics (default: the task, numbered when repeated). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, and _ . - only')
    .optional(),
  /** The model: a folder as models/ ship them, or its file. */
  model: nonEmpty,
  onError: onErrorSchema,
  flow: flowSchema.optional(),
  /** CPU threads of the model (default: onnxruntime decides). */
  threads: count.optional(),
};

/** Image classification with a VRWKV (`models/vrwkv-fashion-mnist`). */
export const classifyStageSchema = z.strictObject({
  ...stageBase,
  task: z.literal('classify'),
  topK: count.default(1),
  resize: z.enum(['letterbox', 'center-crop', 'stretch']).default('letterbox'),
  batchSize: count.optional(),
  concurrency: count.optional(),
});

/** Semantic segmentation with a VRWKV segmenter (`models/vrwkv-mnist-scenes`). */
export const segmentStageSchema = z.strictObject({
  ...stageBase,
  task: z.literal('segment'),
  resize: z.enum(['tile', 'letterbox']).default('tile'),
  /** Write `<name>.mask.png` and `<name>.overlay.png` of each image here (created). */
  outDir: nonEmpty.optional(),
  batchSize: count.optional(),
  concurrency: count.optional(),
});

/** Speech to text (`models/rwkv-speech-en-synth`). */
export const transcribeStageSchema = z.strictObject({
  ...stageBase,
  task: z.literal('transcribe'),
  /**
   * Decoding (default transducer beam search with the model's word list, as the CLI's
   * `transcribe`: held-out WER 12.8% / 8.3% against 18.9% / 13.6% greedy; greedy is faster).
   */
  method: z
    .enum(['ctc-greedy', 'ctc-beam', 'transducer-greedy', 'transducer-beam'])
    .default('transducer-beam'),
  /** The beam searches' word list (default: words.lex, else words.tsv, beside the model; `none`: without). */
  lexicon: nonEmpty.optional(),
  /** Hypotheses the beam searches keep (default: 4 for transducer-beam, 8 for ctc-beam, as the CLI's `--beam`). */
  beam: count.optional(),
  /** Weight of the word list against the model's scores (default 0.3, 0.6 for ctc-beam: `lexiconWeightsFor`; the CLI's `--lm-scale`). */
  lmScale: z.number().min(0).optional(),
  /** Added for each word a hypothesis completes (default -0.5: a penalty; -1 for ctc-beam; the CLI's `--word-bonus`). */
  wordBonus: z.number().optional(),
  hotwords: z.array(nonEmpty).optional(),
  /** Audio items decoded at once (their model calls are batched together). */
  concurrency: count.default(1),
});

/** A rolling forecast per observation once the series fills the model's window (`models/rwkv-ts-etth1-*`). */
export const forecastStageSchema = z.strictObject({
  ...stageBase,
  task: z.literal('forecast'),
  /** Rows of each forecast kept (default and most: the model's). */
  horizon: count.optional(),
  /** Forecasts per model call. */
  batchSize: count.optional(),
});

/** Anomaly scores of observations against one-step forecasts (robust z-scores of the residuals). */
export const anomalyStageSchema = z.strictObject({
  ...stageBase,
  task: z.literal('anomaly'),
  warmup: z.number().int().min(3).default(20),
  window: count.default(200),
  threshold: z.number().positive().default(3.5),
});

/** One task over the source's items. */
export const stageSchema = z.discriminatedUnion('task', [
  classifyStageSchema,
  segmentStageSchema,
  transcribeStageSchema,
  forecastStageSchema,
  anomalyStageSchema,
]);

/** Where records go: JSON lines on stdout (default) or in a file. */
export const sinkSchema = z.strictObject({
  type: z.literal('jsonl').default('jsonl'),
  path: nonEmpty.default('-'),
});

/** Per-stage metrics in Prometheus text: written to `path` at the end (and every `intervalMs`). */
export const metricsSchema = z.strictObject({
  path: nonEmpty,
  intervalMs: count.optional(),
});

/** A whole pipeline file. */
export const pipelineFileSchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1 (the only version of the format)' }),
  name: nonEmpty.optional(),
  source: sourceSchema,
  /** Every stage reads every source item; with several, the source is shared and their records merged. */
  stages: z.array(stageSchema).min(1),
  sink: sinkSchema.default({ type: 'jsonl', path: '-' }),
  metrics: metricsSchema.optional(),
  /** At SIGINT/SIGTERM (or the run's AbortSignal): `drain` finishes what is in flight, `abort` stops at once. */
  shutdown: z.enum(['drain', 'abort']).default('drain'),
});

/** A validated pipeline file, defaults applied (paths still as written). */
export type PipelineFile = z.infer<typeof pipelineFileSchema>;
/** A pipeline file's `source`. */
export type SourceSpec = z.infer<typeof sourceSchema>;
/** One of a pipeline file's `stages`. */
export type StageSpec = z.infer<typeof stageSchema>;
/** A stage's `task`. */
export type TaskName = StageSpec['task'];
/** A stage's `onError`. */
export type ErrorPolicy = z.infer<typeof onErrorSchema>;
/** A stage's `flow`. */
export type FlowSpec = z.infer<typeof flowSchema>;
/** What a file may say before defaults are applied (what a program may pass to `runPipeline`). */
export type PipelineFileInput = z.input<typeof pipelineFileSchema>;

/** The kind of items a source gives: what the tasks take. */
export type ItemKind = 'image' | 'audio' | 'observation';

/** The item kind of each source type (`lines` by its `of`). */
export function itemKindOf(source: SourceSpec): ItemKind {
  switch (source.type) {
    case 'images':
      return 'image';
    case 'wav':
    case 'pcm':
      return 'audio';
    case 'csv':
    case 'jsonl':
      return 'observation';
    case 'lines':
      return source.of === 'images' ? 'image' : 'audio';
  }
}

/** The item kind each task takes. */
export const TASK_INPUT: Readonly<Record<TaskName, ItemKind>> = {
  classify: 'image',
  segment: 'image',
  transcribe: 'audio',
  forecast: 'observation',
  anomaly: 'observation',
};
