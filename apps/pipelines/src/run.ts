/**
 * Running a pipeline file to the end (or to a stop): records to the sink, metrics to their
 * file, a summary back.
 *
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { untilSignal } from '@rwkv-streams/core';
import { lastValueFrom, NEVER, ReplaySubject, takeUntil, tap } from 'rxjs';
import { buildPipeline } from './build.js';
import { type LoadedPipeline, loadPipelineFile, validatePipeline } from './load.js';
import { pipelinePrometheus, writeMetricsFile } from './prometheus.js';
import type { PipelineFileInput, TaskName } from './schema.js';
import type { StdinSource } from './sources/index.js';
import type { PipelineRecord } from './stage.js';

/** Options of {@link runPipeline}. */
export interface RunOptions {
  /**
   * Stops the run when aborted, as the file's `shutdown` says: `drain` (no new item is
   * read; what the stages hold is finished and recorded) or `abort` (everything stops at
   * once; records of items in flight are not made).
   */
  readonly signal?: AbortSignal;
  /** Whether SIGINT and SIGTERM stop the run the same way (the CLI sets it; default false). */
  readonly processSignals?: boolean;
  /** Where a sink of `-` writes its JSON lines (default: the process's stdout). */
  readonly stdout?: (text: string) => void;
  /** What a source of `-` reads (default: the process's stdin). */
  readonly stdin?: StdinSource;
  /** Called with every record as it is made (besides the sink). */
  readonly onRecord?: (record: PipelineRecord) => void;
}

/** What one stage did in a run. */
export interface StageSummary {
  readonly name: string;
  readonly task: TaskName;
  /** Items that reached the stage. */
  readonly itemsIn: number;
  /** Records made: results plus errors. */
  readonly records: number;
  /** Records with an error (items skipped). */
  readonly errors: number;
  /** Items the flow limit dropped. */
  readonly flowDropped: number;
  /** Items answered with nothing (forecasts before the model's window is full). */
  readonly passedOver: number;
  /** Attempts after the first. */
  readonly retries: number;
  /** Latency inside the stage (arrival to result), milliseconds: median and 99th percentile. */
  readonly latencyMs: { readonly p50: number; readonly p99: number };
}

/** What a run did. */
export interface PipelineSummary {
  /** The pipeline file (`<inline>` when given as an object). */
  readonly file: string;
  readonly name?: string;
  /** `completed`: the source ended; `drain` or `abort`: stopped by the signal, as the file's `shutdown` says. */
  readonly stopped: 'completed' | 'drain' | 'abort';
  /** Items the source gave. */
  readonly items: number;
  /** Records written, all stages. */
  readonly records: number;
  /** Of them, records with an error. */
  readonly errors: number;
  readonly seconds: number;
  readonly stages: readonly StageSummary[];
  /** Every stage's metrics, Prometheus text. */
  readonly prometheus: string;
}

const isLoaded = (p: unknown): p is LoadedPipeline =>
  typeof p === 'object' && p !== null && 'spec' in p && 'file' in p && 'dir' in p;

/** Writes lines to a file, waiting for the file at the end. */
function fileSink(path: string): { write(text: string): void; close(): Promise<void> } {
  const stream: WriteStream = createWriteStream(path);
  return {
    write: (text) => {
      stream.write(text);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        stream.once('error', reject);
        stream.end(resolve);
      }),
  };
}

/**
 * Runs a pipeline: a file path (YAML, or `.json`), a file already loaded
 * ({@link loadPipelineFile}), or an object of the file's shape (validated; relative paths
 * resolve against the working folder). Records go to the file's sink as JSON lines; the
 * metrics to `metrics.path` at the end (and every `intervalMs`); resolves with a summary
 * when the source has ended and every stage has finished, or after a stop (`signal`, or
 * SIGINT/SIGTERM with `processSignals`). Rejects with the error that ended the run (a
 * {@link PipelineFileError} before anything ran; a {@link StageFailedError} from a stage
 * whose `onError` is `fail`; a source's error), after writing the records made before it
 * and freeing the models.
 */
export async function runPipeline(
  pipeline: string | LoadedPipeline | PipelineFileInput,
  options: RunOptions = {},
): Promise<PipelineSummary> {
  const loaded =
    typeof pipeline === 'string'
      ? loadPipelineFile(pipeline)
      : isLoaded(pipeline)
        ? pipeline
        : validatePipeline(pipeline);
  const { spec } = loaded;
  const started = performance.now();
  // a replay: a stop asked for before the pipeline is subscribed still stops it
  const stop = new ReplaySubject<void>(1);
  let stopRequested = false;
  const requestStop = () => {
    if (stopRequested) return;
    stopRequested = true;
    stop.next();
  };
  const onAbort = () => requestStop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) requestStop();
  // untilSignal() holds SIGINT/SIGTERM while subscribed; the first one stops the run, a
  // second one (after the listeners are gone) ends the process as usual
  const signals = options.processSignals
    ? NEVER.pipe(untilSignal({ onSignal: requestStop })).subscribe()
    : undefined;
  const drain = spec.shutdown === 'drain';
  let built: Awaited<ReturnType<typeof buildPipeline>> | undefined;
  const sink = spec.sink.path === '-' ? undefined : fileSink(spec.sink.path);
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const write = sink ? sink.write : stdout;
  let timer: NodeJS.Timeout | undefined;
  let records = 0;
  let errors = 0;
  try {
    built = await buildPipeline(loaded, {
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(drain ? { drain: stop } : {}),
    });
    const b = built;
    const metricsFile = spec.metrics;
    if (metricsFile?.intervalMs)
      timer = setInterval(
        () => writeMetricsFile(metricsFile.path, pipelinePrometheus(b.registry, b.stages)),
        metricsFile.intervalMs,
      );
    await lastValueFrom(
      (drain ? b.records : b.records.pipe(takeUntil(stop))).pipe(
        tap((record) => {
          records++;
          if (record.error) errors++;
          write(`${JSON.stringify(record)}\n`);
          options.onRecord?.(record);
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    if (timer) clearInterval(timer);
    signals?.unsubscribe();
    options.signal?.removeEventListener('abort', onAbort);
    if (built && spec.metrics)
      writeMetricsFile(spec.metrics.path, pipelinePrometheus(built.registry, built.stages));
    await sink?.close();
    await built?.dispose();
  }
  const snapshots = new Map(built.registry.snapshot().map((s) => [s.stage, s]));
  const ms = (s: number) => Math.round(s * 1e6) / 1000;
  return {
    file: loaded.file,
    ...(spec.name ? { name: spec.name } : {}),
    stopped: stopRequested ? spec.shutdown : 'completed',
    items: built.itemsRead(),
    records,
    errors,
    seconds: Math.round(performance.now() - started) / 1000,
    stages: built.stages.map((s) => {
      const snap = snapshots.get(s.name);
      return {
        name: s.name,
        task: s.task,
        itemsIn: snap?.itemsIn ?? 0,
        records: s.counters.records,
        errors: s.counters.errors,
        flowDropped: s.counters.flowDropped,
        passedOver: s.counters.passedOver,
        retries: s.counters.retries,
        latencyMs: { p50: ms(snap?.latency.p50 ?? 0), p99: ms(snap?.latency.p99 ?? 0) },
      };
    }),
    prometheus: pipelinePrometheus(built.registry, built.stages),
  };
}
