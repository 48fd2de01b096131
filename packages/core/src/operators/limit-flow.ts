import { Observable, type OperatorFunction, Subject } from 'rxjs';
import { BadInputError } from '../errors.js';
import { checkCount } from './internal.js';

/** What {@link limitFlow} does with an item that arrives while its queue is full. */
export type FlowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

/** Options of {@link limitFlow}. */
export interface LimitFlowOptions<T> {
  /** Items waiting for the stage at most (an integer >= 0; 0: none wait). */
  readonly capacity: number;
  /**
   * When the queue is full: `'drop-oldest'` (the longest-waiting item makes room: live
   * video, sensors, where the latest matters), `'drop-newest'` (the arriving item is
   * dropped: keep what was accepted), or `'error'` (the stream fails with a typed error:
   * when nothing may be lost). A push source cannot be paused, so "block" is not offered:
   * pull a source at the stage's pace instead (e.g. read a file chunk by chunk in a
   * `concatMap`), or give it room with a larger capacity.
   */
  readonly policy: FlowPolicy;
  /** Items inside the stage at once (default 1). The stage must give one result per item. */
  readonly maxInFlight?: number;
  /** Called with each dropped item (to count, log or release it). */
  readonly onDrop?: (item: T) => void;
}

/**
 * Puts a bounded queue in front of a stage that may be slower than its source: at most
 * `maxInFlight` items are inside `stage` at once, at most `capacity` wait, and what arrives
 * beyond that follows `policy`. The stage must answer each item with exactly one result
 * (as classify(), segment() and forecasts do); results come out as the stage emits them.
 */
export function limitFlow<T, R>(
  stage: OperatorFunction<T, R>,
  options: LimitFlowOptions<T>,
): OperatorFunction<T, R> {
  const { capacity, policy, onDrop } = options;
  if (!Number.isInteger(capacity) || capacity < 0)
    throw new BadInputError(`limitFlow: capacity must be an integer >= 0, got ${String(capacity)}`, {
      field: 'capacity',
    });
  if (!['drop-oldest', 'drop-newest', 'error'].includes(policy))
    throw new BadInputError(
      `limitFlow: policy must be 'drop-oldest', 'drop-newest' or 'error', got '${String(policy)}'`,
      {
        field: 'policy',
      },
    );
  const maxInFlight = checkCount('limitFlow', 'maxInFlight', options.maxInFlight ?? 1);
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue: T[] = [];
      const into = new Subject<T>();
      let inFlight = 0;
      let sourceDone = false;
      let pumping = false;
      const finishIfDone = () => {
        if (sourceDone && queue.length === 0 && !into.closed) into.complete();
      };
      const pump = () => {
        if (pumping) return; // a stage that answers synchronously re-enters here
        pumping = true;
        while (inFlight < maxInFlight && queue.length > 0) {
          inFlight++;
          into.next(queue.shift()!);
        }
        pumping = false;
        finishIfDone();
      };
      const out = into.pipe(stage).subscribe({
        next: (r) => {
          inFlight--;
          subscriber.next(r);
          pump();
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      const input = source.subscribe({
        next: (item) => {
          if (inFlight < maxInFlight && queue.length === 0 && !pumping) {
            queue.push(item);
            pump();
            return;
          }
          if (queue.length < capacity) {
            queue.push(item);
            return;
          }
          if (policy === 'error') {
            subscriber.error(
              new BadInputError(
                `limitFlow: ${capacity} items wait and ${inFlight} are inside the stage; another arrived (policy 'error')`,
                { field: 'capacity' },
              ),
            );
            return;
          }
          if (policy === 'drop-newest' || capacity === 0) {
            onDrop?.(item);
            return;
          }
          // shift before the call: `onDrop?.(queue.shift())` would skip the shift without onDrop
          const oldest = queue.shift()!;
          onDrop?.(oldest);
          queue.push(item);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          sourceDone = true;
          finishIfDone();
        },
      });
      return () => {
        input.unsubscribe();
        out.unsubscribe();
      };
    });
}
