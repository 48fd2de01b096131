import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { checkCount, checkDelay, checkOptions } from './internal.js';

/** Options of {@link batchItems}. */
export interface BatchItemsOptions {
  /**
   * The most items in one batch: a batch is emitted as soon as it holds this many.
   * An integer >= 1, or `Infinity` (batches are then closed only by time and completion).
   */
  readonly maxBatchSize: number;
  /**
   * The longest a batch stays open, in milliseconds, counted from the arrival of its
   * first item. A number >= 0, or `Infinity` (batches are then closed only by size and
   * completion). With `0`, the items that arrive in one synchronous run are batched
   * together (the batch closes on the next turn of the scheduler).
   */
  readonly maxLatencyMs: number;
  /** Where the latency timer runs. Default `asyncScheduler` (so `TestScheduler.run` virtualises it). */
  readonly scheduler?: SchedulerLike;
}

/**
 * Groups the items of the source into arrays. A batch is emitted when it is full
 * (`maxBatchSize` items) or when `maxLatencyMs` have passed since its first item,
 * whichever comes first; no empty batch is ever emitted.
 *
 * - **Completion**: the open batch (if any) is emitted, then the output completes.
 * - **Errors**: the error is forwarded at once; the items of the open batch are dropped
 *   (as with RxJS's `bufferCount` and `bufferTime`).
 * - **Timers**: at most one timer is pending (the open batch's); it is cancelled when
 *   the batch is emitted and on completion, error and unsubscribe, so nothing is left
 *   scheduled afterwards.
 * - **Re-entrancy**: the batch being emitted is detached first, so items that a
 *   subscriber pushes into the source while receiving a batch start the next batch.
 *
 * @example
 * ```ts
 * // Frames from a camera, fed to the encoder 8 at a time, never waiting more than 20 ms.
 * frames$.pipe(
 *   batchItems({ maxBatchSize: 8, maxLatencyMs: 20 }),
 *   mergeMap((frames) => encoder.encode(frames), 1),
 * );
 * ```
 *
 * @param options - See {@link BatchItemsOptions}.
 * @throws {@link BadInputError} when `maxBatchSize` is not an integer >= 1 or `Infinity`,
 *   or `maxLatencyMs` is negative or `NaN`.
 */
export function batchItems<T>(options: BatchItemsOptions): OperatorFunction<T, T[]> {
  checkOptions('batchItems', options);
  const maxBatchSize = checkCount('batchItems', 'maxBatchSize', options.maxBatchSize);
  const maxLatencyMs = checkDelay('batchItems', 'maxLatencyMs', options.maxLatencyMs);
  const scheduler = options.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;

      const cancelTimer = (): void => {
        if (timer !== undefined) {
          const t = timer;
          timer = undefined;
          t.unsubscribe();
        }
      };

      const emit = (): void => {
        cancelTimer();
        const full = batch;
        batch = [];
        if (full.length > 0) subscriber.next(full);
      };

      const subscription = source.subscribe({
        next: (item) => {
          batch.push(item);
          if (batch.length >= maxBatchSize) {
            emit();
          } else if (batch.length === 1 && maxLatencyMs !== Number.POSITIVE_INFINITY) {
            timer = scheduler.schedule(() => {
              timer = undefined;
              emit();
            }, maxLatencyMs);
          }
        },
        error: (error: unknown) => {
          cancelTimer();
          batch = [];
          subscriber.error(error);
        },
        complete: () => {
          emit();
          subscriber.complete();
        },
      });

      return () => {
        cancelTimer();
        batch = [];
        subscription.unsubscribe();
      };
    });
}
