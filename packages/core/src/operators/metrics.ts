import { defer, finalize, type Observable, type OperatorFunction, tap } from 'rxjs';
import type { PipelineMetrics } from './pipeline-metrics.js';

/** Options of {@link metrics}. */
export interface MetricsOptions<T = unknown, R = unknown> {
  /**
   * Whether the stage emits exactly one result per item, in order (default `true`: then
   * each result is matched with its item for latency, and in-flight items are the queue
   * depth). For stages that emit several results or none per item (say, partial
   * transcripts), set `false`: items in and out and throughput are still counted.
   */
  readonly oneToOne?: boolean;
  /**
   * Matches results with items by key, for stages that answer some items with nothing
   * (a rolling forecast before its window is full, a filter): results must come in the
   * items' order; items passed over by a later item's result count as dropped. Latency and
   * queue depth then hold for such stages too. Overrides `oneToOne`.
   */
  readonly match?: { readonly item: (item: T) => unknown; readonly result: (result: R) => unknown };
}

/**
 * Measures a pipeline stage: `source.pipe(metrics(registry, 'classify', classify(...)))`
 * runs `stage` and records, under the stage's name, every item in and result out (with
 * the item's latency through the stage), the errors the stage ends with, and how many
 * items are inside it at once. Items still inside when the stream errors or is
 * unsubscribed count as dropped. Read the figures from the registry
 * ({@link PipelineMetrics.snapshot}, {@link PipelineMetrics.toPrometheus}).
 */
export function metrics<T, R>(
  registry: PipelineMetrics,
  stage: string,
  operator: OperatorFunction<T, R>,
  options: MetricsOptions<T, R> = {},
): OperatorFunction<T, R> {
  const rec = registry.stage(stage);
  const { match } = options;
  const oneToOne = !match && (options.oneToOne ?? true);
  return (source: Observable<T>) =>
    defer(() => {
      // entry times of the items not yet answered, oldest first (one per subscription)
      const entered: number[] = [];
      const byKey = new Map<unknown, number>();
      const answer = (result: R): number | undefined => {
        if (oneToOne) return entered.shift();
        if (!match) return undefined;
        const key = match.result(result);
        if (!byKey.has(key)) return undefined;
        // items before this one that got no result were dropped by the stage
        for (const [k, t] of byKey) {
          byKey.delete(k);
          if (k === key) return t;
          rec.dropped++;
        }
        return undefined;
      };
      const abandon = () => {
        rec.dropped += oneToOne ? entered.length : byKey.size;
        entered.length = 0;
        byKey.clear();
      };
      return source.pipe(
        tap((item) => {
          const t = rec.enter();
          if (oneToOne) entered.push(t);
          else if (match) byKey.set(match.item(item), t);
        }),
        operator,
        // Items still inside when the stream ends (the stage completed or failed without
        // answering them, or the consumer unsubscribed) will never be answered: they count
        // dropped, so the queue depth stays true when one registry measures many short streams
        // (one per request). Done before completion or the error reaches the consumer, so a
        // snapshot taken there is already right.
        tap({
          next: (result) => rec.leave(answer(result)),
          error: () => {
            rec.errors++;
            abandon();
          },
          complete: abandon,
        }),
        finalize(abandon),
      );
    });
}
