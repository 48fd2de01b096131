import { defer, type Observable, type OperatorFunction, tap } from 'rxjs';
import type { PipelineMetrics } from './pipeline-metrics.js';

/** Options of {@link metrics}. */
export interface MetricsOptions {
  /**
   * Whether the stage emits exactly one result per item, in order (default `true`: then
   * each result is matched with its item for latency, and in-flight items are the queue
   * depth). For stages that emit several results or none per item (say, partial
   * transcripts), set `false`: items in and out and throughput are still counted.
   */
  readonly oneToOne?: boolean;
}

/**
 * Measures a pipeline stage: `source.pipe(metrics(registry, 'classify', classify(...)))`
 * runs `stage` and records, under the stage's name, every item in and result out (with
 * the item's latency through the stage), the errors the stage ends with, and how many
 * items are inside it at once. Read the figures from the registry
 * ({@link PipelineMetrics.snapshot}, {@link PipelineMetrics.toPrometheus}).
 */
export function metrics<T, R>(
  registry: PipelineMetrics,
  stage: string,
  operator: OperatorFunction<T, R>,
  options: MetricsOptions = {},
): OperatorFunction<T, R> {
  const rec = registry.stage(stage);
  const oneToOne = options.oneToOne ?? true;
  return (source: Observable<T>) =>
    defer(() => {
      // entry times of the items not yet answered, oldest first (one FIFO per subscription)
      const entered: number[] = [];
      return source.pipe(
        tap(() => {
          const t = rec.enter();
          if (oneToOne) entered.push(t);
        }),
        operator,
        tap({
          next: () => rec.leave(oneToOne ? entered.shift() : undefined),
          error: () => {
            rec.errors++;
          },
        }),
      );
    });
}
