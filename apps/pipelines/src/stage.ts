/**
 * One stage of a pipeline as an RxJS operator: source items in, records out. Around the
 * task it puts the file's per-stage settings, with the core's operators: `limitFlow()` (the
 * `flow` queue), `retrying()` (the `onError` retry), `metrics()` (figures under the stage's
 * name), and per-item timestamps and latency in every record.
 *
 * @module
 */
import {
  limitFlow,
  mapConcurrent,
  metrics,
  type PipelineMetrics,
  RwkvError,
  retrying,
} from '@rwkv-streams/core';
import { defer, filter, lastValueFrom, map, type OperatorFunction, of, pipe, tap } from 'rxjs';
import { StageFailedError } from './errors.js';
import type { PipelineItem } from './items.js';
import type { ErrorPolicy, StageSpec, TaskName } from './schema.js';
import type { JsonValue, Outcome, Task } from './stages/task.js';

/** One line of a pipeline's output: what a stage made of one item. */
export interface PipelineRecord {
  /** The stage's name. */
  readonly stage: string;
  readonly task: TaskName;
  /** The item: a path as written in the file (or read from the lines), or `key@time`. */
  readonly id: string;
  /** The item's position in the source, from 0. */
  readonly index: number;
  /** When the stage received the item (before any wait in its flow queue), ISO 8601. */
  readonly startedAt: string;
  /** When the record was made, ISO 8601. */
  readonly finishedAt: string;
  /** Milliseconds from receiving the item to its record (monotonic clock). */
  readonly latencyMs: number;
  /** Attempts made, when the stage retried the item. */
  readonly attempts?: number;
  /** The task's result (see each task); absent when `error` is there. */
  readonly result?: { readonly [key: string]: JsonValue };
  /** Why the item has no result (the stage's `onError` was `skip`, or retries ran out and `otherwise` is `skip`). */
  readonly error?: { readonly code: string; readonly message: string };
}

/** What a stage counted beyond the core's metrics. */
export interface StageCounters {
  /** Records made (results and errors). */
  records: number;
  /** Records with an error (items skipped by the error policy). */
  errors: number;
  /** Items the flow limit dropped. */
  flowDropped: number;
  /** Items the task took in and answered with nothing (forecasts before the window is full). */
  passedOver: number;
  /** Retries made (attempts after the first). */
  retries: number;
}

/** A new set of zeroed counters. */
export const newCounters = (): StageCounters => ({
  records: 0,
  errors: 0,
  flowDropped: 0,
  passedOver: 0,
  retries: 0,
});

const isRetry = (p: ErrorPolicy): p is Exclude<ErrorPolicy, string> => typeof p === 'object';
const fails = (p: ErrorPolicy): boolean => p === 'fail' || (isRetry(p) && p.otherwise === 'fail');

/** Options of {@link stageOperator}. */
export interface StageOperatorOptions {
  /** The stage's name (records, metrics). */
  readonly name: string;
  readonly spec: StageSpec;
  readonly task: Task;
  /** Where `metrics()` records the stage's figures. */
  readonly registry: PipelineMetrics;
  /** Filled as the stage runs. */
  readonly counters: StageCounters;
}

/**
 * Failed items retried alone (a fresh run of the task for the one item, wrapped in the
 * core's `retrying()` with the file's back-off), in order; what still fails keeps its error
 * and the number of attempts made.
 */
function retryFailed(
  task: Task,
  policy: Exclude<ErrorPolicy, string>,
  counters: StageCounters,
): OperatorFunction<Outcome, Outcome> {
  const { retries, backoffMs, factor, maxBackoffMs } = policy.retry;
  return mapConcurrent({
    concurrency: 1,
    project: async (outcome, _index, signal) => {
      if (!outcome.error || retries === 0) return outcome;
      let attempts = 1;
      const again = retrying(
        async (item: PipelineItem) => {
          attempts++;
          counters.retries++;
          const o = await lastValueFrom(of(item).pipe(task.operator));
          if (o.error) throw o.error;
          return o;
        },
        { retries: retries - 1, backoffMs: backoffMs * factor, factor, maxBackoffMs },
      );
      try {
        // the first attempt was the batched one: wait before the first retry too
        await new Promise((resolve) => setTimeout(resolve, Math.min(backoffMs, maxBackoffMs)));
        return { ...(await again(outcome.item, 0, signal)), attempts };
      } catch (error) {
        return { item: outcome.item, error: error instanceof RwkvError ? error : outcome.error, attempts };
      }
    },
  });
}

/**
 * The stage as an operator: each item is stamped on arrival, queued by `flow` (when set),
 * run by the task, retried by `onError` (when a retry), measured by `metrics()` (items in,
 * results out, items passed over or dropped, errors, queue depth, latency), and made a
 * record. With `onError: fail` (or retries ending in `fail`) the first failed item ends the
 * stream with a {@link StageFailedError}.
 */
export function stageOperator(options: StageOperatorOptions): OperatorFunction<PipelineItem, PipelineRecord> {
  const { name, spec, task, registry, counters } = options;
  const policy = spec.onError;
  return (items) =>
    defer(() => {
      const received = new Map<PipelineItem, { wall: number; mono: number }>();
      let inner: OperatorFunction<PipelineItem, Outcome> = task.operator;
      if (isRetry(policy)) inner = pipe(task.operator, retryFailed(task, policy, counters));
      const limited = spec.flow
        ? limitFlow(inner, {
            capacity: spec.flow.capacity,
            policy: spec.flow.policy,
            maxInFlight: spec.flow.maxInFlight ?? task.batchSize,
            onDrop: (item) => {
              counters.flowDropped++;
              received.delete(item);
            },
          })
        : inner;
      const measured = metrics(
        registry,
        name,
        pipe(
          limited,
          filter((o) => {
            if (!o.none) return true;
            counters.passedOver++;
            received.delete(o.item);
            return false;
          }),
          tap((o) => {
            if (o.error && fails(policy)) throw new StageFailedError(name, o.item.id, o.error);
          }),
        ),
        // results are matched with their items (not counted one for one): items dropped or
        // passed over count as dropped by the stage, and latency stays right
        { match: { item: (item: PipelineItem) => item, result: (o: Outcome) => o.item } },
      );
      return items.pipe(
        tap((item) => received.set(item, { wall: Date.now(), mono: performance.now() })),
        measured,
        map((o): PipelineRecord => {
          const at = received.get(o.item);
          received.delete(o.item);
          const now = performance.now();
          counters.records++;
          if (o.error) counters.errors++;
          return {
            stage: name,
            task: spec.task,
            id: o.item.id,
            index: o.item.index,
            startedAt: new Date(at?.wall ?? Date.now()).toISOString(),
            finishedAt: new Date().toISOString(),
            latencyMs: Math.round((now - (at?.mono ?? now)) * 1000) / 1000,
            ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
            ...(o.error
              ? { error: { code: o.error.code, message: o.error.message } }
              : { result: o.result ?? {} }),
          };
        }),
      );
    });
}
